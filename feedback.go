package quell

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// FeedbackAction is what a person does to an incident.
type FeedbackAction string

const (
	FeedbackAcknowledge FeedbackAction = "acknowledge" // take it on
	FeedbackMerge       FeedbackAction = "merge"       // it is one problem with Into
	FeedbackMove        FeedbackAction = "move"        // Alert belongs to To ("new": an incident of its own)
	FeedbackResolve     FeedbackAction = "resolve"     // it is over
	FeedbackAssign      FeedbackAction = "assign"      // Assignee has it now (from an ITSM tool)
)

// MoveToNew is the To of a move that gives the alert an incident of its own.
const MoveToNew = "new"

// Feedback is a person's correction or acknowledgement. It travels with
// the alerts (journal, bus) so that a restart or a replay applies it at
// the same point, and the correlator learns from it (see correlate).
type Feedback struct {
	Action   FeedbackAction `json:"action"`
	Incident string         `json:"incident,omitempty"` // acknowledge, merge, resolve: the incident acted on
	Into     string         `json:"into,omitempty"`     // merge: the incident that takes Incident's alerts
	Alert    Fingerprint    `json:"alert,omitempty"`    // move: the alert moved
	To       string         `json:"to,omitempty"`       // move: an incident id, or "new"
	Assignee string         `json:"assignee,omitempty"` // assign: who has it now
	Actor    string         `json:"actor"`
	Comment  string         `json:"comment,omitempty"`
	// Via names the ITSM tool a person acted in (pagerduty, jira,
	// servicenow); empty for quell's API and console.
	Via string    `json:"via,omitempty"`
	At  time.Time `json:"at"`
	// ID tells one request's feedback from another's, so its sender can
	// wait for its outcome.
	ID string `json:"id,omitempty"`
}

// Limits on what a person writes: a name and a sentence or a paragraph.
const (
	MaxActor   = 200
	MaxComment = 4000
)

// Validate checks that f names what its action needs.
func (f *Feedback) Validate() error {
	switch {
	case f.Actor == "":
		return errors.New("actor is required: who is acting")
	case len(f.Actor) > MaxActor || !utf8.ValidString(f.Actor):
		return fmt.Errorf("actor must be valid UTF-8 of at most %d bytes", MaxActor)
	case len(f.Comment) > MaxComment || !utf8.ValidString(f.Comment):
		return fmt.Errorf("comment must be valid UTF-8 of at most %d bytes", MaxComment)
	}
	switch f.Action {
	case FeedbackAcknowledge, FeedbackResolve:
		if f.Incident == "" {
			return fmt.Errorf("%s needs an incident", f.Action)
		}
	case FeedbackAssign:
		if f.Incident == "" || f.Assignee == "" {
			return errors.New("assign needs an incident and an assignee")
		}
	case FeedbackMerge:
		switch {
		case f.Incident == "" || f.Into == "":
			return errors.New(`merge needs an incident and "into": the incident that takes its alerts`)
		case f.Incident == f.Into:
			return errors.New("an incident cannot be merged into itself")
		}
	case FeedbackMove:
		if f.Alert == 0 || f.To == "" {
			return errors.New(`move needs an alert fingerprint and "to": an incident id or "new"`)
		}
	default:
		return fmt.Errorf("unknown action %q: acknowledge, merge, move, resolve or assign", f.Action)
	}
	return nil
}
