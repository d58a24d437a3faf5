// Package kafka joins quell's stages over Apache Kafka (segmentio/kafka-go):
// topic setup, a typed producer that returns only once the broker holds the
// records, and a consumer-group subscriber that commits offsets only after its
// handler succeeded, parking undecodable messages in a dead-letter topic.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// quell's topics.
const (
	TopicAlerts     = "quell.alerts"     // normalized alerts, keyed by correlation scope
	TopicIncidents  = "quell.incidents"  // incident changes, keyed by incident id
	TopicDecisions  = "quell.decisions"  // one decision record per alert occurrence, keyed by incident id
	TopicDeadLetter = "quell.deadletter" // messages a stage could not decode, and stand-ins for output too large to write, with the reason in headers
	TopicState      = "quell.state"      // compacted: the latest stage state per key, read back on restart
)

// TopicSpec is a topic as EnsureTopics creates it.
type TopicSpec struct {
	Name              string
	Partitions        int
	ReplicationFactor int
	// Compacted keeps the latest record per key instead of deleting by age.
	Compacted bool
	// Config holds further topic settings (name: value).
	Config map[string]string
}

// Names are the topics of one quell deployment. NamesFor("quell") gives
// the documented quell.alerts, quell.incidents, …; another prefix lets two
// deployments (or tests) share a cluster without meeting.
type Names struct {
	Alerts, Incidents, Decisions, DeadLetter, State string
}

// NamesFor returns the topics named prefix.alerts, prefix.incidents, ….
func NamesFor(prefix string) Names {
	return Names{
		Alerts: prefix + ".alerts", Incidents: prefix + ".incidents", Decisions: prefix + ".decisions",
		DeadLetter: prefix + ".deadletter", State: prefix + ".state",
	}
}

// Topics returns quell's topics. partitions bounds how many instances of a
// stage can share the work; replication is 1 for a single local broker and
// usually 3 in production.
func Topics(n Names, partitions, replication int) []TopicSpec {
	return []TopicSpec{
		{Name: n.Alerts, Partitions: partitions, ReplicationFactor: replication},
		// An incident's change carries all its alerts (up to
		// correlate.max_alerts): more than the default 1 MiB a batch.
		{Name: n.Incidents, Partitions: partitions, ReplicationFactor: replication, Config: map[string]string{
			"max.message.bytes": strconv.Itoa(maxIncidentRecord + 64<<10),
		}},
		{Name: n.Decisions, Partitions: partitions, ReplicationFactor: replication},
		// Low volume and read by people: one partition keeps it in arrival order.
		{Name: n.DeadLetter, Partitions: 1, ReplicationFactor: replication},
		// As many partitions as alerts: state partition p holds the state
		// of the correlator of alerts partition p (see state.go).
		{Name: n.State, Partitions: partitions, ReplicationFactor: replication, Compacted: true, Config: map[string]string{
			// Compaction skips the active segment: roll it often, and clean
			// once a tenth of the log is superseded, so that a restore
			// reads little more than the live state.
			"segment.ms":                "60000",
			"segment.bytes":             strconv.Itoa(64 << 20),
			"min.cleanable.dirty.ratio": "0.1",
			// Every changed value leaves a tombstone for its predecessor:
			// a minute is long enough for a reader that is restoring
			// (it reads a few seconds), far less than the default day.
			"delete.retention.ms": "60000",
		}},
	}
}

// EnsureTopics creates the topics that do not exist yet and waits until every
// topic has a leader for each partition. Existing topics are left alone; one
// whose partition count differs from its spec is logged, not changed.
func EnsureTopics(ctx context.Context, brokers []string, specs []TopicSpec, log *slog.Logger) error {
	tr := newTransport(nil)
	// kafka-go serves metadata requests from the transport's cache, which
	// waitForLeaders polls: refresh it often.
	tr.MetadataTTL = 200 * time.Millisecond
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr}

	req := &kafkago.CreateTopicsRequest{}
	for _, s := range specs {
		if s.Partitions < 1 || s.ReplicationFactor < 1 {
			return fmt.Errorf("topic %s: partitions (%d) and replication factor (%d) must be at least 1", s.Name, s.Partitions, s.ReplicationFactor)
		}
		tc := kafkago.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: s.ReplicationFactor}
		if s.Compacted {
			tc.ConfigEntries = []kafkago.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}
		}
		for k, v := range s.Config {
			tc.ConfigEntries = append(tc.ConfigEntries, kafkago.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		req.Topics = append(req.Topics, tc)
	}
	// A broker that just started answers before its controller has it
	// registered: retry what a moment fixes, for a while.
	err := retryTransient(ctx, createTopicsPatience, 200*time.Millisecond, 2*time.Second, log, "creating topics", func() error {
		return createTopics(ctx, client, req, specs, log)
	})
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("%w; check that the brokers %v are reachable (locally: deploy/local/kafka.sh start)", err, brokers)
	}
	return waitForLeaders(ctx, client, specs, log)
}

// createTopicsPatience bounds the retries of EnsureTopics.
const createTopicsPatience = 30 * time.Second

