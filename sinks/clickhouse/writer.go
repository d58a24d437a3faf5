package clickhouse

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/quellhq/quell"
)

// Writer inserts quell's records in columnar batches, one INSERT per table
// per call. It is safe for concurrent use.
//
// A call returns nil, a *PermanentError (dead-letter the batch), or another
// error once retries are spent or ctx ends (keep the batch and try again
// later). Tables written despite a failure keep their rows; writing the
// whole batch again is safe, since every table dedupes by row identity.
type Writer struct {
	conn    driver.Conn
	log     *slog.Logger
	backoff Backoff
	// observe, when set, hears of every insert attempt (the Sink's metrics).
	observe func(table string, rows int, err error)
	// storeRepeats: repeats as rows too (SinkConfig.StoreRepeats).
	storeRepeats bool
}

// NewWriter writes through conn (see Open). A zero Backoff means
// DefaultBackoff.
func NewWriter(conn driver.Conn, log *slog.Logger, b Backoff) *Writer {
	if b.Attempts <= 0 {
		b = DefaultBackoff
	}
	return &Writer{conn: conn, log: log, backoff: b}
}

// WriteDecisions stores each decision: unless it was a repeat, its alert
// occurrence (alerts), the decision itself (decisions) and the alert's
// state change (alert_state_changes); a repeat is counted (repeats, see
// decisionInserts) and stored as rows only with StoreRepeats.
func (w *Writer) WriteDecisions(ctx context.Context, ds []quell.Decision) error {
	return w.write(ctx, decisionInserts(ds, w.storeRepeats)...)
}

// StoreRepeats makes the writer store repeats as rows too.
func (w *Writer) StoreRepeats() { w.storeRepeats = true }

// WriteIncidentChanges stores each change (incident_changes), the incident
// as it now is (incidents) and its member alerts (incident_members).
func (w *Writer) WriteIncidentChanges(ctx context.Context, cs []quell.IncidentChange) error {
	return w.write(ctx, incidentInserts(cs, nil)...)
}

// WriteDeadLetters stores records that could not be processed or stored.
func (w *Writer) WriteDeadLetters(ctx context.Context, ls []DeadLetter) error {
	return w.write(ctx, deadLetterInsert(ls))
}

// write sends the inserts side by side, each on a connection of its own:
// one after the other, the server's round trips added up, and its parts and
// views for one table wait for nothing of another's. A transient failure
// wins over a permanent one: the batch is written again, not dead-lettered
// while a retry could still store it.
func (w *Writer) write(ctx context.Context, ins ...insert) error {
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		if in.rows > 0 {
			wg.Go(func() { errs[i] = w.retry(ctx, in) })
		}
	}
	wg.Wait()
	var permanent error
	for _, err := range errs {
		switch {
		case err == nil:
		case !IsPermanent(err):
			return err
		case permanent == nil:
			permanent = err
		}
	}
	return permanent
}

// retry sends one insert until it succeeds, fails permanently, or the
// backoff gives up. Resending after a failed Send is safe even when the
// server did store the block: the row identities dedupe it.
func (w *Writer) retry(ctx context.Context, in insert) error {
	for attempt := 1; ; attempt++ {
		err := w.send(ctx, in)
		if w.observe != nil {
			w.observe(in.table, in.rows, err)
		}
		switch {
		case err == nil:
			return nil
		case IsPermanent(err):
			return err
		case ctx.Err() != nil:
			return fmt.Errorf("clickhouse: writing %d rows to %s stopped: %w", in.rows, in.table, ctx.Err())
		case !retryable(err):
			return &PermanentError{Table: in.table, Err: err}
		case attempt >= w.backoff.Attempts:
			return fmt.Errorf("clickhouse: writing %d rows to %s failed %d times, last: %w (is the server up? the batch was not stored: keep it and retry)",
				in.rows, in.table, attempt, err)
		}
		w.log.Warn("clickhouse write failed; retrying", "table", in.table, "rows", in.rows, "attempt", attempt, "err", err)
		if err := w.backoff.wait(ctx, attempt); err != nil {
			return fmt.Errorf("clickhouse: writing %d rows to %s stopped: %w", in.rows, in.table, err)
		}
	}
}

func (w *Writer) send(ctx context.Context, in insert) error {
	b, err := w.conn.PrepareBatch(ctx, in.query())
	if err != nil {
		return err
	}
	for lo := 0; lo < in.rows; lo += insertBlock {
		hi := min(lo+insertBlock, in.rows)
		for i, c := range in.cols {
			if err := b.Column(i).Append(rowsOf(c.data, lo, hi, in.rows)); err != nil {
				// The driver could not convert our values to the table's column
				// type: a schema mismatch that no retry fixes.
				b.Abort()
				return &PermanentError{Table: in.table, Err: fmt.Errorf("column %s: %w (its type differs from what quell writes: run quell migrate)", c.name, err)}
			}
		}
		if hi < in.rows {
			if err := b.Flush(); err != nil {
				b.Abort()
				return err
			}
		}
	}
	return b.Send()
}

// insertBlock is the rows an insert sends per block. The driver's columns
// grow by appends, a quarter at a time, and are reused from one block of an
// insert to the next: in blocks, an insert's buffers grow to one block's
// size once, instead of growing, copy by copy, to the whole batch's (about
// five times its bytes allocated, a third of all quell allocated under
// load). The blocks stay one INSERT, sent and answered as one.
const insertBlock = 16384

// rowsOf is rows [lo, hi) of a column's values (a slice of n).
func rowsOf(data any, lo, hi, n int) any {
	if lo == 0 && hi == n {
		return data
	}
	return reflect.ValueOf(data).Slice(lo, hi).Interface()
}
