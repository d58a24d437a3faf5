package kafka

import (
	"context"
	"net"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
)

// countingTransport answers metadata requests with answer and counts them.
type countingTransport struct {
	asked  int
	answer *metadata.Response
}

func (c *countingTransport) RoundTrip(context.Context, net.Addr, kafkago.Request) (kafkago.Response, error) {
	c.asked++
	return c.answer, nil
}

// A Writer asks for its topic's partitions once per message: the answer is
// reused for a while, an answer with an error is not, and requests for
// other topics are not answered from it.
func TestTopicMetadataReusesGoodAnswers(t *testing.T) {
	ctx := context.Background()
	inner := &countingTransport{answer: &metadata.Response{Topics: []metadata.ResponseTopic{{Name: "quell.alerts", Partitions: make([]metadata.ResponsePartition, 6)}}}}
	tm := &topicMetadata{RoundTripper: inner, topic: "quell.alerts"}
	ask := func(topic string) *metadata.Response {
		res, err := tm.RoundTrip(ctx, nil, &metadata.Request{TopicNames: []string{topic}})
		if err != nil {
			t.Fatal(err)
		}
		return res.(*metadata.Response)
	}
	for range 100 {
		if got := len(ask("quell.alerts").Topics[0].Partitions); got != 6 {
			t.Fatalf("%d partitions, want 6", got)
		}
	}
	if inner.asked != 1 {
		t.Fatalf("100 requests for the topic's metadata reached the transport %d times, want 1", inner.asked)
	}
	ask("quell.decisions")
	if inner.asked != 2 {
		t.Fatal("a request for another topic was answered from the cache")
	}
	tm.at = time.Now().Add(-2 * metadataFor)
	ask("quell.alerts")
	if inner.asked != 3 {
		t.Fatal("an answer older than metadataFor was reused")
	}

	failing := &countingTransport{answer: &metadata.Response{Topics: []metadata.ResponseTopic{{Name: "quell.alerts", ErrorCode: int16(kafkago.LeaderNotAvailable)}}}}
	tm = &topicMetadata{RoundTripper: failing, topic: "quell.alerts"}
	ask("quell.alerts")
	ask("quell.alerts")
	if failing.asked != 2 {
		t.Fatalf("an answer with an error was reused (transport asked %d times, want 2)", failing.asked)
	}
}
