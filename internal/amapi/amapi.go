// Package amapi serves Alertmanager's v2 API over quell, so that amtool,
// Grafana's Alertmanager data source and scripts written for Alertmanager
// read quell as they read Alertmanager: the firing alerts of open
// incidents (GET /api/v2/alerts), incidents as alert groups
// (/api/v2/alerts/groups), status and receivers, and silences, which
// quell keeps (see package silence) and applies to its tickets. Alerts are
// posted to POST /api/v2/alerts, which ingest serves.
package amapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/internal/api"
	"github.com/quellhq/quell/silence"
)

// Source answers incident queries (the correlator); nil where this process
// does not correlate.
type Source interface {
	Incidents(q correlate.Query) []quell.Incident
}

// receiverName is the one receiver quell is to Alertmanager's clients.
const receiverName = "quell"

// maxBody bounds a posted silence.
const maxBody = 1 << 20

// Register mounts the routes on mux. Reads of alerts share the read API's
// bound on concurrent reads (reading).
func Register(mux *http.ServeMux, src Source, silences *silence.Store, started time.Time, reading api.Readers) {
	h := &handler{src: src, silences: silences, started: started, reading: reading}
	if src != nil {
		mux.HandleFunc("GET /api/v2/alerts", h.alerts)
		mux.HandleFunc("GET /api/v2/alerts/groups", h.groups)
	}
	mux.HandleFunc("GET /api/v2/status", h.status)
	mux.HandleFunc("GET /api/v2/receivers", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, []receiver{{receiverName}})
	})
	mux.HandleFunc("GET /api/v2/silences", h.listSilences)
	mux.HandleFunc("POST /api/v2/silences", h.postSilence)
	mux.HandleFunc("GET /api/v2/silence/{id}", h.getSilence)
	mux.HandleFunc("DELETE /api/v2/silence/{id}", h.deleteSilence)
}

type handler struct {
	src      Source
	silences *silence.Store
	started  time.Time
	reading  api.Readers
}

// filter is what GET /api/v2/alerts and /alerts/groups select, as
// Alertmanager defines the parameters.
type filter struct {
	matchers                                 labels.Matchers
	active, silenced, inhibited, unprocessed bool
	receiver                                 *regexp.Regexp
}

func parseFilter(r *http.Request) (filter, error) {
	q := r.URL.Query()
	f := filter{active: true, silenced: true, inhibited: true, unprocessed: true}
	for _, p := range []struct {
		name string
		v    *bool
	}{{"active", &f.active}, {"silenced", &f.silenced}, {"inhibited", &f.inhibited}, {"unprocessed", &f.unprocessed}} {
		if s := q.Get(p.name); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return f, errors.New(p.name + ": want true or false, got " + strconv.Quote(s))
			}
			*p.v = b
		}
	}
	for _, s := range q["filter"] {
		ms, err := labels.ParseMatchers(s)
		if err != nil {
			return f, errors.New("bad matcher format: " + s + ": " + err.Error())
		}
		f.matchers = append(f.matchers, ms...)
	}
	if s := q.Get("receiver"); s != "" {
		re, err := regexp.Compile("^(?:" + s + ")$")
		if err != nil {
			return f, errors.New("receiver: " + err.Error())
		}
		f.receiver = re
	}
	return f, nil
}

// selects tells whether f keeps an alert with ls, silenced by silencedBy.
func (f *filter) selects(ls map[string]string, silencedBy []string) bool {
	if f.receiver != nil && !f.receiver.MatchString(receiverName) {
		return false
	}
	if len(silencedBy) > 0 && !f.silenced || len(silencedBy) == 0 && !f.active {
		return false
	}
	for _, m := range f.matchers {
		if !m.Matches(ls[m.Name]) {
			return false
		}
	}
	return true
}

