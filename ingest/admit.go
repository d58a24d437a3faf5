package ingest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
)

// admit applies, before any body is read, the per-client rate and the
// token; it answers a refused request itself. Requests they refuse never
// read a body or take a slot: a flood without a valid token cannot crowd
// out senders with one. Requests without a valid token are limited per
// remote IP, which also slows guessing tokens.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, rt *route) (ok bool) {
	defer func() {
		if !ok {
			w.Header().Set("Connection", "close") // answer now; the unread body is not waited for
		}
	}()
	tokens := h.tokens.Get()
	idx, authed := tokens.match(r)
	if h.rate != nil {
		key := remoteIP(r)
		if authed {
			key = "token " + strconv.Itoa(idx)
		}
		if ok, wait := h.rate.allow(key, h.now()); !ok {
			secs := retryAfterSeconds(wait)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			h.reject(w, r, rt, http.StatusTooManyRequests, reasonRateLimited, fmt.Errorf(
				"more than %g requests a second (ingest.rate_per_client, burst ingest.rate_burst %d) from this client: retry in %d s, or send more alerts per request",
				h.cfg.RatePerClient, h.cfg.RateBurst, secs))
			return false
		}
	}
	if tokens.Enabled() && !authed {
		challenge(w, r)
		h.reject(w, r, rt, http.StatusUnauthorized, reasonUnauthorized, errUnauthorized)
		return false
	}
	return true
}

// slot takes one of the slots for requests being processed, once the
// body has arrived, or answers 503; on true the caller must release it.
func (h *Handler) slot(w http.ResponseWriter, r *http.Request, rt *route) bool {
	select {
	case h.slots <- struct{}{}:
		return true
	default:
		w.Header().Set("Retry-After", retryBusy)
		h.reject(w, r, rt, http.StatusServiceUnavailable, reasonOverloaded, fmt.Errorf(
			"%d ingest requests already in progress (ingest.max_concurrent_requests): retry in %s s", cap(h.slots), retryBusy))
		return false
	}
}

// remoteIP is the client's address without the port. Behind a proxy it is
// the proxy's: quell does not trust X-Forwarded-For, which any client can set.
func remoteIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
