package ingest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
)

// tokenParam is the query parameter that carries a token for senders that
// cannot set headers (Splunk's webhook action, some Datadog templates).
const tokenParam = "token"

// Tokens are the secrets that authenticate a request, kept as SHA-256 sums:
// comparing fixed-size sums in constant time leaks neither a token's bytes
// nor its length. The zero value holds none and lets every request through.
type Tokens struct {
	sums [][sha256.Size]byte
}

// LoadTokens reads token files, one token a line; blank lines and lines
// starting with # are skipped, surrounding spaces trimmed. A file that holds
// no token is an error: it would silently leave the routes open.
func LoadTokens(paths ...string) (Tokens, error) {
	var t Tokens
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return Tokens{}, fmt.Errorf("token file: %w; write one token a line to it, or remove it from the configuration", err)
		}
		n := 0
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || line[0] == '#' {
				continue
			}
			t.sums = append(t.sums, sha256.Sum256([]byte(line)))
			n++
		}
		if err := sc.Err(); err != nil {
			return Tokens{}, fmt.Errorf("token file %s: %w", p, err)
		}
		if n == 0 {
			return Tokens{}, fmt.Errorf("token file %s holds no token: write one token a line (e.g. from openssl rand -hex 32)", p)
		}
	}
	return t, nil
}

// TokenSet holds the tokens in force, replaced whole when the token files
// are read again (a reload); safe for concurrent use.
type TokenSet struct{ v atomic.Pointer[Tokens] }

// NewTokenSet holds t.
func NewTokenSet(t Tokens) *TokenSet {
	s := &TokenSet{}
	s.Set(t)
	return s
}

// Set puts t in force for the requests that follow.
func (s *TokenSet) Set(t Tokens) { s.v.Store(&t) }

// Get is the tokens in force.
func (s *TokenSet) Get() Tokens { return *s.v.Load() }

// Enabled reports whether requests must present a token.
func (t Tokens) Enabled() bool { return len(t.sums) > 0 }

// Len is how many tokens there are.
func (t Tokens) Len() int { return len(t.sums) }

// match returns the index of the token r presents, and whether it presents
// a valid one. It compares with every token, so the time taken does not say
// which one (or whether any) matched.
func (t Tokens) match(r *http.Request) (int, bool) {
	tok, ok := presented(r)
	if !ok {
		return -1, false
	}
	sum := sha256.Sum256([]byte(tok))
	found := -1
	for i := range t.sums {
		if subtle.ConstantTimeCompare(sum[:], t.sums[i][:]) == 1 {
			found = i
		}
	}
	return found, found >= 0
}

// presented is the token r carries: "Authorization: Bearer <token>",
// Basic auth with the token as password (Alertmanager's and Prometheus'
// http_config basic_auth; any username), or the token query parameter.
func presented(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			tok = strings.TrimSpace(tok)
			return tok, tok != ""
		}
		if _, pass, ok := r.BasicAuth(); ok {
			return pass, pass != ""
		}
		return "", false
	}
	tok := r.URL.Query().Get(tokenParam)
	return tok, tok != ""
}

var errUnauthorized = errors.New("missing or wrong token: send it as \"Authorization: Bearer <token>\", " +
	"as the password of basic auth, or as the token query parameter")

// challenge sets the WWW-Authenticate header of a 401: both schemes work.
func challenge(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("WWW-Authenticate", `Bearer realm="quell"`)
	// A Basic challenge makes a browser prompt for a password; a page's
	// script (the console, which marks its requests) asks for the token
	// itself.
	if r.Header.Get("X-Requested-With") == "" {
		w.Header().Add("WWW-Authenticate", `Basic realm="quell"`)
	}
}

// RequireToken serves next only to requests that present one of the
// tokens in force (as the ingest routes accept them); others get 401 with a
// JSON error. With none in force every request passes. The token query
// parameter is removed before next sees the request, so nothing after it
// can log the token with the URL.
func RequireToken(set *TokenSet, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokens := set.Get()
		if !tokens.Enabled() {
			next.ServeHTTP(w, r)
			return
		}
		if _, ok := tokens.match(r); !ok {
			challenge(w, r)
			writeJSON(w, http.StatusUnauthorized, errorBody{errUnauthorized.Error()})
			return
		}
		next.ServeHTTP(w, withoutToken(r))
	})
}

// withoutToken returns r without the token query parameter.
func withoutToken(r *http.Request) *http.Request {
	q := r.URL.Query()
	if !q.Has(tokenParam) {
		return r
	}
	q.Del(tokenParam)
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	r2.RequestURI = r2.URL.RequestURI()
	return r2
}
