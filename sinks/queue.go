package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell"
)

// The delivery machinery in this file is shared by webhooks and the ITSM sinks
// (package sinks/itsm): one queue, one goroutine, so changes go out in the
// order the correlator made them.

// SendFunc sends one change once. A nil error means delivered; a *Permanent
// error dead-letters the change at once; any other error is retried, after
// the wait a *RetryAfter asks for.
type SendFunc func(ctx context.Context, c quell.IncidentChange) error

// RetryAfter is a transient failure whose receiver named how long to wait.
type RetryAfter struct {
	Wait time.Duration
	Err  error
}

func (r *RetryAfter) Error() string { return r.Err.Error() }
func (r *RetryAfter) Unwrap() error { return r.Err }

// CheckResponse turns a response into nil (2xx), a *RetryAfter (408, 429,
// 5xx: worth retrying) or a *Permanent error (any other status), quoting
// the start of the body the receiver explained itself in. what names the
// request in the message. It reads the body only on failure.
func CheckResponse(resp *http.Response, what string) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	err := fmt.Errorf("%s answered %s: %s", what, resp.Status, bytes.TrimSpace(msg))
	if code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 {
		return &RetryAfter{Wait: retryAfter(resp.Header.Get("Retry-After")), Err: err}
	}
	return &Permanent{err}
}

// Delivery is how a queued sink delivers, inline in each one's config:
// the timeout of one request, how long one change is retried before it is
// dead-lettered, and how many changes may wait (a full queue pushes back on
// the correlator).
type Delivery struct {
	Timeout    time.Duration `yaml:"timeout"`
	MaxElapsed time.Duration `yaml:"max_elapsed"`
	Queue      int           `yaml:"queue"`
}

// Defaults fills what is unset.
func (d *Delivery) Defaults() {
	if d.Timeout <= 0 {
		d.Timeout = 10 * time.Second
	}
	if d.MaxElapsed <= 0 {
		d.MaxElapsed = 10 * time.Minute
	}
	if d.Queue <= 0 {
		d.Queue = 10000
	}
}

// QueueConfig sizes a Queue.
type QueueConfig struct {
	// Name is the sink's name in logs and dead letters.
	Name string
	// Size bounds the changes waiting; a full queue pushes back on Write.
	Size int
	// MaxElapsed bounds the retries of one change; then it is dead-lettered.
	MaxElapsed time.Duration
}

// QueueMetrics counts what a Queue did.
type QueueMetrics struct {
	Delivered, Retries, DeadLetters prometheus.Counter
}

// NewQueueMetrics makes and registers quell_<subsystem>_delivered_total,
// _retries_total and _deadletters_total for one sink (reg may be nil);
// what says what kind of sink it is in the help texts.
func NewQueueMetrics(subsystem, what, sink string, reg prometheus.Registerer) QueueMetrics {
	labels := prometheus.Labels{"sink": sink}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "quell_" + subsystem + "_" + name, Help: help, ConstLabels: labels})
	}
	m := QueueMetrics{
		Delivered:   counter("delivered_total", "Incident changes delivered by "+what+" sinks."),
		Retries:     counter("retries_total", "Retried "+what+" requests."),
		DeadLetters: counter("deadletters_total", "Incident changes "+what+" sinks gave up on (see the dead-letter file)."),
	}
	if reg != nil {
		reg.MustRegister(m.Delivered, m.Retries, m.DeadLetters)
	}
	return m
}

// Queue delivers incident changes one at a time, in order, retrying
// transient failures with exponential backoff (honouring Retry-After) and
// keeping permanent ones as dead letters.
type Queue struct {
	cfg     QueueConfig
	send    SendFunc
	changes chan quell.IncidentChange
	done    chan struct{}
	stop    context.CancelFunc
	dead    *DeadLetters
	log     *slog.Logger
	metrics QueueMetrics
	// given and finished count changes written and delivered or
	// dead-lettered (see Holder).
	given, finished atomic.Uint64
}

// NewQueue starts the delivery goroutine; Close stops it.
func NewQueue(cfg QueueConfig, send SendFunc, dead *DeadLetters, log *slog.Logger, m QueueMetrics) *Queue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{cfg: cfg, send: send, changes: make(chan quell.IncidentChange, cfg.Size), done: make(chan struct{}),
		stop: cancel, dead: dead, log: log, metrics: m}
	go q.run(ctx)
	return q
}

func (q *Queue) Name() string { return q.cfg.Name }

// Ready fails while the queue is full.
func (q *Queue) Ready() error {
	if len(q.changes) == cap(q.changes) {
		return fmt.Errorf("%s: queue full (%d changes waiting; is the receiver down?)", q.cfg.Name, cap(q.changes))
	}
	return nil
}

// Write queues the batch's changes, waiting while the queue is full.
func (q *Queue) Write(ctx context.Context, b Batch) error {
	for _, c := range b.Changes {
		select {
		case q.changes <- c:
			q.given.Add(1)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close delivers what is queued, until ctx ends; what is left then is
// dead-lettered rather than lost.
func (q *Queue) Close(ctx context.Context) error {
	close(q.changes)
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		q.stop()
		<-q.done
		return nil
	}
}

func (q *Queue) run(ctx context.Context) {
	defer close(q.done)
	for c := range q.changes {
		q.finish(ctx, c)
		q.finished.Add(1)
	}
}

// Holding reports whether the queue finished the changes given so far;
// they are finished in order.
func (q *Queue) Holding() func() bool {
	given := q.given.Load()
	return func() bool { return q.finished.Load() >= given }
}

// finish delivers c or keeps it as a dead letter.
func (q *Queue) finish(ctx context.Context, c quell.IncidentChange) {
	err := q.deliver(ctx, c)
	if err == nil {
		q.metrics.Delivered.Inc()
		return
	}
	q.metrics.DeadLetters.Inc()
	q.log.Error("incident change not delivered; kept as a dead letter", "incident", c.Incident.ID, "kind", c.Kind, "seq", c.Seq, "err", err, "deadletters", q.dead.Path())
	if derr := q.dead.Add(q.cfg.Name, err.Error(), c); derr != nil {
		q.log.Error("dead letter not written", "err", derr)
	}
}

// deliver sends one change, retrying until it is delivered, fails
// permanently, or MaxElapsed has passed.
func (q *Queue) deliver(ctx context.Context, c quell.IncidentChange) error {
	deadline := time.Now().Add(q.cfg.MaxElapsed)
	backoff := 200 * time.Millisecond
	for {
		err := q.send(ctx, c)
		if err == nil {
			return nil
		}
		if IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		wait := backoff
		var ra *RetryAfter
		if errors.As(err, &ra) && ra.Wait > wait {
			wait = ra.Wait
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("gave up after %s: %w", q.cfg.MaxElapsed, err)
		}
		q.metrics.Retries.Inc()
		q.log.Warn("delivery failed, retrying", "incident", c.Incident.ID, "in", wait, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("shut down while retrying: %w", err)
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}
