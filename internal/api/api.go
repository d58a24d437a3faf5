// Package api serves quell's read API: incidents with their alerts and the
// reasons each alert was grouped, plus health and readiness.
package api

import (
	"encoding/json"
	"net/http"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks"
)

// Source answers incident queries (the pipeline).
type Source interface {
	Incidents(status quell.IncidentStatus) []quell.Incident
	Incident(id string) (quell.Incident, bool)
}

// Ready reports whether quell can accept alerts; nil when it can.
type Ready func() error

// Register mounts the incident routes on mux.
func Register(mux *http.ServeMux, src Source) {
	mux.HandleFunc("GET /api/v1/incidents", func(w http.ResponseWriter, r *http.Request) {
		status := quell.IncidentStatus(r.URL.Query().Get("status"))
		if status != "" && status != quell.IncidentOpen && status != quell.IncidentResolved {
			writeError(w, http.StatusBadRequest, "status must be open or resolved, got "+string(status))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"incidents": src.Incidents(status)})
	})
	mux.HandleFunc("GET /api/v1/incidents/{id}", func(w http.ResponseWriter, r *http.Request) {
		inc, ok := src.Incident(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "no incident "+r.PathValue("id")+" (resolved incidents are kept for the reopen window only)")
			return
		}
		writeJSON(w, http.StatusOK, inc)
	})
}

// RegisterHealth mounts /healthz and /readyz, which every stage serves.
func RegisterHealth(mux *http.ServeMux, ready Ready) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
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
		writeJSON(w, http.StatusOK, map[string]any{"deadletters": dls})
	})
}
