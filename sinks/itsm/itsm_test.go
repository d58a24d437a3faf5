package itsm

import (
	"context"
	"github.com/quellhq/quell/silence"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks"
)

// fake is an ITSM API double, as the tests drive it.
type fake interface {
	http.Handler
	config(url string) Config
	// tickets lists the tickets the API holds for a quell incident.
	tickets(incident string) []string
	resolved(ticket string) bool
	failNext(route string, codes ...int)
	count(route string) int
}

// kinds are the three ITSMs with the route that creates a ticket and the
// number of requests the full lifecycle takes (none of them repeated).
var kinds = []struct {
	name, create string
	lifecycle    int
	new          func() fake
}{
	// lookup and create, then six PATCHes.
	{"servicenow", "POST /api/now/table/incident", 8, func() fake { return newFakeServiceNow() }},
	// create, six comments, three transitions (GET and POST each).
	{"jira", "POST /rest/api/3/issue", 13, func() fake { return newFakeJira() }},
	// one event a change.
	{"pagerduty", "POST /v2/enqueue", 7, func() fake { return newFakePagerDuty() }},
}

func alert(fp uint64, st quell.Status, labels ...string) quell.IncidentAlert {
	ls := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		ls[labels[i]] = labels[i+1]
	}
	return quell.IncidentAlert{Fingerprint: quell.Fingerprint(fp), Source: "alertmanager", Status: st, Labels: ls, Reason: "shares service=db"}
}

var t0 = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)

func change(kind quell.ChangeKind, seq uint64, id string, alerts ...quell.IncidentAlert) quell.IncidentChange {
	st := quell.IncidentOpen
	if kind == quell.IncidentResolve || kind == quell.IncidentEvicted {
		st = quell.IncidentResolved
	}
	at := t0.Add(time.Duration(seq) * time.Minute)
	return quell.IncidentChange{Kind: kind, Seq: seq, At: at, Incident: quell.Incident{
		ID: id, Status: st, Title: "Disk full on db-1 (" + id + ")", Severity: quell.Critical, CreatedAt: t0, UpdatedAt: at, Alerts: alerts,
		Evicted: kind == quell.IncidentEvicted,
	}}
}

// lifecycle opens an incident, lets a second alert join, resolves both,
// closes it, reopens it and closes it again.
func lifecycle(id string) []quell.IncidentChange {
	const f, r = quell.Firing, quell.Resolved
	a := func(st quell.Status) quell.IncidentAlert {
		return alert(1, st, "alertname", "DiskFull", "instance", "db-1", "service", "db")
	}
	b := func(st quell.Status) quell.IncidentAlert {
		return alert(2, st, "alertname", "SlowQueries", "instance", "db-1", "service", "db")
	}
	return []quell.IncidentChange{
		change(quell.IncidentCreated, 1, id, a(f)),
		change(quell.IncidentUpdated, 2, id, a(f), b(f)),
		change(quell.IncidentUpdated, 3, id, a(r), b(f)),
		change(quell.IncidentUpdated, 4, id, a(r), b(r)),
		change(quell.IncidentResolve, 5, id, a(r), b(r)),
		change(quell.IncidentReopened, 6, id, a(f), b(r)),
		change(quell.IncidentResolve, 7, id, a(r), b(r)),
	}
}

// harness is one quell process's ITSM sinks over a data directory.
type harness struct {
	t     *testing.T
	cfg   Config
	store *Store
	dead  *sinks.DeadLetters
	reg   *prometheus.Registry
	sinks []sinks.Sink
}

