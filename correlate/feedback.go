package correlate

import (
	"errors"
	"fmt"
	"time"

	"github.com/quellhq/quell"
)

// Why feedback does not apply: ErrNoChange, it asks for what already
// holds (an incident acknowledged or resolved before), nothing is decided
// or taught; ErrUnknown, it names an incident or alert the engine does not
// track; ErrConflict, the incidents are not in a state it applies to.
var (
	ErrNoChange = errors.New("nothing to change")
	ErrUnknown  = errors.New("not tracked")
	ErrConflict = errors.New("not in a state the action applies to")
)

// Feedback applies a person's acknowledgement or correction at f.At, as
// decisions naming f.Actor, and returns the incident it leaves the alerts
// in (the merge's survivor, the move's destination). A merge or a move also
// teaches the engine (see teach.go): the same alerts later group as the
// person said. It returns an error, and changes nothing, when f cannot
// apply to the incidents as they are; the same input refuses the same
// feedback again, so journals and replays stay deterministic.
func (e *Engine) Feedback(f *quell.Feedback) (string, error) {
	if err := f.Validate(); err != nil {
		return "", err
	}
	e.Advance(f.At)
	at := f.At
	if at.Before(e.now) {
		at = e.now // as Process: decided now, never in the past
	}
	by := " by " + f.Actor
	if f.Via != "" {
		by += " in " + f.Via
	}
	if f.Comment != "" {
		by += ": " + f.Comment
	}
	switch f.Action {
	case quell.FeedbackAcknowledge:
		inc, err := e.target(f.Incident)
		if err != nil {
			return "", err
		}
		if !inc.ackedAt.IsZero() {
			return inc.id, fmt.Errorf("incident %s was acknowledged by %s at %s: %w", inc.id, inc.ackedBy, inc.ackedAt.Format(time.RFC3339), ErrNoChange)
		}
		e.changedIncident(inc)
		inc.ackedAt, inc.ackedBy = at, f.Actor
		inc.updated = at
		e.change(inc, quell.IncidentUpdated, at)
		e.record(quell.Decision{Action: quell.ActionAcknowledged, Reason: "acknowledged" + by, At: at, Actor: f.Actor, Via: f.Via}, inc)
		return inc.id, nil
	case quell.FeedbackAssign:
		inc, err := e.target(f.Incident)
		if err != nil {
			return "", err
		}
		if inc.assignedTo == f.Assignee {
			return inc.id, fmt.Errorf("incident %s is assigned to %s: %w", inc.id, inc.assignedTo, ErrNoChange)
		}
		e.changedIncident(inc)
		inc.assignedTo, inc.updated = f.Assignee, at
		e.change(inc, quell.IncidentUpdated, at)
		e.record(quell.Decision{Action: quell.ActionAssigned, Reason: "assigned to " + f.Assignee + by, At: at, Actor: f.Actor, Via: f.Via}, inc)
		return inc.id, nil
	case quell.FeedbackResolve:
		inc, err := e.target(f.Incident)
		if err != nil {
			return "", err
		}
		if inc.status == quell.IncidentResolved {
			return inc.id, fmt.Errorf("incident %s resolved at %s: %w", inc.id, inc.resolvedAt.Format(time.RFC3339), ErrNoChange)
		}
		e.resolve(inc, at, f.Actor)
		e.record(quell.Decision{Action: quell.ActionResolved, At: at, Actor: f.Actor, Via: f.Via,
			Reason: "resolved" + by + "; alerts still firing stay with it until they resolve"}, inc)
		return inc.id, nil
	case quell.FeedbackMerge:
		return e.mergeBy(f, at, by)
	}
	return e.moveBy(f, at, by)
}

// target finds an incident feedback names: one the engine tracks and that
// has not merged away.
func (e *Engine) target(id string) (*incident, error) {
	inc := e.incidents[id]
	if inc == nil {
		return nil, fmt.Errorf("no incident %s among those the correlator tracks (open, or resolved within the reopen window): %w", id, ErrUnknown)
	}
	return inc, nil
}

