package itsm

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// request is what a fake API received.
type request struct {
	Method, Path string
	Body         json.RawMessage
}

// fakeAPI is what the ITSM fakes share: an auth check, scripted failures
// answered in the API's own error shape, and a log of what was received.
type fakeAPI struct {
	mu   sync.Mutex
	auth func(*http.Request) bool
	// fail maps "METHOD /path prefix" to statuses answered, in turn, before
	// the real handling.
	fail       map[string][]int
	retryAfter string
	errBody    func(code int, msg string) any
	reqs       []request
}

// matches reports whether a request is on route: "METHOD /path" exactly,
// or every path below it when route ends in *.
func matches(route, method, path string) bool {
	if prefix, ok := strings.CutSuffix(route, "*"); ok {
		return strings.HasPrefix(method+" "+path, prefix)
	}
	return method+" "+path == route
}

// failNext scripts the next answers to requests on route.
func (f *fakeAPI) failNext(route string, codes ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string][]int{}
	}
	f.fail[route] = append(f.fail[route], codes...)
}

// intercept logs r and answers it when auth fails or a failure is
// scripted; it reports whether it answered. The caller holds f.mu.
func (f *fakeAPI) intercept(w http.ResponseWriter, r *http.Request) (body []byte, answered bool) {
	body, _ = io.ReadAll(r.Body)
	if !f.auth(r) {
		f.error(w, http.StatusUnauthorized, "User Not Authenticated")
		return nil, true
	}
	for route, codes := range f.fail {
		if matches(route, r.Method, r.URL.Path) && len(codes) > 0 {
			f.fail[route] = codes[1:]
			if codes[0] == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			f.error(w, codes[0], fmt.Sprintf("scripted %d", codes[0]))
			return nil, true
		}
	}
	raw := json.RawMessage(body)
	if len(body) == 0 {
		raw = nil
	}
	f.reqs = append(f.reqs, request{Method: r.Method, Path: r.URL.Path, Body: raw})
	return body, false
}

func (f *fakeAPI) error(w http.ResponseWriter, code int, msg string) {
	reply(w, code, f.errBody(code, msg))
}

// count is how many accepted requests were on route.
func (f *fakeAPI) count(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.reqs {
		if matches(route, r.Method, r.Path) {
			n++
		}
	}
	return n
}

// bodies are the accepted request bodies of route, in order.
func (f *fakeAPI) bodies(route string) []json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []json.RawMessage
	for _, r := range f.reqs {
		if matches(route, r.Method, r.Path) {
			out = append(out, r.Body)
		}
	}
	return out
}