// retryTransient calls try until it succeeds, fails with an error that is
// not transient, or patience would pass; the waits double from first up
// to most. It returns try's last error, or ctx's once ctx ends.
func retryTransient(ctx context.Context, patience, first, most time.Duration, log *slog.Logger, what string, try func() error) error {
	deadline := time.Now().Add(patience)
	for backoff := first; ; backoff = min(2*backoff, most) {
		err := try()
		if err == nil || !transient(err) || time.Now().Add(backoff).After(deadline) {
			return err
		}
		log.Debug(what+": retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

func createTopics(ctx context.Context, client *kafkago.Client, req *kafkago.CreateTopicsRequest, specs []TopicSpec, log *slog.Logger) error {
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	var existing []TopicSpec
	for _, s := range specs {
		switch err := resp.Errors[s.Name]; {
		case err == nil:
			log.Info("created kafka topic", "topic", s.Name, "partitions", s.Partitions, "replication", s.ReplicationFactor, "compacted", s.Compacted)
		case errors.Is(err, kafkago.TopicAlreadyExists):
			existing = append(existing, s)
		default:
			return fmt.Errorf("creating topic %s: %w", s.Name, err)
		}
	}
	setConfigs(ctx, client, existing, log)
	return nil
}

// setConfigs gives topics that already existed their spec's settings: a
// topic made by an earlier version may lack one that quell now relies on
// (the incidents topic's max.message.bytes). Where the broker refuses (no
// permission), it says what to set by hand.
func setConfigs(ctx context.Context, client *kafkago.Client, specs []TopicSpec, log *slog.Logger) {
	req := &kafkago.IncrementalAlterConfigsRequest{}
	want := map[string]map[string]string{}
	for _, s := range specs {
		r := kafkago.IncrementalAlterConfigsRequestResource{ResourceType: kafkago.ResourceTypeTopic, ResourceName: s.Name}
		for k, v := range s.Config {
			r.Configs = append(r.Configs, kafkago.IncrementalAlterConfigsRequestConfig{Name: k, Value: v, ConfigOperation: kafkago.ConfigOperationSet})
		}
		if len(r.Configs) > 0 {
			req.Resources = append(req.Resources, r)
			want[s.Name] = s.Config
		}
	}
	if len(req.Resources) == 0 {
		return
	}
	refused := func(topic string, err error) {
		log.Warn("could not set the settings of an existing kafka topic; set them with kafka-configs.sh --alter", "topic", topic, "settings", want[topic], "err", err)
	}
	resp, err := client.IncrementalAlterConfigs(ctx, req)
	if err != nil {
		for _, r := range req.Resources {
			refused(r.ResourceName, err)
		}
		return
	}
	for _, r := range resp.Resources {
		if r.Error != nil {
			refused(r.ResourceName, r.Error)
		}
	}
}

// transient: an error a moment may fix (a broker still starting, a
// controller moving, the network).
func transient(err error) bool {
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		return kerr.Temporary() || kerr == kafkago.BrokerNotAvailable
	}
	var nerr net.Error
	return errors.As(err, &nerr) || errors.Is(err, syscall.ECONNREFUSED)
}

// waitForLeaders polls metadata until each topic's partitions have leaders,
// and then until every leader serves its partition: a topic just created is
// not writable until then, and a broker named leader answers "not leader"
// for a moment more (the stages' readers and writers logged it as a warning
// at every first start).
func waitForLeaders(ctx context.Context, client *kafkago.Client, specs []TopicSpec, log *slog.Logger) error {
	names := make([]string, len(specs))
	want := make(map[string]int, len(specs))
	for i, s := range specs {
		names[i] = s.Name
		want[s.Name] = s.Partitions
	}
	for {
		md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: names})
		if err != nil {
			return fmt.Errorf("reading metadata of topics %v: %w", names, err)
		}
		got := make(map[string]kafkago.Topic, len(md.Topics))
		for _, t := range md.Topics {
			got[t.Name] = t
		}
		pending := ""
		for _, n := range names {
			if t, ok := got[n]; !ok || !hasLeaders(t) {
				pending = n
				break
			}
		}
		var why error
		if pending == "" {
			pending, why = notServing(ctx, client, md.Topics)
		}
		if pending == "" {
			for _, t := range md.Topics {
				if len(t.Partitions) != want[t.Name] {
					log.Warn("kafka topic exists with another partition count; left as is",
						"topic", t.Name, "partitions", len(t.Partitions), "configured", want[t.Name])
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			if why != nil {
				return fmt.Errorf("waiting for the leaders of topic %s to serve it (%v): %w", pending, why, ctx.Err())
			}
			return fmt.Errorf("waiting for leaders of topic %s: %w", pending, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// notServing asks each partition's leader for its offsets, as a reader or
// writer does first, and returns a topic one of them did not answer for
// and why ("" once all did).
func notServing(ctx context.Context, client *kafkago.Client, topics []kafkago.Topic) (string, error) {
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for _, t := range topics {
		for _, p := range t.Partitions {
			req.Topics[t.Name] = append(req.Topics[t.Name], kafkago.LastOffsetOf(p.ID))
		}
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return topics[0].Name, err
	}
	for name, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return name, fmt.Errorf("partition %d: %w", p.Partition, p.Error)
			}
		}
	}
	return "", nil
}

func hasLeaders(t kafkago.Topic) bool {
	if t.Error != nil || len(t.Partitions) == 0 {
		return false
	}
	for _, p := range t.Partitions {
		if p.Error != nil || p.Leader.Host == "" {
			return false
		}
	}
	return true
}