// gettable is a member alert as Alertmanager shows an alert, or false when
// f leaves it out. Resolved members are left out, as Alertmanager leaves
// out resolved alerts.
func (h *handler) gettable(a *quell.IncidentAlert, f *filter, now time.Time) (gettableAlert, bool) {
	if a.Status != quell.Firing {
		return gettableAlert{}, false
	}
	by := h.silences.SilencedBy(a.Labels, now)
	if !f.selects(a.Labels, by) {
		return gettableAlert{}, false
	}
	st := alertStatus{State: "active", SilencedBy: by, InhibitedBy: []string{}, MutedBy: []string{}}
	if len(by) > 0 {
		st.State = "suppressed"
	} else {
		st.SilencedBy = []string{}
	}
	ann := a.Annotations
	if ann == nil {
		ann = map[string]string{}
	}
	return gettableAlert{Labels: a.Labels, Annotations: ann, StartsAt: amTime(a.StartsAt), EndsAt: amTime(a.EndsAt),
		UpdatedAt: amTime(a.LastSeen), Fingerprint: a.Fingerprint.String(), Receivers: []receiver{{receiverName}}, Status: st}, true
}

// openAlerts answers with the open incidents' alerts that the request's
// filter selects, as JSON: an array of what each(inc, out) writes of
// each open incident. It reads them a page at a time (at most
// api.MaxPageAlerts member alerts, or one incident) holding one of the
// read API's slots, and writes an element at a time: many clients reading
// every alert at once hold a page each, not every open incident each.
func (h *handler) openAlerts(w http.ResponseWriter, r *http.Request, each func(inc *quell.Incident, f *filter, out *array)) {
	f, err := parseFilter(r)
	if err != nil {
		api.WriteJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	if !h.reading.Take(r.Context()) {
		return
	}
	defer h.reading.Release()
	out := newArray(w)
	q := correlate.Query{Status: quell.IncidentOpen, MaxAlerts: api.MaxPageAlerts}
	for {
		incs := h.src.Incidents(q)
		n := q.Page(len(incs), func(i int) int { return len(incs[i].Alerts) })
		for i := range incs[:n] {
			each(&incs[i], &f, out)
		}
		if n == len(incs) || r.Context().Err() != nil {
			break
		}
		q.After = correlate.CursorOf(incs[n-1])
	}
	out.close()
}

func (h *handler) alerts(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	h.openAlerts(w, r, func(inc *quell.Incident, f *filter, out *array) {
		for j := range inc.Alerts {
			if g, ok := h.gettable(&inc.Alerts[j], f, now); ok {
				out.next()
				out.enc.Encode(g)
			}
		}
	})
}

// groups: each open incident is a group, labelled with its id.
func (h *handler) groups(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	h.openAlerts(w, r, func(inc *quell.Incident, f *filter, out *array) {
		n := 0
		for j := range inc.Alerts {
			a, ok := h.gettable(&inc.Alerts[j], f, now)
			if !ok {
				continue
			}
			if n == 0 { // a group only for an incident with alerts selected
				out.next()
				out.bw.WriteString(`{"labels":`)
				out.enc.Encode(map[string]string{"incident": inc.ID})
				out.bw.WriteString(`,"receiver":`)
				out.enc.Encode(receiver{receiverName})
				out.bw.WriteString(`,"alerts":[`)
			} else {
				out.bw.WriteByte(',')
			}
			out.enc.Encode(a)
			n++
		}
		if n > 0 {
			out.bw.WriteString("]}")
		}
	})
}

// array writes a JSON array to a response an element at a time.
type array struct {
	bw  *bufio.Writer
	enc *json.Encoder
	n   int
}

func newArray(w http.ResponseWriter) *array {
	bw := api.StreamJSON(w)
	bw.WriteByte('[')
	return &array{bw: bw, enc: json.NewEncoder(bw)}
}

// next starts an element.
func (a *array) next() {
	if a.n > 0 {
		a.bw.WriteByte(',')
	}
	a.n++
}

func (a *array) close() {
	a.bw.WriteString("]\n")
	a.bw.Flush()
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	version, goVersion := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, goVersion = bi.Main.Version, bi.GoVersion
	}
	api.WriteJSON(w, http.StatusOK, status{
		Cluster: clusterStatus{Status: "disabled", Peers: []any{}},
		Config:  map[string]string{"original": "# quell groups alerts into incidents by correlation; see its configuration file\n"},
		Uptime:  amTime(h.started),
		VersionInfo: map[string]string{"version": version, "goVersion": goVersion, "branch": "", "revision": "",
			"buildUser": "", "buildDate": ""},
	})
}

