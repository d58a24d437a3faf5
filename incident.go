package quell

import (
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
)

// IncidentStatus is where an incident is in its lifecycle.
type IncidentStatus string

const (
	IncidentOpen     IncidentStatus = "open"
	IncidentResolved IncidentStatus = "resolved"
)

// Incident is a group of alerts that quell believes share one cause.
type Incident struct {
	ID         string         `json:"id"`
	Status     IncidentStatus `json:"status"`
	Title      string         `json:"title"`
	Severity   Severity       `json:"severity"`
	CreatedAt  time.Time      `json:"createdAt"`
	UpdatedAt  time.Time      `json:"updatedAt"`
	ResolvedAt time.Time      `json:"resolvedAt"`
	// ResolvedBy names the person who resolved it (feedback); empty when
	// its alerts did.
	ResolvedBy string `json:"resolvedBy,omitempty"`
	// AcknowledgedAt and AcknowledgedBy: someone took it on.
	AcknowledgedAt time.Time `json:"acknowledgedAt,omitzero"`
	AcknowledgedBy string    `json:"acknowledgedBy,omitempty"`
	// AssignedTo: who has it in the ITSM tool that last said so.
	AssignedTo string `json:"assignedTo,omitempty"`
	// MergedInto: a person merged it into that incident, which holds its
	// alerts now; it takes no more.
	MergedInto string `json:"mergedInto,omitempty"`
	// Evicted: the correlator dropped it to stay within its memory bound
	// (status resolved, at the eviction); it takes no more alerts.
	Evicted bool `json:"evicted,omitempty"`
	// Resolving: every alert resolved, and the incident closes at ClosesAt
	// unless one fires again (correlate.resolve_hold).
	Resolving bool      `json:"resolving,omitempty"`
	ClosesAt  time.Time `json:"closesAt,omitzero"`
	// Runbooks are the alerts' runbook_url annotations, each once.
	Runbooks []string `json:"runbooks,omitempty"`
	// Recurrence: earlier incidents of the same kind, where quell keeps
	// history (see package history).
	Recurrence *Recurrence     `json:"recurrence,omitempty"`
	Alerts     []IncidentAlert `json:"alerts"`
}

// Recurrence says an incident happened before: Seen earlier incidents
// had its signature (the same alert names about the same kinds of
// entity), the last of them Last, resolved at LastResolvedAt, by
// LastResolvedBy when a person resolved it.
type Recurrence struct {
	Signature      string    `json:"signature"`
	Seen           int       `json:"seen"`
	Last           string    `json:"last"`
	LastResolvedAt time.Time `json:"lastResolvedAt"`
	LastResolvedBy string    `json:"lastResolvedBy,omitempty"`
}

// IncidentAlert is one member alert as the incident sees it.
type IncidentAlert struct {
	Fingerprint Fingerprint       `json:"fingerprint"`
	Source      string            `json:"source"`
	Status      Status            `json:"status"`
	Labels      map[string]string `json:"labels"`
	// Annotations say what is wrong (summary, description, runbook_url).
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	// Count is how many occurrences (repeats included) this alert had.
	Count    int       `json:"count"`
	LastSeen time.Time `json:"lastSeen"`
	Flapping bool      `json:"flapping,omitempty"`
	// Reason is why the alert joined the incident.
	Reason string `json:"reason"`
}

// Action is what the correlator did with one alert occurrence.
type Action string

const (
	ActionCreated      Action = "created"      // the alert opened a new incident
	ActionJoined       Action = "joined"       // the alert joined an existing incident
	ActionDeduplicated Action = "deduplicated" // a repeat of an alert that already fires
	ActionResolved     Action = "resolved"     // the alert resolved
	ActionSuppressed   Action = "suppressed"   // recorded, but kept from changing any incident (flapping, unknown resolve)
	// A person's feedback (see Feedback): each names its actor.
	ActionAcknowledged Action = "acknowledged" // someone took the incident on
	ActionMerged       Action = "merged"       // the alert's incident was merged into another
	ActionMoved        Action = "moved"        // the alert was moved to another or a new incident
	ActionAssigned     Action = "assigned"     // the incident was assigned to someone in an ITSM tool
)

// Decision is one record of the decision log: every alert occurrence gets
// exactly one, naming the incident it landed in and why. A person's
// feedback gets one per alert it moved (merged, moved) or one for the
// incident (acknowledged, resolved: Alert is then empty), naming the Actor.
type Decision struct {
	Alert    Alert     `json:"alert"`
	Incident string    `json:"incident"`
	Action   Action    `json:"action"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor,omitempty"`
	// Via names the ITSM tool the actor acted in (empty: quell itself).
	Via string `json:"via,omitempty"`
}

// Size estimates the bytes a member alert holds in memory (see Alert.Size).
func (m *IncidentAlert) Size() int { return 256 + len(m.Reason) + entriesSize(m.Labels, m.Annotations) }

// Size estimates the bytes a decision holds in memory (see Alert.Size).
func (d *Decision) Size() int { return 128 + len(d.Reason) + len(d.Incident) + d.Alert.Size() }

// ID is the identity of a decision record: a hash of what it says (the
// alert's fingerprint and status, the time, action, incident and reason).
// The correlator is deterministic over its input, so a decision made again
// from the same input has the same ID, and sinks drop it by that.
func (d *Decision) ID() uint64 {
	var h xxhash.Digest
	h.Reset()
	var b [20]byte
	h.Write(strconv.AppendUint(b[:0], uint64(d.Alert.Fingerprint), 16))
	h.Write(strconv.AppendInt(b[:0], d.At.UnixNano(), 10))
	for _, s := range []string{string(d.Alert.Status), string(d.Action), d.Incident, d.Reason} {
		h.WriteString("\xff")
		h.WriteString(s)
	}
	if d.Actor != "" {
		h.WriteString("\xff")
		h.WriteString(d.Actor)
		h.WriteString("\xff")
		h.WriteString(d.Via)
	}
	return h.Sum64()
}

// ChangeKind names what happened to an incident.
type ChangeKind string

const (
	IncidentCreated  ChangeKind = "created"
	IncidentUpdated  ChangeKind = "updated"
	IncidentResolve  ChangeKind = "resolved"
	IncidentReopened ChangeKind = "reopened"
	// IncidentEvicted: the correlator dropped the incident to stay within its
	// memory bound; it takes no more alerts. An incident evicted before it
	// was announced has this change only (resolved, seq 1).
	IncidentEvicted ChangeKind = "evicted"
	// IncidentMerged: a person merged the incident into another (its
	// MergedInto); it is resolved as a duplicate and takes no more alerts.
	IncidentMerged ChangeKind = "merged"
)

// IncidentChange is what sinks receive: the incident as it is after the change.
type IncidentChange struct {
	Kind     ChangeKind `json:"kind"`
	Incident Incident   `json:"incident"`
	// Seq increases with every change of one incident, so receivers can order
	// and de-duplicate redelivered changes.
	Seq uint64    `json:"seq"`
	At  time.Time `json:"at"`
}

// Size estimates the bytes a change holds in memory: its member list (the
// members' labels and annotations are shared with the correlator's state).
func (c *IncidentChange) Size() int {
	return 256 + len(c.Incident.Title) + 256*len(c.Incident.Alerts)
}
