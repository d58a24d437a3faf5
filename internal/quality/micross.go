package quality

import (
	"bytes"
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/quellhq/quell/correlate"
)

// data holds MicroSS, the microservice system of the GAIA data set, as
// boerste/rca-llm-reasoning extracted its fault-labelled alerts (MIT, see
// data/LICENSE and data/README.md).
//
//go:embed data
var data embed.FS

// MicroSS loads the real fault-labelled alerts of MicroSS with its topology,
// as faultalerts.py events() reads them, with overlay faults at once
// (1: one after another).
func MicroSS(overlay int) (Set, error) {
	return load("MicroSS", overlay)
}

func load(system string, overlay int) (Set, error) {
	s := Set{Data: system, Family: "real", Overlay: overlay}
	read := func(name string, v any) error {
		b, err := data.ReadFile(path.Join("data", system, name))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%s/%s: %w", system, name, err)
		}
		return nil
	}
	faults, err := readFaults(system)
	if err != nil {
		return s, err
	}
	var metrics map[string][][5]string
	var traces map[string][][5]string
	var logs map[string][]json.RawMessage
	if err := read("metrics.json", &metrics); err != nil {
		return s, err
	}
	if err := read("traces.json", &traces); err != nil {
		return s, err
	}
	if err := read("logs.json", &logs); err != nil {
		return s, err
	}
	for _, f := range faults {
		id := f.id
		for n, m := range metrics[id] {
			ts, err := strconv.ParseInt(m[0], 10, 64)
			if err != nil {
				return s, fmt.Errorf("%s metrics[%s][%d]: %w", system, id, n, err)
			}
			l := map[string]string{"alertname": "MetricAnomaly", "service": m[1], "metric": m[3], "direction": m[4], "severity": "warning"}
			if m[2] != "" {
				l["instance"] = m[2]
			}
			s.Events = append(s.Events, Event{ts, id, fmt.Sprintf("%s:m:%d", id, n), l, m[3] + " went " + m[4] + " on " + m[1]})
		}
		for n, t := range traces[id] {
			ts, err := strconv.ParseInt(t[0], 10, 64)
			if err != nil {
				return s, fmt.Errorf("%s traces[%s][%d]: %w", system, id, n, err)
			}
			l := map[string]string{"alertname": "TraceAnomaly", "service": t[1], "peer_service": t[2], "operation": t[3], "kind": t[4], "severity": "warning"}
			s.Events = append(s.Events, Event{ts, id, fmt.Sprintf("%s:t:%d", id, n), l, t[4] + " on calls " + t[1] + " -> " + t[2] + " " + t[3]})
		}
		for n, raw := range logs[id] {
			var item []json.RawMessage
			var svc string
			var lines []string
			if json.Unmarshal(raw, &item) != nil || len(item) < 3 || json.Unmarshal(item[0], &svc) != nil || json.Unmarshal(item[2], &lines) != nil {
				return s, fmt.Errorf("%s logs[%s][%d]: want [service, count, [lines]]", system, id, n)
			}
			ts, ok := int64(0), false
			for _, line := range lines {
				if ts, ok = logTime(line); ok {
					break
				}
			}
			if !ok || len(lines) == 0 {
				continue
			}
			parts := strings.Split(lines[0], "|")
			msg := []rune(strings.TrimSpace(parts[len(parts)-1]))
			msg = msg[:min(len(msg), 200)]
			l := map[string]string{"alertname": "LogErrorBurst", "service": svc, "severity": "warning"}
			s.Events = append(s.Events, Event{ts, id, fmt.Sprintf("%s:l:%d", id, n), l, string(msg)})
		}
	}
	if overlay > 1 {
		overlaid(s.Events, faults, overlay)
	}
	sortEvents(s.Events)
	kg, err := data.ReadFile(path.Join("data", system, "kg.json"))
	if err != nil {
		return s, err
	}
	s.Topology, err = correlate.ParseTopology(bytes.NewReader(kg))
	return s, err
}

type fault struct{ id, entity string }

// readFaults reads label.csv, in fault id order.
func readFaults(system string) ([]fault, error) {
	b, err := data.ReadFile(path.Join("data", system, "label.csv"))
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) < 1 {
		return nil, fmt.Errorf("%s/label.csv: %v", system, err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var out []fault
	for _, r := range rows[1:] {
		out = append(out, fault{r[col["fault_id"]], r[col["fault_entity"]]})
	}
	// label.csv lists faults by numeric id; keep that order whatever the file says.
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && num(out[j].id) < num(out[j-1].id); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

var logStamp = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[.,](\d{3})`)

// logTime reads a log line's timestamp: the collectors' local time, UTC+8.
func logTime(line string) (int64, bool) {
	m := logStamp.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05", m[1], time.FixedZone("UTC+8", 8*3600))
	if err != nil {
		return 0, false
	}
	ms, _ := strconv.Atoi(m[2])
	return t.UnixMilli() + int64(ms), true
}

// overlaid packs faults on distinct entities into rounds of k that start
// 37 s apart, three hours between rounds (faultalerts.py overlaid).
func overlaid(evs []Event, faults []fault, k int) {
	first := map[string]int64{}
	for _, e := range evs {
		if t, ok := first[e.Fault]; !ok || e.At < t {
			first[e.Fault] = e.At
		}
	}
	var pending []fault
	base := int64(-1)
	for _, f := range faults {
		if t, ok := first[f.id]; ok {
			pending = append(pending, f)
			if base < 0 || t < base {
				base = t
			}
		}
	}
	shift := map[string]int64{}
	for rnd := int64(0); len(pending) > 0; rnd++ {
		used := map[string]bool{}
		var batch, rest []fault
		for _, f := range pending {
			if !used[f.entity] && len(batch) < k {
				batch = append(batch, f)
				used[f.entity] = true
			} else {
				rest = append(rest, f)
			}
		}
		pending = rest
		start := base + rnd*3*3600*1000
		for i, f := range batch {
			shift[f.id] = start + int64(i)*37_000 - first[f.id]
		}
	}
	for i := range evs {
		evs[i].At += shift[evs[i].Fault]
	}
}
