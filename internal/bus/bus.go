// Package bus carries normalized alerts from ingest to the correlator: in
// process by default, or over Kafka when brokers are configured.
package bus

import (
	"context"
	"fmt"

	"github.com/quellhq/quell"
)

// Publisher accepts alerts from ingest. Publish returns nil only once the bus
// holds the alerts (in Kafka: acknowledged by all in-sync replicas); an error
// means none of them may be assumed accepted, and the sender should retry.
type Publisher interface {
	Publish(ctx context.Context, alerts []quell.Alert) error
}

// Handler processes one batch. Its error stops the subscription; a bus that
// tracks offsets commits a batch only after its handler returned nil.
type Handler func(ctx context.Context, batch []quell.Alert) error

// Subscriber delivers published batches to a handler until ctx ends.
type Subscriber interface {
	Subscribe(ctx context.Context, h Handler) error
}

// TooLarge is a Publish error: the record of the Index-th value would be
// Bytes long, more than the Limit the bus carries. Nothing of the call was
// published, and no retry can change that.
type TooLarge struct {
	Topic               string
	Index, Bytes, Limit int
}

func (e *TooLarge) Error() string {
	return fmt.Sprintf("record %d for %s is %d bytes, over the %d bytes a record may take", e.Index, e.Topic, e.Bytes, e.Limit)
}
