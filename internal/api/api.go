// Package api serves quell's read API: incidents with their alerts and the
// reasons each alert was grouped, plus health and readiness.
package api

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/sinks"
)

// Source answers incident queries (the pipeline).
type Source interface {
	Incidents(q correlate.Query) []quell.Incident
	Incident(id string) (quell.Incident, bool)
}

// Pages of incidents: a read costs at most maxPage incidents, and
// MaxPageAlerts member alerts (unless one incident alone has more), of
// memory, however many quell holds. Alertmanager's API (package amapi)
// reads every open incident in pages of as many alerts.
const (
	defaultPage   = 100
	maxPage       = 1000
	MaxPageAlerts = 5000
	// maxReading pages are copied and written at once; more reads wait
	// their turn, so that many readers cost no more memory than a few.
	maxReading = 4
)

// Readers are the slots of the reads that copy incidents and write them
// (this API's and Alertmanager's, see package amapi): at most maxReading
// at once.
type Readers chan struct{}

// NewReaders returns the slots.
func NewReaders() Readers { return make(Readers, maxReading) }

// Take waits for a slot, or returns false once ctx (the request) ends;
// after true the caller must Release.
func (rs Readers) Take(ctx context.Context) bool {
	select {
	case rs <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// Release gives a slot back.
func (rs Readers) Release() { <-rs }

// Ready reports whether quell can accept alerts; nil when it can.
type Ready func() error

// Register mounts the incident routes on mux. Reads take a slot of
// reading while they copy and write.
func Register(mux *http.ServeMux, src Source, reading Readers) {
	mux.HandleFunc("GET /api/v1/incidents", func(w http.ResponseWriter, r *http.Request) {
		q, err := parseQuery(r.URL.Query())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if !reading.Take(r.Context()) {
			return
		}
		defer reading.Release()
		// The source, asked for one more incident than the page holds
		// (see correlate.Query), says whether another page follows: it
		// returns more than the page holds.
		page := q
		q.Limit++
		incs := src.Incidents(q)
		n := page.Page(len(incs), func(i int) int { return len(incs[i].Alerts) })
		next := ""
		if n < len(incs) {
			next = encodeCursor(correlate.CursorOf(incs[n-1]))
		}
		writeIncidents(w, incs[:n], next)
	})
	mux.HandleFunc("GET /api/v1/incidents/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !reading.Take(r.Context()) {
			return
		}
		defer reading.Release()
		inc, ok := src.Incident(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "no incident "+r.PathValue("id")+" (resolved and evicted ones are kept for the configuration's history, 7 days by default, on the embedded default; elsewhere resolved ones for the reopen window, and all in ClickHouse)")
			return
		}
		bw := StreamJSON(w)
		if _, err := inc.WriteJSON(bw, nil); err == nil {
			bw.WriteByte('\n')
			bw.Flush()
		}
	})
}

// writeIncidents streams a page, a few alerts at a time (see
// quell.Incident.WriteJSON): the response is never whole in memory, nor
// one big incident of it.
func writeIncidents(w http.ResponseWriter, incs []quell.Incident, next string) {
	bw := StreamJSON(w)
	bw.WriteString(`{"incidents":[`)
	var buf []byte
	for i := range incs {
		if i > 0 {
			bw.WriteByte(',')
		}
		var err error
		if buf, err = incs[i].WriteJSON(bw, buf); err != nil {
			return // the client went away, or a write failed
		}
	}
	bw.WriteByte(']')
	if next != "" {
		bw.WriteString(`,"next":`)
		json.NewEncoder(bw).Encode(next)
	}
	bw.WriteString("}\n")
	bw.Flush()
}

// parseQuery reads ?status=open|resolved, ?filter=MATCHERS (Alertmanager's
// matchers: the incidents with an alert they all match), ?limit=N and
// ?cursor=NEXT (the "next" of the page before).
func parseQuery(v url.Values) (correlate.Query, error) {
	q := correlate.Query{Status: quell.IncidentStatus(v.Get("status")), Limit: defaultPage, MaxAlerts: MaxPageAlerts}
	if q.Status != "" && q.Status != quell.IncidentOpen && q.Status != quell.IncidentResolved {
		return q, fmt.Errorf("status must be open or resolved, got %q", q.Status)
	}
	var ms labels.Matchers
	for _, f := range v["filter"] {
		m, err := labels.ParseMatchers(f)
		if err != nil {
			return q, fmt.Errorf("filter %q: %v (Alertmanager's matchers, e.g. service=\"checkout\",severity=~\"crit.*\")", f, err)
		}
		ms = append(ms, m...)
	}
	if len(ms) > 0 {
		q.Labels = func(l map[string]string) bool {
			for _, m := range ms {
				if !m.Matches(l[m.Name]) {
					return false
				}
			}
			return true
		}
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPage {
			return q, fmt.Errorf("limit must be a number from 1 to %d, got %q", maxPage, l)
		}
		q.Limit = n
	}
	if c := v.Get("cursor"); c != "" {
		var err error
		if q.After, err = decodeCursor(c); err != nil {
			return q, fmt.Errorf("cursor %q is not the next of an earlier page", c)
		}
	}
	return q, nil
}

// A cursor is opaque to clients: the incident's creation time and id.
func encodeCursor(c correlate.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.Created.UnixNano(), 10) + ":" + c.ID))
}

func decodeCursor(s string) (correlate.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return correlate.Cursor{}, err
	}
	ns, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return correlate.Cursor{}, errors.New("malformed cursor")
	}
	return correlate.Cursor{Created: time.Unix(0, n), ID: id}, nil
}

// RegisterHealth mounts /healthz and /readyz, which every stage serves.
func RegisterHealth(mux *http.ServeMux, ready Ready) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// StreamJSON starts a 200 JSON response written a piece at a time through
// the returned buffer, which the caller flushes.
func StreamJSON(w http.ResponseWriter) *bufio.Writer {
	w.Header().Set("Content-Type", "application/json")
	return bufio.NewWriterSize(w, 64<<10)
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, map[string]string{"error": msg})
}

// RegisterDeadLetters serves GET /api/v1/deadletters: what the sinks gave
// up on (ITSM tickets, webhooks), oldest first, each with its reason.
func RegisterDeadLetters(mux *http.ServeMux, list func() ([]sinks.DeadLetter, error)) {
	mux.HandleFunc("GET /api/v1/deadletters", func(w http.ResponseWriter, r *http.Request) {
		dls, err := list()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if dls == nil {
			dls = []sinks.DeadLetter{}
		}
		WriteJSON(w, http.StatusOK, map[string]any{"deadletters": dls})
	})
}
