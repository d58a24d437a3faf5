package silence

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // weekly windows name zones; a container image has no zone files

	"github.com/prometheus/alertmanager/pkg/labels"
)

// Config is a silence from the configuration file (itsm.silences): active
// always, or between StartsAt and EndsAt, or in a weekly window, or both (a
// maintenance window).
type Config struct {
	Name string `yaml:"name"`
	// Matchers in Alertmanager's syntax, e.g. {env="staging", alertname=~"Disk.*"}.
	Matchers string    `yaml:"matchers"`
	StartsAt time.Time `yaml:"starts_at"`
	EndsAt   time.Time `yaml:"ends_at"`
	Weekly   *Weekly   `yaml:"weekly"`
}

// Weekly repeats a window every week on the given days.
type Weekly struct {
	// Days are mon, tue, wed, thu, fri, sat, sun.
	Days []string `yaml:"days"`
	// Start is the local time the window opens, as 15:04.
	Start    string        `yaml:"start"`
	Duration time.Duration `yaml:"duration"`
	// TimeZone is an IANA name such as Europe/Berlin (default UTC).
	TimeZone string `yaml:"time_zone"`
}

type weekly struct {
	days         [7]bool
	hour, minute int
	dur          time.Duration
	loc          *time.Location
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func (c Config) compile() (*Silence, error) {
	ms, err := labels.ParseMatchers(c.Matchers)
	if err != nil {
		return nil, fmt.Errorf("matchers: %w", err)
	}
	if len(ms) == 0 {
		return nil, errors.New(`matchers: at least one matcher is required, e.g. {env="staging"}`)
	}
	if !c.EndsAt.IsZero() && !c.EndsAt.After(c.StartsAt) {
		return nil, errors.New("ends_at: must be after starts_at")
	}
	s := &Silence{Matchers: ms, StartsAt: c.StartsAt, EndsAt: c.EndsAt, CreatedBy: "configuration", Comment: c.Name}
	if s.Comment == "" {
		s.Comment = c.Matchers
	}
	if c.Weekly != nil {
		if s.weekly, err = c.Weekly.compile(); err != nil {
			return nil, fmt.Errorf("weekly.%w", err)
		}
	}
	return s, nil
}

func (c Weekly) compile() (*weekly, error) {
	w := &weekly{dur: c.Duration, loc: time.UTC}
	if len(c.Days) == 0 {
		return nil, errors.New("days: name at least one day (mon ... sun)")
	}
	for _, d := range c.Days {
		i := slices.Index(weekdays, strings.ToLower(d))
		if i < 0 {
			return nil, fmt.Errorf("days: %q is not one of mon, tue, wed, thu, fri, sat, sun", d)
		}
		w.days[i] = true
	}
	t, err := time.Parse("15:04", c.Start)
	if err != nil {
		return nil, fmt.Errorf("start: %q is not a time of day such as 22:00", c.Start)
	}
	w.hour, w.minute = t.Hour(), t.Minute()
	if w.dur <= 0 || w.dur > 7*24*time.Hour {
		return nil, fmt.Errorf("duration: %s must be more than 0 and at most a week (168h)", w.dur)
	}
	if c.TimeZone != "" {
		if w.loc, err = time.LoadLocation(c.TimeZone); err != nil {
			return nil, fmt.Errorf("time_zone: %w", err)
		}
	}
	return w, nil
}

// active looks back over the last week's starts, since a window may
// reach past midnight or span days.
func (w *weekly) active(t time.Time) bool {
	local := t.In(w.loc)
	y, m, d := local.Date()
	for back := 0; back <= 7; back++ {
		// time.Date, not midnight plus an offset: right across DST changes.
		start := time.Date(y, m, d-back, w.hour, w.minute, 0, 0, w.loc)
		if !w.days[start.Weekday()] {
			continue
		}
		if !t.Before(start) && t.Before(start.Add(w.dur)) {
			return true
		}
	}
	return false
}