func start(t *testing.T, cfg Config, dir string) *harness {
	t.Helper()
	store, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	silences, err := silence.NewStore(cfg.Silences, "")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, store: store, dead: sinks.NewDeadLetters(dir), reg: prometheus.NewRegistry()}
	if h.sinks, err = New(cfg, store, silences, h.dead, slog.New(slog.DiscardHandler), h.reg); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) send(cs ...quell.IncidentChange) {
	h.t.Helper()
	for _, s := range h.sinks {
		if err := s.Write(context.Background(), sinks.Batch{Changes: cs}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// close waits for everything queued to be delivered or dead-lettered.
func (h *harness) close() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range h.sinks {
		if err := s.Close(ctx); err != nil {
			h.t.Fatal(err)
		}
	}
}

// metric reads one counter of the harness's registry.
func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func serve(t *testing.T, f fake) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

// oneResolvedTicket asserts the API holds exactly one ticket for id, resolved.
func oneResolvedTicket(t *testing.T, f fake, id string) {
	t.Helper()
	ts := f.tickets(id)
	if len(ts) != 1 {
		t.Fatalf("incident %s has %d tickets %v, want exactly 1", id, len(ts), ts)
	}
	if !f.resolved(ts[0]) {
		t.Fatalf("ticket %s of incident %s is not resolved", ts[0], id)
	}
}

func TestLifecycleOneTicketPerIncident(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			f := k.new()
			dir := t.TempDir()
			h := start(t, f.config(serve(t, f)), dir)
			h.send(lifecycle("inc-1")...)
			h.close()
			oneResolvedTicket(t, f, "inc-1")
			if got := f.count("*"); got != k.lifecycle {
				t.Errorf("%d requests, want %d: a step was repeated or left out", got, k.lifecycle)
			}
			if got := h.metric("quell_itsm_delivered_total"); got != 7 {
				t.Errorf("delivered metric %v, want 7", got)
			}
			recs := h.store.Tickets("inc-1")
			if len(recs) != 1 || recs[0].Seq != 7 || !recs[0].Resolved || recs[0].Ticket.ID != f.tickets("inc-1")[0] {
				t.Errorf("store holds %+v, want the ticket at seq 7, resolved", recs)
			}
		})
	}
}

// An incident the correlator evicted before it announced it (a flood at
// its memory bound) comes as one evicted change: it opens no ticket.
func TestIncidentEvictedUnannouncedOpensNoTicket(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			f := k.new()
			h := start(t, f.config(serve(t, f)), t.TempDir())
			h.send(change(quell.IncidentEvicted, 1, "inc-e", alert(1, quell.Firing, "alertname", "Flood", "service", "svc-1")))
			h.close()
			if got := f.count("*"); got != 0 {
				t.Errorf("%d requests to the tool, want none", got)
			}
			if got := h.metric("quell_itsm_skipped_total", "reason", "not_firing"); got != 1 {
				t.Errorf("skipped as not firing: %v, want 1", got)
			}
		})
	}
}

// An announced incident the correlator evicted while its alert still
// fired closes its ticket saying so, not that its alerts resolved: the
// problem may go on, in a new incident.
func TestIncidentEvictedClosesItsTicketSayingSo(t *testing.T) {
	f := newFakeServiceNow()
	h := start(t, f.config(serve(t, f)), t.TempDir())
	a := alert(1, quell.Firing, "alertname", "DiskFull", "service", "db")
	h.send(change(quell.IncidentCreated, 1, "inc-e", a), change(quell.IncidentEvicted, 2, "inc-e", a))
	h.close()
	rec := f.incidents[f.tickets("inc-e")[0]]
	if rec.State != "6" || !strings.Contains(rec.CloseNotes, "quell stopped tracking incident inc-e to stay within its memory bound") ||
		strings.Contains(rec.CloseNotes, "resolved") {
		t.Errorf("the evicted incident's record: state %s, close notes %q; want resolved, saying quell stopped tracking it", rec.State, rec.CloseNotes)
	}
}

