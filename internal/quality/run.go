package quality

import (
	"math"
	"strconv"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/internal/replay"
)

// Result is one set replayed and scored: per event for faults one after
// another, per episode when several run at once (as faultalerts.py is used).
type Result struct {
	Data      string  `json:"data"`
	Family    string  `json:"family"`
	Overlay   int     `json:"overlay"`
	F1        float64 `json:"f1"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	Incidents int     `json:"incidents"`
	Faults    int     `json:"faults"`
	Alerts    int     `json:"alerts"`
}

// Replay runs the set's stream through a correlator with cfg and returns
// every decision, in the order made.
func Replay(s Set, cfg correlate.Config) ([]quell.Decision, error) {
	alerts := Alerts(s.Events, "alertmanager")
	fp := dedupe.NewFingerprinter(nil)
	for i := range alerts {
		alerts[i].Fingerprint = fp.Fingerprint(&alerts[i])
	}
	var ds []quell.Decision
	eng, err := correlate.New(cfg, s.Topology, correlate.Output{Decision: func(d quell.Decision) { ds = append(ds, d) }})
	if err != nil {
		return nil, err
	}
	replay.Run(alerts, nil, eng)
	return ds, nil
}

// Assignments maps each firing event to the incident its decision named.
func Assignments(ds []quell.Decision) map[string]string {
	m := make(map[string]string, len(ds))
	for _, d := range ds {
		if id := d.Alert.Annotations["event_id"]; id != "" && d.Incident != "" {
			m[id] = d.Incident
		}
	}
	return m
}

// Evaluate replays s with cfg and scores it.
func Evaluate(s Set, cfg correlate.Config) (Result, error) {
	ds, err := Replay(s, cfg)
	if err != nil {
		return Result{}, err
	}
	assign := Assignments(ds)
	sc := ScoreAssign(s, assign)
	return Result{Data: s.Data, Family: s.Family, Overlay: s.Overlay, F1: sc.F1, Precision: sc.Precision, Recall: sc.Recall,
		Incidents: sc.Incidents, Faults: sc.Faults, Alerts: len(s.Events)}, nil
}

// Window is the naive baseline: one incident per burst of alerts with no
// quiet gap longer than gap, whatever they are about.
func Window(evs []Event, gap int64) map[string]string {
	m := make(map[string]string, len(evs))
	n, last := 0, int64(math.MinInt64)
	for _, e := range evs {
		if e.At-last > gap {
			n++
		}
		last = e.At
		m[e.ID] = strconv.Itoa(n)
	}
	return m
}

// ScoreAssign scores an assignment as Evaluate does.
func ScoreAssign(s Set, assign map[string]string) Score {
	if s.Overlay > 1 {
		return Episodes(s.Events, assign)
	}
	return Pairwise(assign, Truth(s.Events))
}
