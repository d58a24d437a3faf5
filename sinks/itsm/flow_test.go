package itsm

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"github.com/quellhq/quell/silence"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestJiraResumesAPartlyDeliveredChangeAfterRestart(t *testing.T) {
	f := newFakeJira()
	url, dir := serve(t, f), t.TempDir()
	all := lifecycle("inc-1")
	first := start(t, f.config(url), dir)
	first.send(all[:4]...)
	first.close()

	// The resolve's comment goes through, then Jira fails until quell stops.
	f.failNext("GET /rest/api/3/issue/OPS-1/transitions", slices.Repeat([]int{http.StatusBadGateway}, 50)...)
	crashing := start(t, f.config(url), dir)
	crashing.send(all[4])
	for deadline := time.Now().Add(10 * time.Second); f.count("POST /rest/api/3/issue/OPS-1/comment") < 4; {
		if time.Now().After(deadline) {
			t.Fatal("the resolve's comment never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	for _, s := range crashing.sinks {
		_ = s.Close(ctx)
	}
	f.mu.Lock()
	f.fail = nil
	f.mu.Unlock()

	restarted := start(t, f.config(url), dir)
	restarted.send(all[4:]...)
	restarted.close()
	oneResolvedTicket(t, f, "inc-1")
	// 3 updates, then resolve, reopen and resolve: one comment each.
	if got := f.count("POST /rest/api/3/issue/OPS-1/comment"); got != 6 {
		t.Fatalf("%d comments, want 6: the resumed resolve repeated its comment", got)
	}
}

func TestSilencesKeepTicketsClosedButNotOpenOnes(t *testing.T) {
	const f, r = quell.Firing, quell.Resolved
	staging := func(st quell.Status) quell.IncidentAlert {
		return alert(10, st, "alertname", "DiskFull", "env", "staging", "instance", "db-1")
	}
	prod := func(st quell.Status) quell.IncidentAlert {
		return alert(11, st, "alertname", "DiskFull", "env", "prod", "instance", "db-1")
	}
	billing := func(fp uint64, st quell.Status) quell.IncidentAlert {
		return alert(fp, st, "alertname", "HighLatency", "service", "billing")
	}
	changes := []quell.IncidentChange{
		// Silenced alone; the ticket opens when an unsilenced alert joins,
		// and is updated and closed though its alerts resolve in the silence.
		change(quell.IncidentCreated, 1, "inc-s1", staging(f)),
		change(quell.IncidentUpdated, 2, "inc-s1", staging(f), prod(f)),
		change(quell.IncidentUpdated, 3, "inc-s1", staging(r), prod(f)),
		change(quell.IncidentUpdated, 4, "inc-s1", staging(r), prod(r)),
		change(quell.IncidentResolve, 5, "inc-s1", staging(r), prod(r)),
		// Silenced all its life: never a ticket.
		change(quell.IncidentCreated, 1, "inc-s2", staging(f)),
		change(quell.IncidentUpdated, 2, "inc-s2", staging(r)),
		change(quell.IncidentResolve, 3, "inc-s2", staging(r)),
		// In a maintenance window until t0+3m, then a change opens the ticket.
		change(quell.IncidentCreated, 1, "inc-m", billing(20, f)),
		change(quell.IncidentUpdated, 2, "inc-m", billing(20, f), billing(21, f)),
		change(quell.IncidentUpdated, 3, "inc-m", billing(20, r), billing(21, f)),
		change(quell.IncidentResolve, 4, "inc-m", billing(20, r), billing(21, r)),
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			fk := k.new()
			cfg := fk.config(serve(t, fk))
			cfg.Silences = []silence.Config{
				{Name: "staging disks", Matchers: `{env="staging", alertname=~"Disk.*"}`},
				{Name: "billing upgrade", Matchers: `service="billing"`, StartsAt: t0, EndsAt: t0.Add(3 * time.Minute)},
			}
			h := start(t, cfg, t.TempDir())
			h.send(changes...)
			h.close()
			oneResolvedTicket(t, fk, "inc-s1")
			oneResolvedTicket(t, fk, "inc-m")
			if ts := fk.tickets("inc-s2"); len(ts) != 0 {
				t.Fatalf("a fully silenced incident opened tickets %v", ts)
			}
			if got := h.metric("quell_itsm_skipped_total", "reason", "silenced"); got != 4 {
				t.Errorf("silenced skips %v, want 4 (inc-s1 #1, inc-s2 #1, inc-m #1 and #2)", got)
			}
			if recs := h.store.Tickets("inc-s1"); len(recs) != 1 || recs[0].Alerts[prod(f).Fingerprint.String()] != r {
				t.Errorf("store %+v: want inc-s1's ticket with the prod alert resolved", recs)
			}
		})
	}
}

// TestOpenRequestGolden pins what each sink sends to open a ticket.
func TestOpenRequestGolden(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			f := k.new()
			h := start(t, f.config(serve(t, f)), t.TempDir())
			h.send(lifecycle("inc-1")[0])
			h.close()
			bodies := f.(interface {
				bodies(string) []json.RawMessage
			}).bodies(k.create)
			if len(bodies) != 1 {
				t.Fatalf("%d create requests, want 1", len(bodies))
			}
			var got bytes.Buffer
			if err := json.Indent(&got, bodies[0], "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			golden := filepath.Join("testdata", k.name+"_open.golden.json")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("open request differs from %s:\n%s", golden, got.String())
			}
		})
	}
}

// TestPagerDutyEventsHaveTheDocumentedShape holds quell's events to
// PagerDuty's own examples: no field the documentation does not know.
func TestPagerDutyEventsHaveTheDocumentedShape(t *testing.T) {
	f := newFakePagerDuty()
	h := start(t, f.config(serve(t, f)), t.TempDir())
	h.send(lifecycle("inc-1")[:5]...)
	h.close()
	keys := func(raw []byte) (top, payload []string) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		var p map[string]json.RawMessage
		if m["payload"] != nil {
			if err := json.Unmarshal(m["payload"], &p); err != nil {
				t.Fatal(err)
			}
		}
		return slices.Sorted(maps.Keys(m)), slices.Sorted(maps.Keys(p))
	}
	fixture := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	docTop, docPayload := keys(fixture("pagerduty_events_v2_trigger_official_docs.json"))
	resolveTop, _ := keys(fixture("pagerduty_events_v2_resolve_official_docs.json"))
	events := f.bodies("POST /v2/enqueue")
	if len(events) != 5 {
		t.Fatalf("%d events, want 5", len(events))
	}
	for i, ev := range events[:4] {
		top, payload := keys(ev)
		for _, k := range top {
			if !slices.Contains(docTop, k) {
				t.Errorf("trigger %d has field %q, unknown to the documented example %v", i, k, docTop)
			}
		}
		for _, k := range payload {
			if !slices.Contains(docPayload, k) {
				t.Errorf("trigger %d has payload field %q, unknown to the documented example %v", i, k, docPayload)
			}
		}
	}
	if top, _ := keys(events[4]); !slices.Equal(top, resolveTop) {
		t.Errorf("resolve has fields %v, the documented example %v", top, resolveTop)
	}
}
