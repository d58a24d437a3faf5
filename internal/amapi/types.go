package amapi

import (
	"fmt"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
)

// The JSON of Alertmanager's v2 API (api/v2/openapi.yaml in Alertmanager's
// repository), as its clients (amtool, Grafana) read and write it.

// amTime is a time as Alertmanager writes it: RFC 3339 with milliseconds.
type amTime time.Time

func (t amTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`), nil
}

func (t *amTime) UnmarshalJSON(b []byte) error {
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = amTime(v)
	return nil
}

type receiver struct {
	Name string `json:"name"`
}

type alertStatus struct {
	State       string   `json:"state"` // active, suppressed, unprocessed
	SilencedBy  []string `json:"silencedBy"`
	InhibitedBy []string `json:"inhibitedBy"`
	MutedBy     []string `json:"mutedBy"`
}

type gettableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     amTime            `json:"startsAt"`
	EndsAt       amTime            `json:"endsAt"`
	UpdatedAt    amTime            `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	Fingerprint  string            `json:"fingerprint"`
	Receivers    []receiver        `json:"receivers"`
	Status       alertStatus       `json:"status"`
}

// alertGroup is what groups writes for an incident, a field at a time so
// that a big incident is never encoded whole.
type alertGroup struct {
	Labels   map[string]string `json:"labels"`
	Receiver receiver          `json:"receiver"`
	Alerts   []gettableAlert   `json:"alerts"`
}

type matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual *bool  `json:"isEqual,omitempty"` // absent: true
}

type silenceBody struct {
	ID        string    `json:"id,omitempty"`
	Matchers  []matcher `json:"matchers"`
	StartsAt  amTime    `json:"startsAt"`
	EndsAt    amTime    `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
}

type gettableSilence struct {
	silenceBody
	Status    silenceStatus `json:"status"`
	UpdatedAt amTime        `json:"updatedAt"`
}

type silenceStatus struct {
	State string `json:"state"`
}

type status struct {
	Cluster     clusterStatus     `json:"cluster"`
	Config      map[string]string `json:"config"`
	Uptime      amTime            `json:"uptime"`
	VersionInfo map[string]string `json:"versionInfo"`
}

type clusterStatus struct {
	Status string `json:"status"`
	Peers  []any  `json:"peers"`
}

// toMatchers turns the API's matchers into Alertmanager's own.
func toMatchers(ms []matcher) (labels.Matchers, error) {
	out := make(labels.Matchers, 0, len(ms))
	for _, m := range ms {
		equal := m.IsEqual == nil || *m.IsEqual
		t := labels.MatchEqual
		switch {
		case m.IsRegex && equal:
			t = labels.MatchRegexp
		case m.IsRegex:
			t = labels.MatchNotRegexp
		case !equal:
			t = labels.MatchNotEqual
		}
		lm, err := labels.NewMatcher(t, m.Name, m.Value)
		if err != nil {
			return nil, fmt.Errorf("matcher %s: %w", m.Name, err)
		}
		out = append(out, lm)
	}
	return out, nil
}

// fromMatchers is toMatchers' inverse.
func fromMatchers(ms labels.Matchers) []matcher {
	out := make([]matcher, len(ms))
	for i, m := range ms {
		equal := m.Type == labels.MatchEqual || m.Type == labels.MatchRegexp
		out[i] = matcher{Name: m.Name, Value: m.Value, IsRegex: m.Type == labels.MatchRegexp || m.Type == labels.MatchNotRegexp, IsEqual: &equal}
	}
	return out
}
