package ingest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
)

// admit applies, before any body is read, the per-client rate, the token
// and the bound on requests in progress; it answers a refused request
// itself. Rate and token come first, so requests they refuse never take a
// slot: a flood without a valid token cannot crowd out senders with one.
// Requests without a valid token are limited per remote IP, which also
// slows guessing tokens. On true the caller holds a slot and must release it.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, rt *route) bool {
	idx, authed := h.tokens.match(r)
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
	if h.tokens.Enabled() && !authed {
		challenge(w)
		h.reject(w, r, rt, http.StatusUnauthorized, reasonUnauthorized, errUnauthorized)
		return false
	}
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