func gettableOf(s silence.Silence, now time.Time) gettableSilence {
	g := gettableSilence{silenceBody: silenceBody{ID: s.ID, Matchers: fromMatchers(s.Matchers), StartsAt: amTime(s.StartsAt),
		EndsAt: amTime(s.EndsAt), CreatedBy: s.CreatedBy, Comment: s.Comment}, Status: silenceStatus{s.State(now)}, UpdatedAt: amTime(s.UpdatedAt)}
	if s.EndsAt.IsZero() { // configured, for ever
		g.EndsAt = amTime(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
	}
	return g
}

func (h *handler) listSilences(w http.ResponseWriter, r *http.Request) {
	var filters labels.Matchers
	for _, s := range r.URL.Query()["filter"] {
		ms, err := labels.ParseMatchers(s)
		if err != nil {
			api.WriteJSON(w, http.StatusBadRequest, "bad matcher format: "+s+": "+err.Error())
			return
		}
		filters = append(filters, ms...)
	}
	now := time.Now()
	out := []gettableSilence{}
	for _, s := range h.silences.List() {
		if selectsSilence(filters, s) {
			out = append(out, gettableOf(s, now))
		}
	}
	api.WriteJSON(w, http.StatusOK, out)
}

// selectsSilence: as Alertmanager, a filter matches against the labels the
// silence's equality matchers name.
func selectsSilence(filters labels.Matchers, s silence.Silence) bool {
	ls := map[string]string{}
	for _, m := range s.Matchers {
		if m.Type == labels.MatchEqual {
			ls[m.Name] = m.Value
		}
	}
	for _, f := range filters {
		if !f.Matches(ls[f.Name]) {
			return false
		}
	}
	return true
}

func (h *handler) postSilence(w http.ResponseWriter, r *http.Request) {
	var body silenceBody
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&body); err != nil {
		api.WriteJSON(w, http.StatusBadRequest, "reading the silence: "+err.Error())
		return
	}
	ms, err := toMatchers(body.Matchers)
	if err != nil {
		api.WriteJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	now := time.Now()
	id, err := h.silences.Set(silence.Silence{ID: body.ID, Matchers: ms, StartsAt: time.Time(body.StartsAt), EndsAt: time.Time(body.EndsAt),
		CreatedBy: body.CreatedBy, Comment: body.Comment}, now)
	switch {
	case errors.Is(err, silence.ErrNotFound):
		api.WriteJSON(w, http.StatusNotFound, "silence "+body.ID+" not found")
	case err != nil:
		api.WriteJSON(w, http.StatusBadRequest, err.Error())
	default:
		api.WriteJSON(w, http.StatusOK, map[string]string{"silenceID": id})
	}
}

func (h *handler) getSilence(w http.ResponseWriter, r *http.Request) {
	s, ok := h.silences.Get(r.PathValue("id"))
	if !ok {
		api.WriteJSON(w, http.StatusNotFound, "silence "+r.PathValue("id")+" not found")
		return
	}
	api.WriteJSON(w, http.StatusOK, gettableOf(s, time.Now()))
}

func (h *handler) deleteSilence(w http.ResponseWriter, r *http.Request) {
	err := h.silences.Expire(r.PathValue("id"), time.Now())
	switch {
	case errors.Is(err, silence.ErrNotFound):
		api.WriteJSON(w, http.StatusNotFound, "silence "+r.PathValue("id")+" not found")
	case err != nil:
		api.WriteJSON(w, http.StatusBadRequest, err.Error())
	default:
		w.WriteHeader(http.StatusOK)
	}
}
