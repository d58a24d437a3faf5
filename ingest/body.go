package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// Reading a body is kept apart from processing it: a request takes one of
// max_concurrent_requests slots only once its whole body has arrived, so a
// sender that trickles its body holds nothing the others need. Its body
// must arrive at min_body_rate (after body_timeout of grace), and one
// address may have max_bodies_per_client bodies arriving at once.

// maxPregrow bounds the buffer allocated up front from Content-Length: a
// client that announces a large body and sends it slowly costs only what
// it sent.
const maxPregrow = 1 << 20

// arriving counts the bodies being read per remote address.
type arriving struct {
	mu  sync.Mutex
	max int
	n   map[string]int
}

func (a *arriving) acquire(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n[addr] >= a.max {
		return false
	}
	a.n[addr]++
	return true
}

func (a *arriving) release(addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n[addr]--; a.n[addr] == 0 {
		delete(a.n, addr)
	}
}

// bodies holds buffers for request bodies. Parsers copy what alerts keep
// (see arena), so a body's buffer is free once its request is answered.
// One grown past maxPregrow is left to the collector: a slow sender is
// never handed more room up front than it would have been given anyway.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBody gives a buffer from readBody back.
func putBody(b *bytes.Buffer) {
	if b.Cap() <= maxPregrow+bytes.MinRead {
		b.Reset()
		bodies.Put(b)
	}
}

// readBody reads the whole body within MaxBodyBytes, at the minimum rate,
// into a buffer the caller gives back with putBody; on error it returns the
// status and metrics reason to answer with.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (_ *bytes.Buffer, status int, reason string, err error) {
	buf := bodies.Get().(*bytes.Buffer)
	defer func() {
		if err != nil {
			putBody(buf)
			// Answer at once and drop the connection, rather than let the
			// server read the rest of the body first to keep it alive.
			w.Header().Set("Connection", "close")
		}
	}()
	limit := h.cfg.MaxBodyBytes
	tooLarge := fmt.Errorf("body larger than %d bytes (ingest.max_body_bytes): send fewer alerts per request or raise the limit", limit)
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, reasonTooLarge, tooLarge
	}
	addr := remoteIP(r)
	if !h.arriving.acquire(addr) {
		w.Header().Set("Retry-After", retryBusy)
		return nil, http.StatusServiceUnavailable, reasonOverloaded, fmt.Errorf(
			"%d request bodies from this address are still arriving (ingest.max_bodies_per_client): retry in %s s", h.cfg.MaxBodiesPerClient, retryBusy)
	}
	defer h.arriving.release(addr)
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, maxPregrow)) + bytes.MinRead) // MinRead: ReadFrom's final read needs room
	}
	body := &paced{r: http.MaxBytesReader(w, r.Body, limit), rc: http.NewResponseController(w), start: time.Now(),
		grace: h.cfg.BodyTimeout, rate: float64(h.cfg.MinBodyRate)}
	if _, err := buf.ReadFrom(body); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, http.StatusRequestEntityTooLarge, reasonTooLarge, tooLarge
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, http.StatusRequestTimeout, reasonSlow, fmt.Errorf(
				"the body arrived slower than %d bytes/s after %s (ingest.min_body_rate, ingest.body_timeout): %d bytes in %s",
				h.cfg.MinBodyRate, h.cfg.BodyTimeout, body.n, time.Since(body.start).Round(time.Millisecond))
		}
		return nil, http.StatusBadRequest, reasonRead, fmt.Errorf("reading the body: %v", err)
	}
	return buf, 0, "", nil
}

// paced reads a body under a deadline that grows with what has arrived:
// the grace period, plus the time the bytes so far may take at the
// minimum rate.
type paced struct {
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  float64 // bytes a second
	n     int64
}

func (p *paced) Read(b []byte) (int, error) {
	allowed := p.grace + time.Duration(float64(p.n)/p.rate*float64(time.Second))
	if err := p.rc.SetReadDeadline(p.start.Add(allowed)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}