func TestRestartRedeliversWithoutRepeating(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			f := k.new()
			url, dir := serve(t, f), t.TempDir()
			all := lifecycle("inc-1")
			first := start(t, f.config(url), dir)
			first.send(all[:3]...)
			first.close()
			// A new process over the same data directory is sent everything
			// again, as Kafka does after a crash before the offsets commit.
			second := start(t, f.config(url), dir)
			second.send(all...)
			second.send(all[4:]...)
			second.close()
			oneResolvedTicket(t, f, "inc-1")
			if got := f.count("*"); got != k.lifecycle {
				t.Errorf("%d requests, want %d: a redelivered change was sent again", got, k.lifecycle)
			}
			if got := second.metric("quell_itsm_skipped_total", "reason", "redelivered"); got != 6 {
				t.Errorf("redelivered skips %v, want 6", got)
			}
		})
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := k.new()
			f.failNext(k.create, http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInternalServerError)
			h := start(t, f.config(serve(t, f)), t.TempDir())
			began := time.Now()
			h.send(lifecycle("inc-1")...)
			h.close()
			oneResolvedTicket(t, f, "inc-1")
			if took := time.Since(began); took < time.Second {
				t.Errorf("done in %s: the 429's Retry-After: 1 was not honoured", took)
			}
			if got := h.metric("quell_itsm_retries_total"); got != 3 {
				t.Errorf("retries metric %v, want 3", got)
			}
			if got := h.metric("quell_itsm_deadletters_total"); got != 0 {
				t.Errorf("dead letters metric %v, want 0", got)
			}
		})
	}
}

func TestRefusedRequestIsDeadLettered(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			f := k.new()
			f.failNext(k.create, http.StatusBadRequest)
			h := start(t, f.config(serve(t, f)), t.TempDir())
			h.send(lifecycle("inc-1")...)
			h.close()
			// The refused create is kept; the next change opens the ticket.
			oneResolvedTicket(t, f, "inc-1")
			if got := h.metric("quell_itsm_deadletters_total"); got != 1 {
				t.Errorf("dead letters metric %v, want 1", got)
			}
			dls, err := h.dead.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(dls) != 1 || !strings.HasPrefix(dls[0].Sink, k.name+"/") || !strings.Contains(dls[0].Reason, "400") || !strings.Contains(dls[0].Reason, "scripted 400") {
				t.Fatalf("dead letters %+v: want one, from %s, with the API's 400 and its message", dls, k.name)
			}
		})
	}
}

func TestWrongCredentialsAreDeadLetteredWithAHint(t *testing.T) {
	sn, jr, pd := newFakeServiceNow(), newFakeJira(), newFakePagerDuty()
	cfgs := []struct {
		name string
		f    fake
		bad  func(Config) Config
		want string
	}{
		{"servicenow", sn, func(c Config) Config { c.ServiceNow[0].Password = "wrong"; return c }, "check itsm.servicenow prod"},
		{"jira", jr, func(c Config) Config { c.Jira[0].APIToken = "wrong"; return c }, "check itsm.jira ops"},
		{"pagerduty", pd, func(c Config) Config { c.PagerDuty[0].RoutingKey = "short"; return c }, "Length of 'routing_key' is incorrect"},
	}
	for _, tc := range cfgs {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, tc.bad(tc.f.config(serve(t, tc.f))), t.TempDir())
			h.send(lifecycle("inc-1")[0])
			h.close()
			dls, err := h.dead.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(dls) != 1 || !strings.Contains(dls[0].Reason, tc.want) {
				t.Fatalf("dead letters %+v: want one saying %q", dls, tc.want)
			}
		})
	}
}

func TestTimeoutsAreRetried(t *testing.T) {
	f := newFakePagerDuty()
	var slow atomic.Bool
	slow.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Swap(false) {
			time.Sleep(300 * time.Millisecond) // longer than the sink waits
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := f.config(srv.URL)
	cfg.PagerDuty[0].Timeout = 100 * time.Millisecond
	h := start(t, cfg, t.TempDir())
	h.send(lifecycle("inc-1")...)
	h.close()
	oneResolvedTicket(t, f, "inc-1")
	if got := h.metric("quell_itsm_retries_total"); got != 1 {
		t.Fatalf("retries metric %v, want 1 (the timed-out request)", got)
	}
}
