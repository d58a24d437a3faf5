package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
)

// Act sends a person's feedback to the correlator and waits for what became
// of it: the incident it left the alerts in, or why it did not apply
// (correlate's ErrUnknown, ErrConflict, ErrNoChange), or ErrPending.
type Act func(ctx context.Context, f *quell.Feedback) (incident string, err error)

// ErrPending: the feedback is accepted (journaled) and applies in its turn,
// behind the alerts accepted before it; its outcome is not known yet.
var ErrPending = errors.New("accepted; it applies in order behind the alerts accepted before it")

// maxFeedbackBody bounds a feedback request: an actor and a comment.
const maxFeedbackBody = 64 << 10

// feedbackBody is what each action takes: who acts and why, and where to.
type feedbackBody struct {
	Actor   string `json:"actor"`
	Comment string `json:"comment"`
	Into    string `json:"into"` // merge
	To      string `json:"to"`   // move
}

// FeedbackResult answers a feedback request.
type FeedbackResult struct {
	// Result: applied, unchanged (it already held) or accepted (it applies
	// in its turn; see the incident later).
	Result   string          `json:"result"`
	Message  string          `json:"message,omitempty"`
	Incident *quell.Incident `json:"incident,omitempty"`
}

// RegisterFeedback mounts the feedback routes: acknowledge, merge and
// resolve an incident, move an alert.
func RegisterFeedback(mux *http.ServeMux, src Source, act Act) {
	handle := func(pattern string, build func(r *http.Request, b feedbackBody) quell.Feedback) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			var b feedbackBody
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFeedbackBody))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&b); err != nil && !errors.Is(err, io.EOF) {
				code := http.StatusBadRequest
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					code = http.StatusRequestEntityTooLarge
				}
				writeError(w, code, "the body must be a JSON object with actor and comment (and into for a merge, to for a move): "+err.Error())
				return
			}
			f := build(r, b)
			f.Actor, f.Comment, f.At, f.ID = b.Actor, b.Comment, time.Now(), newID()
			if err := f.Validate(); err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			id, err := act(r.Context(), &f)
			answerFeedback(w, src, id, err)
		})
	}
	handle("POST /api/v1/incidents/{id}/ack", func(r *http.Request, _ feedbackBody) quell.Feedback {
		return quell.Feedback{Action: quell.FeedbackAcknowledge, Incident: r.PathValue("id")}
	})
	handle("POST /api/v1/incidents/{id}/resolve", func(r *http.Request, _ feedbackBody) quell.Feedback {
		return quell.Feedback{Action: quell.FeedbackResolve, Incident: r.PathValue("id")}
	})
	handle("POST /api/v1/incidents/{id}/merge", func(r *http.Request, b feedbackBody) quell.Feedback {
		return quell.Feedback{Action: quell.FeedbackMerge, Incident: r.PathValue("id"), Into: b.Into}
	})
	handle("POST /api/v1/alerts/{fingerprint}/move", func(r *http.Request, b feedbackBody) quell.Feedback {
		var fp quell.Fingerprint
		if fp.UnmarshalText([]byte(r.PathValue("fingerprint"))) != nil {
			fp = 0 // Validate names what is missing
		}
		return quell.Feedback{Action: quell.FeedbackMove, Alert: fp, To: b.To}
	})
}

// answerFeedback tells what became of the feedback, with the incident as
// it is now.
func answerFeedback(w http.ResponseWriter, src Source, id string, err error) {
	res := FeedbackResult{Result: "applied"}
	code := http.StatusOK
	switch {
	case err == nil:
	case errors.Is(err, correlate.ErrNoChange):
		res.Result, res.Message = "unchanged", err.Error()
	case errors.Is(err, ErrPending):
		res.Result, res.Message, code = "accepted", err.Error(), http.StatusAccepted
	case errors.Is(err, correlate.ErrUnknown):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, correlate.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
		return
	default:
		// Not accepted (quell is starting, stopping or full): the caller retries.
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("feedback not accepted: %v", err))
		return
	}
	if id != "" {
		if inc, ok := src.Incident(id); ok {
			res.Incident = &inc
		}
	}
	WriteJSON(w, code, res)
}

// retryAfter is the seconds a refused feedback request should wait.
const retryAfter = 5

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