// mergeBy merges f.Incident into f.Into: the first's alerts join the
// second, the first resolves as its duplicate.
func (e *Engine) mergeBy(f *quell.Feedback, at time.Time, by string) (string, error) {
	src, err := e.target(f.Incident)
	if err != nil {
		return "", err
	}
	dst, err := e.target(f.Into)
	if err != nil {
		return "", err
	}
	if src.status != quell.IncidentOpen || dst.status != quell.IncidentOpen {
		return "", fmt.Errorf("incident %s is %s and %s is %s: only open incidents merge: %w", src.id, src.status, dst.id, dst.status, ErrConflict)
	}
	e.teach(src.signatures(), dst.signatures(), true)
	reason := "merged from incident " + src.id + " into " + dst.id + by
	order := src.order
	e.merge(dst, src, at, reason)
	if src.announced {
		e.changedIncident(src)
		src.status, src.resolvedAt, src.resolvedBy, src.updated = quell.IncidentResolved, at, f.Actor, at
		src.dirty = false
		e.emitChange(src, quell.IncidentMerged, at)
	}
	for _, fp := range order {
		if m := dst.members[fp]; m != nil {
			m.Reason = reason // why it is here now
			e.record(quell.Decision{Alert: *memberAlert(m), Action: quell.ActionMerged, Reason: reason, At: at, Actor: f.Actor, Via: f.Via}, dst)
		}
	}
	return dst.id, nil
}

// moveBy moves alert f.Alert out of its incident into f.To, or into an
// incident of its own.
func (e *Engine) moveBy(f *quell.Feedback, at time.Time, by string) (string, error) {
	cur := e.incidentOf(f.Alert)
	if cur == nil || cur.members[f.Alert] == nil {
		return "", fmt.Errorf("alert %s is in no incident the correlator tracks: %w", f.Alert, ErrUnknown)
	}
	in := e.infos[f.Alert]
	var dst *incident
	if f.To != quell.MoveToNew {
		var err error
		if dst, err = e.target(f.To); err != nil {
			return "", err
		}
		switch {
		case dst == cur:
			return cur.id, fmt.Errorf("alert %s is in incident %s already: %w", f.Alert, cur.id, ErrNoChange)
		case dst.status != quell.IncidentOpen:
			return "", fmt.Errorf("incident %s is %s: alerts move into open incidents only: %w", dst.id, dst.status, ErrConflict)
		}
	}
	a := memberAlert(cur.members[f.Alert])
	if in == nil {
		in = e.inspect(a)
	}
	e.teach([]uint64{in.sig}, cur.signatures(), false) // teach skips the alert's own signature
	reason := "moved from incident " + cur.id
	e.remove(cur, f.Alert, at)
	if dst == nil {
		dst = e.newIncident(cur.scope, a, at)
		reason += " to an incident of its own" + by
	} else {
		e.teach([]uint64{in.sig}, dst.signatures(), true)
		reason += " to " + dst.id + by
	}
	e.add(dst, a, at, in, reason)
	e.change(dst, quell.IncidentUpdated, at)
	e.record(quell.Decision{Alert: *a, Action: quell.ActionMoved, Reason: reason, At: at, Actor: f.Actor, Via: f.Via}, dst)
	return dst.id, nil
}

// resolve closes an open incident now: a person said it is over (actor),
// or its alerts stayed resolved for the hold (actor empty).
func (e *Engine) resolve(inc *incident, at time.Time, actor string) {
	e.changedIncident(inc)
	inc.status = quell.IncidentResolved
	inc.resolvedAt, inc.resolvedBy = at, actor
	inc.updated = at
	e.queueEviction(inc) // resolved ones go first
	e.change(inc, quell.IncidentResolve, at)
	e.schedule(timer{at: at.Add(e.cfg.ReopenWindow), kind: timerForget, inc: inc})
}

// memberAlert is the alert a member holds, as decisions carry it, received
// when quell last saw it.
func memberAlert(m *member) *quell.Alert {
	return &quell.Alert{Fingerprint: m.Fingerprint, Source: m.Source, Status: m.Status, Labels: m.Labels,
		Annotations: m.Annotations, StartsAt: m.StartsAt, EndsAt: m.EndsAt, ReceivedAt: m.LastSeen}
}
