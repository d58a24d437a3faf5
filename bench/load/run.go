package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// phase is one target's share of the run.
type phase struct {
	name, url   string
	target      target
	path        string // of the ingest route; the webhook route when empty
	body        func(*bodies) []byte
	concurrency int
	warmup, dur time.Duration
}

// result is what a phase measured, warm-up excluded.
type result struct {
	name             string
	requests, alerts int
	elapsed          time.Duration
	latencies        []time.Duration // of successful requests
	errors           map[string]int  // by status, or transport error
}

// run posts the pool's batches round robin from concurrency workers, for
// warmup (not counted: it fills quell's bounded queue, so the counted part is
// what the pipeline sustains) and then dur.
func run(client *http.Client, p phase, pool batches) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.warmup+p.dur)
	defer cancel()
	countFrom := time.Now().Add(p.warmup)
	var next atomic.Uint64
	var mu sync.Mutex
	res := result{name: p.name, errors: map[string]int{}}
	var wg sync.WaitGroup
	for range p.concurrency {
		wg.Go(func() {
			var w result
			w.errors = map[string]int{}
			for ctx.Err() == nil {
				b := pool.get(next.Add(1))
				t0 := time.Now()
				status, err := post(ctx, client, p.url, p.body(b))
				t1 := time.Now()
				if ctx.Err() != nil || t0.Before(countFrom) {
					continue // cut off by the end, or warming up
				}
				w.requests++
				switch {
				case err != nil:
					w.errors["error: "+errKind(err)]++
				case status/100 != 2:
					w.errors[fmt.Sprint(status)]++
				default:
					w.alerts += b.alerts
					w.latencies = append(w.latencies, t1.Sub(t0))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.requests += w.requests
			res.alerts += w.alerts
			res.latencies = append(res.latencies, w.latencies...)
			for k, v := range w.errors {
				res.errors[k] += v
			}
		})
	}
	wg.Wait()
	res.elapsed = p.dur
	slices.Sort(res.latencies)
	if res.requests == 0 {
		return res, fmt.Errorf("%s: no request completed within %s after the %s warm-up: is %s answering?", p.name, p.dur, p.warmup, p.url)
	}
	return res, nil
}

func post(ctx context.Context, client *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	// Read to the end, so the connection goes back to the pool.
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// errKind shortens a transport error to a countable kind.
func errKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "connection reset"):
		return "connection reset"
	}
	return err.Error()
}

func (r result) alertsPerSec() float64 { return float64(r.alerts) / r.elapsed.Seconds() }

func (r result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(q*float64(len(r.latencies)-1))]
}

func (r result) errorSummary() string {
	if len(r.errors) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.errors)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, r.errors[k]))
	}
	return strings.Join(parts, " ")
}
