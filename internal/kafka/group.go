package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// group is one process's membership of a consumer group of one topic, on
// Kafka's classic group protocol with kafka-go's "range" assignment (so
// that members of either kind may share a group). It exists because
// kafka-go's ConsumerGroup cannot name a static member (group.instance.id,
// KIP-345): a correlator that crashed and restarts would wait out its old
// member's session before anyone got its partitions. Named, the restarted
// process takes its old place and partitions as soon as it joins, without
// a rebalance.
type group struct {
	tr       *kafkago.Transport // the client's; closed on leave
	client   *kafkago.Client
	id       string
	instance string // static member name; "" for a new member each start
	topic    string
	member   string // the id the coordinator gave this member
	log      *slog.Logger
}

const (
	// sessionTimeout: a member gone without leaving loses its partitions
	// after this (a named one that comes back takes them at once).
	sessionTimeout = 10 * time.Second
	// rebalanceTimeout: how long members have to release their partitions
	// (a release saves the partition's state: up to 10 s) and rejoin.
	rebalanceTimeout = 20 * time.Second
	// heartbeatEvery: a rebalance is noticed within this.
	heartbeatEvery = time.Second
	joinBackoff    = time.Second
	// groupProtocol is kafka-go's RangeGroupBalancer's name; assign splits
	// partitions the same way.
	groupProtocol = "range"
)

// errFenced: another process joined with this member's instance name.
var errFenced = errors.New("another process joined the consumer group with this instance id")

func newGroup(brokers []string, id, instance, topic string, log *slog.Logger) *group {
	// Its own connections: a join waits at the coordinator for the whole
	// rebalance, and nothing else should queue behind it.
	tr := newTransport([]string{topic})
	return &group{tr: tr, client: &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr}, id: id, instance: instance, topic: topic, log: log}
}

// generation is one assignment of partitions to this member. It ends when
// the group rebalances, a heartbeat fails, its context ends, or one of its
// workers returns; the member rejoins once every worker returned.
type generation struct {
	g        *group
	id       int
	member   string
	assigned []int
	ctx      context.Context
	end      context.CancelCauseFunc
	workers  sync.WaitGroup
	// Heartbeats go on until every worker returned (released), and
	// beating closes once they stopped.
	released context.Context
	release  context.CancelFunc
	beating  chan struct{}
}

// join joins the group (a rebalance, unless a named member takes its old
// place) and starts heartbeats for the generation it gets. While the
// coordinator is moving or loading the group (a broker just started), it
// asks again for up to rebalanceTimeout.
func (g *group) join(ctx context.Context) (*generation, error) {
	patience := time.Now().Add(rebalanceTimeout)
	for {
		jctx, cancel := context.WithTimeout(ctx, rebalanceTimeout+5*time.Second)
		res, err := g.client.JoinGroup(jctx, &kafkago.JoinGroupRequest{
			GroupID: g.id, MemberID: g.member, GroupInstanceID: g.instance,
			SessionTimeout: sessionTimeout, RebalanceTimeout: rebalanceTimeout,
			ProtocolType: "consumer",
			Protocols:    []kafkago.GroupProtocol{{Name: groupProtocol, Metadata: kafkago.GroupProtocolSubscription{Topics: []string{g.topic}}}},
		})
		cancel()
		if err == nil {
			err = res.Error
		}
		switch {
		case errors.Is(err, kafkago.MemberIDRequired):
			g.member = res.MemberID // a new dynamic member joins again with the id it was given
			continue
		case errors.Is(err, kafkago.UnknownMemberId):
			g.member = ""
			return nil, err
		case errors.Is(err, kafkago.FencedInstanceID):
			return nil, errFenced
		case coordinatorBusy(err) && time.Now().Before(patience):
			if err := sleep(ctx, joinBackoff/4); err != nil {
				return nil, err
			}
			continue
		case err != nil:
			return nil, err
		}
		g.member = res.MemberID
		var assignments []kafkago.SyncGroupRequestAssignment
		if res.LeaderID == res.MemberID {
			if assignments, err = g.assign(ctx, res.Members); err != nil {
				return nil, err
			}
		}
		sctx, cancel := context.WithTimeout(ctx, rebalanceTimeout+5*time.Second)
		synced, err := g.client.SyncGroup(sctx, &kafkago.SyncGroupRequest{
			GroupID: g.id, GenerationID: res.GenerationID, MemberID: g.member, GroupInstanceID: g.instance,
			ProtocolType: "consumer", ProtocolName: groupProtocol, Assignments: assignments,
		})
		cancel()
		if err == nil {
			err = synced.Error
		}
		switch {
		case errors.Is(err, kafkago.RebalanceInProgress):
			continue // another member came or went meanwhile: join that rebalance
		case errors.Is(err, kafkago.FencedInstanceID):
			return nil, errFenced
		case err != nil:
			return nil, err
		}
		gen := &generation{g: g, id: res.GenerationID, member: g.member, beating: make(chan struct{})}
		gen.released, gen.release = context.WithCancel(context.Background())
		gen.assigned = slices.Sorted(slices.Values(synced.Assignment.AssignedPartitions[g.topic]))
		gen.ctx, gen.end = context.WithCancelCause(ctx)
		go gen.heartbeat()
		return gen, nil
	}
}

// coordinatorBusy: the group's coordinator is loading it, or moving.
func coordinatorBusy(err error) bool {
	return errors.Is(err, kafkago.GroupLoadInProgress) || errors.Is(err, kafkago.GroupCoordinatorNotAvailable) || errors.Is(err, kafkago.NotCoordinatorForGroup)
}

