package clickhouse

import (
	"errors"
	"fmt"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// PermanentError is a write the server or driver refused for good: the
// statement or the data is wrong, so retrying cannot help. Route the batch
// to a dead-letter place (WriteDeadLetters, or the dead-letter topic) and
// move on. Detect it with errors.As or IsPermanent.
type PermanentError struct {
	Table string
	Err   error
}

func (e *PermanentError) Error() string {
	hint := "send the batch to the dead letters"
	var ex *ch.Exception
	if errors.As(e.Err, &ex) && schemaCodes[ex.Code] {
		hint = "the schema is missing or old: run quell migrate, then replay the dead letters"
	}
	return fmt.Sprintf("clickhouse: writing %s failed permanently (%s): %v", e.Table, hint, e.Err)
}

// schemaCodes are server errors that mean the schema is not what this
// version of quell writes.
var schemaCodes = map[int32]bool{
	16: true, // NO_SUCH_COLUMN_IN_TABLE
	60: true, // UNKNOWN_TABLE
	81: true, // UNKNOWN_DATABASE
}

func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent tells whether err (or one it wraps) is a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// transientCodes are server errors about load or the network, worth
// retrying; any other server exception means the request itself is wrong.
var transientCodes = map[int32]bool{
	159: true, // TIMEOUT_EXCEEDED
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203: true, // NO_FREE_CONNECTION
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	236: true, // ABORTED
	241: true, // MEMORY_LIMIT_EXCEEDED
	242: true, // TABLE_IS_READ_ONLY
	252: true, // TOO_MANY_PARTS
	319: true, // UNKNOWN_STATUS_OF_INSERT
	394: true, // QUERY_WAS_CANCELLED
	425: true, // SYSTEM_ERROR
	999: true, // KEEPER_EXCEPTION
}

// retryable tells whether err from a server round trip may pass on retry.
// Errors that are not server exceptions (refused or reset connections, a
// pool timeout, EOF) are the network's and are retried.
func retryable(err error) bool {
	var ex *ch.Exception
	if errors.As(err, &ex) {
		return transientCodes[ex.Code]
	}
	return true
}
