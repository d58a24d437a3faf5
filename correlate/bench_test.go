package correlate

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/bench/cputime"
)

// BenchmarkProcess measures dedupe and correlation as replay runs them:
// alerts pre-parsed and fingerprinted, decisions collected, nothing encoded.
func BenchmarkProcess(b *testing.B) {
	occs := stream(3, 100000)
	alerts := make([]quell.Alert, len(occs))
	ats := make([]time.Time, len(occs))
	for i, o := range occs {
		alerts[i] = alert(o)
		ats[i] = t0.Add(o.at)
	}
	topo := topoForTests(b)
	b.ResetTimer()
	cpu := cputime.Now()
	n := 0
	for b.Loop() {
		decided := 0
		eng, err := New(DefaultConfig(), topo, Output{Decision: func(quell.Decision) { decided++ }})
		if err != nil {
			b.Fatal(err)
		}
		for i := range alerts {
			eng.Process(&alerts[i], ats[i])
		}
		eng.Flush()
		n += len(alerts)
		if decided != len(alerts) {
			b.Fatalf("%d decisions for %d alerts", decided, len(alerts))
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
	b.ReportMetric(float64(n)/(cputime.Now()-cpu).Seconds(), "alerts/cpu-s")
}

// BenchmarkRepeats measures the path most occurrences take: a firing alert
// sent again (Prometheus re-sends every minute), over 1,000 firing alerts.
func BenchmarkRepeats(b *testing.B) {
	alerts := make([]quell.Alert, 1000)
	for i := range alerts {
		alerts[i] = alert(occ{labels: fmt.Sprintf("alertname=A%d,service=s%d,instance=h%d:9100", i%7, i%50, i%13)})
	}
	eng, err := New(DefaultConfig(), nil, Output{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range alerts {
		eng.Process(&alerts[i], t0)
	}
	b.ResetTimer()
	cpu := cputime.Now()
	n := 0
	for b.Loop() {
		at := t0.Add(time.Duration(n/len(alerts)) * time.Millisecond)
		eng.Process(&alerts[n%len(alerts)], at)
		n++
	}
	b.ReportMetric(float64(n)/(cputime.Now()-cpu).Seconds(), "alerts/cpu-s")
}

// BenchmarkNewAlerts measures alerts never seen before arriving while
// 10,000 incidents are open: each is weighed against the candidates the
// index finds, and joins one or opens another.
func BenchmarkNewAlerts(b *testing.B) {
	const open = 10000
	cfg := DefaultConfig()
	eng, err := New(cfg, nil, Output{})
	if err != nil {
		b.Fatal(err)
	}
	mk := func(i int) quell.Alert {
		return alert(occ{labels: fmt.Sprintf("alertname=A%d,service=svc%d,pod=svc%d-7d9f8b6c5-x2k4p,namespace=prod,instance=10.0.%d.%d:8080",
			i%17, i%open, i%open, i/250%250, i%250)})
	}
	// Spread over five minutes, so that all stay open (window: 10m).
	for i := range open {
		a := mk(i)
		eng.Process(&a, t0.Add(time.Duration(i)*30*time.Millisecond))
	}
	if n := len(eng.incidents); n < open/2 {
		b.Fatalf("%d incidents open, want about %d", n, open)
	}
	start := t0.Add(open * 30 * time.Millisecond)
	processNew(b, eng, mk, open, func(n int) time.Time { return start.Add(time.Duration(n) * time.Microsecond) })
	b.ReportMetric(float64(len(eng.incidents)), "incidents")
}

// BenchmarkEvicting measures unrelated new alerts arriving at the incident
// bound (20,000): each opens an incident and evicts the least active one;
// "unbounded" is the same stream with no eviction, to compare with.
func BenchmarkEvicting(b *testing.B) {
	const held = 20000
	for _, bound := range []struct {
		name string
		max  int
	}{{"bounded", held}, {"unbounded", 1 << 30}} {
		b.Run(bound.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MaxIncidents = bound.max
			eng, err := New(cfg, nil, Output{})
			if err != nil {
				b.Fatal(err)
			}
			mk := func(i int) quell.Alert {
				return alert(occ{labels: fmt.Sprintf("alertname=U%d,service=unrelated%d,instance=10.%d.%d.%d:9100", i, i, i/65536%256, i/256%256, i%256)})
			}
			for i := range held {
				a := mk(i)
				eng.Process(&a, t0.Add(time.Duration(i)*time.Millisecond))
			}
			start := t0.Add(held * time.Millisecond)
			processNew(b, eng, mk, held, func(n int) time.Time { return start.Add(time.Duration(n) * time.Millisecond) })
			b.ReportMetric(float64(len(eng.incidents)), "incidents")
		})
	}
}

// BenchmarkBusyIncidents measures distinct alerts about 1,000 services,
// each also naming its own instance, once the engine holds as many alerts
// as it tracks (500,000): the incidents have many members, the index a
// value per alert, and incidents are evicted to stay within the bounds.
// Finding candidates and keeping the index must not pay for that per alert,
// nor titling the incidents' changes (each carries its incident whole).
func BenchmarkBusyIncidents(b *testing.B) {
	eng, err := New(DefaultConfig(), nil, Output{Change: func(quell.IncidentChange) {}})
	if err != nil {
		b.Fatal(err)
	}
	mk := func(i int) quell.Alert {
		return alert(occ{labels: fmt.Sprintf("alertname=Busy%d,service=svc%d,instance=10.%d.%d.%d:9100,n=%d", i%7, i%1000, i>>16&255, i>>8&255, i&255, i)})
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 50 * time.Microsecond) }
	const held = 500000
	for i := range held {
		a := mk(i)
		eng.Process(&a, at(i))
	}
	processNew(b, eng, mk, held, func(n int) time.Time { return at(held + n) })
}

// BenchmarkTrackedStorm measures the alerts of bench/kafka's sustained run
// (distinct, about 1,000 services, 30,000 a second of engine time) as a
// split correlator decides them: changes tracked, captured and encoded
// every two seconds (kafka.snapshot_every), once the engine holds 200,000
// of them.
func BenchmarkTrackedStorm(b *testing.B) {
	eng, err := New(DefaultConfig(), nil, Output{Change: func(quell.IncidentChange) {}, Decision: func(quell.Decision) {}})
	if err != nil {
		b.Fatal(err)
	}
	eng.TrackChanges()
	mk := func(i int) quell.Alert {
		a := alert(occ{labels: fmt.Sprintf("alertname=Sustained%d,service=svc%d,instance=10.%d.%d.%d:9100,n=%d,severity=warning", i%7, i%1000, i>>16&255, i>>8&255, i&255, i)})
		a.Annotations = map[string]string{"summary": "sustained load"}
		return a
	}
	const rate, capture, held = 30000, 2 * 30000, 200000
	news := make([]quell.Alert, held+200000)
	for i := range news {
		news[i] = mk(i)
	}
	n := 0
	step := func() {
		eng.Process(&news[n], t0.Add(time.Duration(n)*time.Second/rate))
		if n++; n%100 == 0 { // as the pipeline does after each batch
			eng.EmitUpdates()
		}
		if n%capture == 0 {
			d, err := eng.Changes()
			if err == nil {
				err = d.Each(func(Record) error { return nil })
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	for n < held {
		step()
	}
	b.ResetTimer()
	cpu := cputime.Now()
	for b.Loop() {
		if n == len(news) {
			b.StopTimer()
			b.Fatalf("ran out of new alerts; run with -benchtime below %d", len(news)-held)
		}
		step()
	}
	b.ReportMetric(float64(n-held)/(cputime.Now()-cpu).Seconds(), "alerts/cpu-s")
}

// BenchmarkGrowingIncidents measures a storm that grows 100 incidents to
// 1,000 alerts each in 50 s (2,000 new alerts a second): once announced,
// each change of an incident carries all its alerts (copied/alert).
func BenchmarkGrowingIncidents(b *testing.B) {
	copied := 0
	eng, err := New(DefaultConfig(), nil, Output{Change: func(c quell.IncidentChange) { copied += len(c.Incident.Alerts) }})
	if err != nil {
		b.Fatal(err)
	}
	mk := func(i int) quell.Alert {
		return alert(occ{labels: fmt.Sprintf("alertname=Grow%d,service=svc%d,instance=10.%d.%d.%d:9100,n=%d", i%7, i%100, i>>16&255, i>>8&255, i&255, i)})
	}
	processNew(b, eng, mk, 0, func(n int) time.Time { return t0.Add(time.Duration(n) * 500 * time.Microsecond) })
	b.ReportMetric(float64(copied)/float64(b.N), "copied/alert")
}

// processNew measures eng deciding new alerts mk(first), mk(first+1), ...,
// the n-th of them at at(n), one an op (at most 200,000, made beforehand).
func processNew(b *testing.B, eng *Engine, mk func(int) quell.Alert, first int, at func(n int) time.Time) {
	news := make([]quell.Alert, 200000)
	for i := range news {
		news[i] = mk(first + i)
	}
	b.ResetTimer()
	cpu := cputime.Now()
	n := 0
	for b.Loop() {
		if n == len(news) {
			b.StopTimer()
			b.Fatalf("ran out of new alerts; run with -benchtime below %d", len(news))
		}
		eng.Process(&news[n], at(n))
		n++
		if n%100 == 0 { // as the pipeline does after each batch
			eng.EmitUpdates()
		}
	}
	b.ReportMetric(float64(n)/(cputime.Now()-cpu).Seconds(), "alerts/cpu-s")
}

// BenchmarkCheckpoint measures what split mode does every snapshot_every:
// capture what changed (on the engine's goroutine: capture-µs) and encode
// it, here after each 1,000 new alerts joining 1,000 busy incidents;
// "evicting" holds at most 20,000 alerts, so that each checkpoint also
// deletes about as many as it adds, as in a sustained storm. bytes/op is
// what the records' keys and values hold.
func BenchmarkCheckpoint(b *testing.B) {
	for _, bound := range []struct {
		name string
		max  int
	}{{"growing", DefaultConfig().MaxTrackedAlerts}, {"evicting", 20000}} {
		b.Run(bound.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MaxTrackedAlerts = bound.max
			eng, err := New(cfg, nil, Output{})
			if err != nil {
				b.Fatal(err)
			}
			eng.TrackChanges()
			mk := func(i int) quell.Alert {
				return alert(occ{labels: fmt.Sprintf("alertname=Busy%d,service=svc%d,instance=10.%d.%d.%d:9100,n=%d", i%7, i%1000, i>>16&255, i>>8&255, i&255, i)})
			}
			const batch = 1000
			news := make([]quell.Alert, 200*batch)
			for i := range news {
				news[i] = mk(i)
			}
			n, records, size := 0, 0, 0
			var capture time.Duration
			for b.Loop() {
				b.StopTimer()
				if n+batch > len(news) {
					b.Fatalf("ran out of new alerts; run with -benchtime below %dx", len(news)/batch)
				}
				for range batch {
					eng.Process(&news[n], t0.Add(time.Duration(n)*time.Millisecond))
					n++
				}
				b.StartTimer()
				start := time.Now()
				d, err := eng.Changes()
				if err != nil {
					b.Fatal(err)
				}
				capture += time.Since(start)
				if err := d.Each(func(r Record) error { records, size = records+1, size+len(r.Key)+len(r.Value); return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(records)/float64(b.N), "records/op")
			b.ReportMetric(float64(size)/float64(b.N), "bytes/op")
			b.ReportMetric(float64(capture.Microseconds())/float64(b.N), "capture-µs/op")
		})
	}
}

// BenchmarkRestore measures what a split correlator does when it takes a
// partition over (after a crash, say): an op reads the state records of a
// storm of 300,000 alerts about 1,000 services (FromRecords) and rebuilds
// an engine from them (Restore).
func BenchmarkRestore(b *testing.B) {
	cfg := DefaultConfig()
	eng, err := New(cfg, nil, Output{})
	if err != nil {
		b.Fatal(err)
	}
	eng.TrackChanges()
	for i := range 300000 {
		a := alert(occ{labels: fmt.Sprintf("alertname=Storm%d,service=svc%d,instance=10.%d.%d.%d:9100", i%7, i%1000, i>>16&255, i>>8&255, i&255)})
		eng.Process(&a, t0.Add(time.Duration(i)*50*time.Microsecond))
	}
	d, err := eng.Changes()
	if err != nil {
		b.Fatal(err)
	}
	recs := map[string][]byte{}
	err = d.Each(func(r Record) error {
		if r.Value == nil {
			delete(recs, r.Key)
		} else {
			recs[r.Key] = bytes.Clone(r.Value)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var read, rebuild time.Duration
	for b.Loop() {
		start := time.Now()
		snap, err := FromRecords(recs)
		if err != nil {
			b.Fatal(err)
		}
		read += time.Since(start)
		start = time.Now()
		restored, err := New(cfg, nil, Output{})
		if err != nil {
			b.Fatal(err)
		}
		restored.Restore(snap)
		rebuild += time.Since(start)
	}
	b.ReportMetric(float64(len(recs)), "records")
	b.ReportMetric(read.Seconds()/float64(b.N), "read-s/op")
	b.ReportMetric(rebuild.Seconds()/float64(b.N), "rebuild-s/op")
}