// assign is the leader's work: the topic's partitions in contiguous
// ranges over the members ordered by id, as kafka-go's RangeGroupBalancer
// (and Kafka's RangeAssignor) splits them. A named member's id starts with
// its name, so assignments stay put across restarts.
func (g *group) assign(ctx context.Context, members []kafkago.JoinGroupResponseMember) ([]kafkago.SyncGroupRequestAssignment, error) {
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := g.client.Metadata(mctx, &kafkago.MetadataRequest{Topics: []string{g.topic}})
	if err != nil {
		return nil, fmt.Errorf("reading the partitions of %s to assign them: %w", g.topic, err)
	}
	var partitions []int
	for _, t := range md.Topics {
		if t.Name == g.topic {
			if t.Error != nil {
				return nil, fmt.Errorf("reading the partitions of %s to assign them: %w", g.topic, t.Error)
			}
			for _, p := range t.Partitions {
				partitions = append(partitions, p.ID)
			}
		}
	}
	slices.Sort(partitions)
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	slices.Sort(ids)
	out := make([]kafkago.SyncGroupRequestAssignment, len(ids))
	for i, id := range ids {
		out[i] = kafkago.SyncGroupRequestAssignment{MemberID: id, Assignment: kafkago.GroupProtocolAssignment{
			AssignedPartitions: map[string][]int{g.topic: partitions[i*len(partitions)/len(ids) : (i+1)*len(partitions)/len(ids)]},
		}}
	}
	return out, nil
}

// heartbeat keeps the member in the group until its workers released the
// generation's partitions (a release saves state, and the partitions must
// not move before that), and ends the generation when the group rebalances
// or no longer knows the member.
func (gen *generation) heartbeat() {
	defer close(gen.beating)
	g := gen.g
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	last := time.Now() // of the last heartbeat the coordinator answered
	for {
		select {
		case <-gen.released.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(gen.released, heartbeatEvery)
		res, err := g.client.Heartbeat(ctx, &kafkago.HeartbeatRequest{
			GroupID: g.id, GenerationID: int32(gen.id), MemberID: gen.member, GroupInstanceID: g.instance,
		})
		cancel()
		if err != nil {
			// The coordinator did not answer: the session may still hold.
			if time.Since(last) > sessionTimeout {
				gen.end(fmt.Errorf("no heartbeat answered for %s: %w", time.Since(last).Round(time.Second), err))
			}
			continue
		}
		last = time.Now()
		switch err := heartbeatError(res); {
		case err == nil:
		case errors.Is(err, kafkago.RebalanceInProgress):
			gen.end(err) // heartbeats go on: they hold the session while the partitions are released
		case errors.Is(err, kafkago.FencedInstanceID):
			gen.end(errFenced)
			return
		default: // unknown member, illegal generation: this generation is over
			gen.end(err)
			return
		}
	}
}

// heartbeatError is the error a heartbeat's answer carries. kafka-go
// v0.4.51 reads that answer's fields in the wrong order (since version 1
// the throttle time comes first; segmentio/kafka-go#1371), so the error
// code arrives as the low 16 bits of Throttle's milliseconds, and Error
// holds the throttle's high bits: zero but for a throttle over 65 s, and
// right for a version 0 answer, which has no throttle. The group tests
// fail if that changes.
func heartbeatError(res *kafkago.HeartbeatResponse) error {
	if res.Error != nil {
		return res.Error
	}
	if code := int16(uint16(res.Throttle.Milliseconds())); code != 0 {
		return kafkago.Error(code)
	}
	return nil
}

// start runs work on the generation; when work returns, the generation
// ends for every partition, so that the member rejoins and work restarts
// from its checkpoint.
func (gen *generation) start(work func(ctx context.Context)) {
	gen.workers.Go(func() {
		defer gen.end(errors.New("a partition's work ended"))
		work(gen.ctx)
	})
}

// wait returns once the generation ended, every worker returned and
// heartbeats stopped, with why it ended.
func (gen *generation) wait() error {
	<-gen.ctx.Done()
	gen.workers.Wait()
	gen.release()
	<-gen.beating
	err := context.Cause(gen.ctx)
	if errors.Is(err, kafkago.UnknownMemberId) || errors.Is(err, errFenced) {
		// The coordinator forgot the member, or its place is another
		// process's now: join anew, and leave nothing.
		gen.g.member = ""
	}
	return err
}

// commit records offsets (by partition) as the group's, for lag.
func (gen *generation) commit(ctx context.Context, offsets map[int]int64) error {
	req := &kafkago.OffsetCommitRequest{GroupID: gen.g.id, GenerationID: gen.id, MemberID: gen.member, InstanceID: gen.g.instance,
		Topics: map[string][]kafkago.OffsetCommit{}}
	for p, o := range offsets {
		req.Topics[gen.g.topic] = append(req.Topics[gen.g.topic], kafkago.OffsetCommit{Partition: p, Offset: o})
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := gen.g.client.OffsetCommit(ctx, req)
	if err != nil {
		return err
	}
	for _, ps := range res.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, p.Error)
			}
		}
	}
	return nil
}

// leave tells the coordinator the member is gone, so that the others take
// its partitions now instead of after its session: also for a named member,
// which would otherwise keep them for its return.
func (g *group) leave() {
	defer g.tr.CloseIdleConnections()
	if g.member == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := g.client.LeaveGroup(ctx, &kafkago.LeaveGroupRequest{GroupID: g.id,
		Members: []kafkago.LeaveGroupRequestMember{{ID: g.member, GroupInstanceID: g.instance}}})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		g.log.Warn("leaving the consumer group failed; its partitions move once the session ends", "session", sessionTimeout, "err", err)
	}
}
