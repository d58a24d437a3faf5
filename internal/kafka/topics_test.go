package kafka

import (
	"context"
	"maps"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

func TestEnsureTopicsIsIdempotent(t *testing.T) {
	brokers, log := broker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	plain, compacted := unique(t, "plain"), unique(t, "state")
	specs := []TopicSpec{
		{Name: plain, Partitions: 3, ReplicationFactor: 1},
		{Name: compacted, Partitions: 2, ReplicationFactor: 1, Compacted: true},
	}
	if err := EnsureTopics(ctx, brokers, specs, log); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if err := EnsureTopics(ctx, brokers, specs, log); err != nil {
		t.Fatalf("second run, topics exist: %v", err)
	}
	// An existing topic keeps its partitions even when asked for more, and
	// takes a setting a later version asks for.
	specs[0].Partitions = 6
	specs[0].Config = map[string]string{"max.message.bytes": "2000000"}
	if err := EnsureTopics(ctx, brokers, specs, log); err != nil {
		t.Fatalf("run with another partition count and a setting: %v", err)
	}

	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: newTransport(nil)}
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{plain, compacted}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{plain: 3, compacted: 2}
	for _, tp := range md.Topics {
		if tp.Error != nil {
			t.Errorf("topic %s: %v", tp.Name, tp.Error)
		}
		if len(tp.Partitions) != want[tp.Name] {
			t.Errorf("topic %s has %d partitions, want %d", tp.Name, len(tp.Partitions), want[tp.Name])
		}
	}
	if len(md.Topics) != 2 {
		t.Errorf("metadata lists %d topics, want 2", len(md.Topics))
	}

	want2 := map[string]string{plain + " cleanup.policy": "delete", compacted + " cleanup.policy": "compact", plain + " max.message.bytes": "2000000"}
	// The controller applies a changed setting and the broker learns it
	// from the metadata log a moment later: read until it shows, or 10 s.
	var got map[string]string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		cfg, err := client.DescribeConfigs(ctx, &kafkago.DescribeConfigsRequest{Resources: []kafkago.DescribeConfigRequestResource{
			{ResourceType: kafkago.ResourceTypeTopic, ResourceName: plain, ConfigNames: []string{"cleanup.policy", "max.message.bytes"}},
			{ResourceType: kafkago.ResourceTypeTopic, ResourceName: compacted, ConfigNames: []string{"cleanup.policy"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]string{}
		for _, r := range cfg.Resources {
			for _, e := range r.ConfigEntries {
				if k := r.ResourceName + " " + e.ConfigName; want2[k] != "" {
					got[k] = e.ConfigValue
				}
			}
		}
		if maps.Equal(got, want2) || time.Now().After(deadline) {
			break
		}
	}
	for k, w := range want2 {
		if v, ok := got[k]; !ok {
			t.Errorf("broker did not describe %s", k)
		} else if v != w {
			t.Errorf("%s %q, want %q", k, v, w)
		}
	}
}

func TestTopicsNamesQuellsTopics(t *testing.T) {
	got := map[string]TopicSpec{}
	for _, s := range Topics(NamesFor("quell"), 12, 3) {
		got[s.Name] = s
	}
	for _, tc := range []struct {
		name       string
		partitions int
		compacted  bool
	}{
		{TopicAlerts, 12, false},
		{TopicIncidents, 12, false},
		{TopicDecisions, 12, false},
		{TopicDeadLetter, 1, false},
		{TopicState, 12, true},
	} {
		s, ok := got[tc.name]
		switch {
		case !ok:
			t.Errorf("Topics lacks %s", tc.name)
		case s.Partitions != tc.partitions || s.Compacted != tc.compacted || s.ReplicationFactor != 3:
			t.Errorf("%s: %+v, want %d partitions, compacted %v, replication 3", tc.name, s, tc.partitions, tc.compacted)
		}
	}
	if len(got) != 5 {
		t.Errorf("Topics returns %d topics, want 5", len(got))
	}
}
