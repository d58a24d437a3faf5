package kafka

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// A correlator restarted under its instance id after a crash takes its old
// place and partitions at once: same generation, no rebalance, no wait for
// the crashed member's session. The crashed process, were it still running,
// is fenced at its next heartbeat.
func TestNamedMemberTakesItsPartitionsBackAtOnce(t *testing.T) {
	brokers, log := broker(t)
	topic, _ := topics(t, brokers, log, 4)
	id := unique(t, "group")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	first := newGroup(brokers, id, "correlate-a", topic, log)
	gen1, err := first.join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gen1.assigned, []int{0, 1, 2, 3}) {
		t.Fatalf("the only member got partitions %v, want all four", gen1.assigned)
	}

	// The restart: a new process, the same name; the first never left.
	again := newGroup(brokers, id, "correlate-a", topic, log)
	gen2, err := again.join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gen2.assigned, gen1.assigned) || gen2.id != gen1.id || gen2.member == gen1.member {
		t.Fatalf("restarted member: generation %d, member %s, partitions %v; want generation %d (no rebalance), a new member id (not %s), partitions %v",
			gen2.id, gen2.member, gen2.assigned, gen1.id, gen1.member, gen1.assigned)
	}
	select {
	case <-gen1.ctx.Done():
		if err := context.Cause(gen1.ctx); !errors.Is(err, errFenced) {
			t.Fatalf("the replaced member's generation ended with %v, want it fenced", err)
		}
	case <-time.After(sessionTimeout):
		t.Fatal("the replaced member was not fenced: two processes would work on the same partitions")
	}
	gen1.wait()

	// Leaving on shutdown hands the partitions over now, named or not.
	gen2.end(context.Canceled)
	gen2.wait()
	again.leave()
	res, err := again.client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 1 || len(res.Groups[0].Members) != 0 {
		t.Fatalf("after the named member left, the group is %+v; want it without members", res.Groups)
	}
}

// Members joining one after another rebalance: the first notices at a
// heartbeat, releases, rejoins, and the two split the partitions between
// them as kafka-go's range balancer would.
func TestMembersSplitThePartitions(t *testing.T) {
	brokers, log := broker(t)
	topic, _ := topics(t, brokers, log, 5)
	id := unique(t, "group")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	a, b := newGroup(brokers, id, "", topic, log), newGroup(brokers, id, "", topic, log)
	genA, err := a.join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	joined := make(chan *generation, 1)
	go func() {
		gen, err := b.join(ctx)
		if err != nil {
			t.Error(err)
		}
		joined <- gen
	}()
	if err := genA.wait(); !errors.Is(err, kafkago.RebalanceInProgress) {
		t.Fatalf("the first member's generation ended with %v, want a rebalance", err)
	}
	genA, err = a.join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	genB := <-joined
	if genB == nil {
		t.FailNow()
	}
	both := slices.Sorted(slices.Values(append(slices.Clone(genA.assigned), genB.assigned...)))
	if !slices.Equal(both, []int{0, 1, 2, 3, 4}) || len(genA.assigned) < 2 || len(genB.assigned) < 2 || genA.id != genB.id {
		t.Fatalf("after the rebalance: %v (generation %d) and %v (generation %d); want five partitions split 2/3 in one generation",
			genA.assigned, genA.id, genB.assigned, genB.id)
	}
	for _, gen := range []*generation{genA, genB} {
		gen.end(context.Canceled)
		gen.wait()
	}
	a.leave()
	b.leave()
}
