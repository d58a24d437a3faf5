package api

import (
	"net/http"

	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/internal/timeline"
	"github.com/quellhq/quell/sinks/itsm"
)

// Details are the reads about one incident beyond the incident itself, each
// where this process has it (nil: it does not, and the route answers 404
// saying where to look).
type Details struct {
	// Timeline: what happened to it, oldest first, and how many earlier
	// events were let go (the embedded default keeps them; see package
	// timeline).
	Timeline func(id string) ([]timeline.Event, int)
	// Graph: the service graph around it, while the correlator tracks it.
	Graph func(id string) (correlate.Neighbourhood, bool)
	// Tickets: the ITSM tickets of it this process's sinks opened.
	Tickets func(id string) []itsm.TicketLink
}

// RegisterDetails mounts GET /api/v1/incidents/{id}/timeline, /graph and
// /tickets.
func RegisterDetails(mux *http.ServeMux, d Details) {
	mux.HandleFunc("GET /api/v1/incidents/{id}/timeline", func(w http.ResponseWriter, r *http.Request) {
		if d.Timeline == nil {
			writeError(w, http.StatusNotFound, "this process keeps no timelines: the embedded default does; in split mode the decisions are in ClickHouse and the decision log")
			return
		}
		evs, dropped := d.Timeline(r.PathValue("id"))
		if evs == nil {
			evs = []timeline.Event{}
		}
		WriteJSON(w, http.StatusOK, map[string]any{"events": evs, "dropped": dropped})
	})
	mux.HandleFunc("GET /api/v1/incidents/{id}/graph", func(w http.ResponseWriter, r *http.Request) {
		nb, ok := correlate.Neighbourhood{}, false
		if d.Graph != nil {
			nb, ok = d.Graph(r.PathValue("id"))
		}
		if !ok {
			writeError(w, http.StatusNotFound, "no correlator here tracks incident "+r.PathValue("id")+" (open, or resolved within the reopen window)")
			return
		}
		WriteJSON(w, http.StatusOK, nb)
	})
	mux.HandleFunc("GET /api/v1/incidents/{id}/tickets", func(w http.ResponseWriter, r *http.Request) {
		ts := []itsm.TicketLink{}
		if d.Tickets != nil {
			ts = append(ts, d.Tickets(r.PathValue("id"))...)
		}
		WriteJSON(w, http.StatusOK, map[string]any{"tickets": ts})
	})
}
