// Package sinks delivers what the correlator decides: incident changes to
// ITSM and chat tools, decisions and incidents to storage.
package sinks

import (
	"context"
	"errors"

	"github.com/quellhq/quell"
)

// Batch is what one step of the correlator produced.
type Batch struct {
	Decisions []quell.Decision
	Changes   []quell.IncidentChange
}

// Sink receives batches in order. Write returns once the sink holds the
// batch (delivered, or queued within its bound); an error stops the
// pipeline's acknowledgement upstream, so the batch is delivered again.
// The batch's slices are reused once Write returns: a sink copies what it
// keeps.
type Sink interface {
	Name() string
	Write(ctx context.Context, b Batch) error
	// Close delivers what is queued and releases the sink.
	Close(ctx context.Context) error
}

// Readier is a sink that can say it cannot take more: /readyz fails while
// one of them is full, so a load balancer sends alerts to instances that
// can accept them. A sink that merely cannot deliver (its receiver is down)
// but still has room stays ready: holding is its job.
type Readier interface {
	Ready() error
}

// Resumer is a sink that keeps a log of its own (the decision log file).
// Embedded mode stores its Mark beside each saved correlator state and,
// after a crash, calls Resume with it before handling the journal again:
// what the sink wrote after the mark is the same decisions made again, so
// it writes them once only.
type Resumer interface {
	Sink
	Mark() int64
	Resume(mark int64) error
}

// Holder is a sink that holds what it is given in memory until it is
// delivered or dead-lettered (the queued sinks). Embedded mode saves its
// state only once every holder has finished what it held at that point, so
// a crash loses nothing the saved state covers: what comes after it is
// decided and given again.
type Holder interface {
	Sink
	// Holding returns a check that reports whether the sink has finished
	// (delivered or dead-lettered) everything it was given before the call.
	Holding() func() bool
}

// Permanent marks an error that retrying cannot fix (a 4xx, a payload the
// receiver refuses): the item goes to the dead-letter place, not back.
type Permanent struct{ Err error }

func (p *Permanent) Error() string { return "permanent: " + p.Err.Error() }
func (p *Permanent) Unwrap() error { return p.Err }

// IsPermanent reports whether err, or an error it wraps, is Permanent.
func IsPermanent(err error) bool {
	var p *Permanent
	return errors.As(err, &p)
}
