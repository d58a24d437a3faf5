// Package config is quell's configuration: one YAML file, defaults for what
// it leaves out, flags on top, and a Validate that names the bad field.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/journal"
	"github.com/quellhq/quell/internal/secret"
	"github.com/quellhq/quell/sinks"
	"github.com/quellhq/quell/sinks/clickhouse"
	"github.com/quellhq/quell/sinks/itsm"
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the HTTP address of ingest, the API and metrics.
	Listen string `yaml:"listen"`
	// DataDir holds the correlator's state snapshot and dead letters.
	DataDir string `yaml:"data_dir"`
	// Topology is the service graph file (see correlate.LoadTopology); optional.
	Topology string `yaml:"topology"`
	// MemoryLimit bounds the process's memory in bytes (see package budget):
	// past it ingest answers 503 and the correlator evicts its least active
	// incidents. 0 means three quarters of the container's (cgroup's)
	// limit, or 512 MiB without one.
	MemoryLimit Bytes `yaml:"memory_limit"`
	// Decisions, when set, is a file the decision log is appended to.
	Decisions string `yaml:"decisions"`
	// History: how long the embedded default keeps resolved (and evicted) incidents
	// readable through the API after the correlator lets them go (within
	// a twentieth of memory_limit; see package history); 0 keeps none.
	History time.Duration `yaml:"history"`
	// APITokenFiles hold the tokens the read API (/api/v1/...) requires, one
	// a line; none means the API is open.
	APITokenFiles []string `yaml:"api_token_files"`
	// IdentityLabels narrows, per source, the labels that identify an alert.
	IdentityLabels map[string][]string   `yaml:"identity_labels"`
	Ingest         ingest.Config         `yaml:"ingest"`
	Correlate      correlate.Config      `yaml:"correlate"`
	Webhooks       []sinks.WebhookConfig `yaml:"webhooks"`
	ITSM           itsm.Config           `yaml:"itsm"`
	ClickHouse     clickhouse.SinkConfig `yaml:"clickhouse"`
	Kafka          Kafka                 `yaml:"kafka"`
	Journal        Journal               `yaml:"journal"`
}

// Journal is how embedded mode keeps accepted alerts on disk before it
// answers 2xx (see package journal).
type Journal struct {
	// Sync: batch (fsync before each acknowledgement, one fsync shared by
	// concurrent requests), interval (fsync every SyncInterval) or none.
	Sync         journal.Sync  `yaml:"sync"`
	SyncInterval time.Duration `yaml:"sync_interval"`
}

// Kafka joins the stages over Apache Kafka when Brokers is set (--kafka);
// without brokers, serve runs every stage on the embedded in-process bus.
type Kafka struct {
	Brokers []string `yaml:"brokers"`
	// Prefix names the topics (prefix.alerts, .incidents, .decisions,
	// .deadletter, .state) and consumer groups (prefix-correlate, prefix-sink-…).
	Prefix string `yaml:"prefix"`
	// Partitions of the topics quell creates: the most instances of a stage
	// that can share the work. Existing topics are left as they are.
	Partitions  int `yaml:"partitions"`
	Replication int `yaml:"replication"`
	// TickEvery: how often the correlator's clock moves without alerts;
	// decisions leave up to that long after their grouping wait.
	TickEvery time.Duration `yaml:"tick_every"`
	// SnapshotEvery: how often what changed in each partition's correlator
	// state is saved (a checkpoint); a restart replays at most that much of
	// the alerts topic.
	SnapshotEvery time.Duration `yaml:"snapshot_every"`
	// MaxDelay: while the correlator needs longer than this to catch up
	// (the records it has not checkpointed, at the slower of its paces over
	// the last 30 s and 10 s: how late a decision about an alert accepted now
	// would come), ingest answers 503 with Retry-After and its /readyz
	// fails, as the embedded default does when its queue is full: Kafka
	// absorbs a burst, and a sustained overload pushes back on the senders
	// (Alertmanager retries a 5xx) instead of having their alerts decided
	// minutes late. 0: ingest accepts whatever the topic takes. The sinks'
	// lag does not count: what they owe waits in Kafka.
	MaxDelay time.Duration `yaml:"max_delay"`
}

// Default is the embedded default: every stage in one process, no servers.
func Default() Config {
	return Config{
		Listen:  ":9095",
		DataDir: "quell-data",
		History: 7 * 24 * time.Hour,
		// Datadog's tags and title can change between notifications of one
		// monitor; the monitor, its scope and its name are what stays.
		IdentityLabels: map[string][]string{"datadog": {"alertname", "monitor_id", "scope"}},
		Ingest:         ingest.DefaultConfig(),
		Correlate:      correlate.DefaultConfig(),
		ClickHouse:     clickhouse.DefaultSinkConfig(),
		Journal:        Journal{Sync: journal.SyncBatch, SyncInterval: 200 * time.Millisecond},
		Kafka: Kafka{Prefix: "quell", Partitions: 12, Replication: 1,
			TickEvery: 100 * time.Millisecond, SnapshotEvery: 2 * time.Second, MaxDelay: 30 * time.Second},
	}
}

// Load reads path over the defaults; an empty path gives the defaults.
func Load(path string) (Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a misspelt field is an error, not a silent default
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, yamlErrors(b, err))
	}
	if err := c.readSecrets(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// readSecrets takes every secret from its *_file or the environment (see
// package secret), once, as the file is read.
func (c *Config) readSecrets() error {
	type field struct {
		name  string
		value *string
		file  string
	}
	var fs []field
	for i := range c.ITSM.ServiceNow {
		s, p := &c.ITSM.ServiceNow[i], fmt.Sprintf("itsm.servicenow[%d].", i)
		fs = append(fs, field{p + "password", &s.Password, s.PasswordFile}, field{p + "token", &s.Token, s.TokenFile},
			field{p + "webhook_secret", &s.WebhookSecret, s.WebhookSecretFile})
	}
	for i := range c.ITSM.Jira {
		s, p := &c.ITSM.Jira[i], fmt.Sprintf("itsm.jira[%d].", i)
		fs = append(fs, field{p + "api_token", &s.APIToken, s.APITokenFile}, field{p + "token", &s.Token, s.TokenFile},
			field{p + "webhook_secret", &s.WebhookSecret, s.WebhookSecretFile})
	}
	for i := range c.ITSM.PagerDuty {
		s, p := &c.ITSM.PagerDuty[i], fmt.Sprintf("itsm.pagerduty[%d].", i)
		fs = append(fs, field{p + "routing_key", &s.RoutingKey, s.RoutingKeyFile}, field{p + "webhook_secret", &s.WebhookSecret, s.WebhookSecretFile})
	}
	for i := range c.Webhooks {
		w := &c.Webhooks[i]
		fs = append(fs, field{fmt.Sprintf("webhooks[%d].secret", i), &w.Secret, w.SecretFile})
	}
	fs = append(fs, field{"clickhouse.dsn", &c.ClickHouse.DSN, c.ClickHouse.DSNFile})
	for _, f := range fs {
		if err := secret.Resolve(f.name, f.value, f.file); err != nil {
			return err
		}
	}
	return nil
}

// TakesChanges reports whether a configured sink takes incident changes
// (a webhook, an ITSM tool, ClickHouse; the decision log takes decisions
// only): split mode's sink stage reads the incidents topic only then.
func (c *Config) TakesChanges() bool {
	return len(c.Webhooks) > 0 || c.ITSM.Enabled() || c.ClickHouse.DSN != ""
}

// Validate names the first field that cannot work.
func (c *Config) Validate() error {
	if c.Listen == "" {
		return errors.New("listen: an address such as :9095 is required")
	}
	if c.History < 0 {
		return fmt.Errorf("history: %s; want a duration such as 168h, or 0 to keep no resolved incidents", c.History)
	}
	if err := c.Ingest.Validate(); err != nil {
		return err
	}
	if err := c.Correlate.Validate(); err != nil {
		return err
	}
	if err := c.ITSM.Validate(); err != nil {
		return err
	}
	if err := c.ClickHouse.Validate(); err != nil {
		return err
	}
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if err := c.Journal.Sync.Validate(c.Journal.SyncInterval); err != nil {
		return err
	}
	if c.MemoryLimit != 0 && c.MemoryLimit < 32<<20 {
		return fmt.Errorf("memory_limit %s: set at least 32MiB, or 0 for three quarters of the container's limit", c.MemoryLimit)
	}
	for i := range c.Webhooks {
		if err := c.Webhooks[i].Validate(); err != nil {
			return fmt.Errorf("webhooks[%d]: %w", i, err)
		}
	}
	return nil
}

// Validate names the first field that cannot work; without brokers none is used.
func (k *Kafka) Validate() error {
	switch {
	case len(k.Brokers) == 0:
		return nil
	case k.Prefix == "":
		return errors.New("kafka.prefix must not be empty (the default is quell)")
	case k.Partitions < 1 || k.Replication < 1:
		return fmt.Errorf("kafka.partitions (%d) and kafka.replication (%d) must be at least 1", k.Partitions, k.Replication)
	case k.MaxDelay < 0 || k.MaxDelay > 0 && k.MaxDelay <= k.SnapshotEvery:
		// The correlator commits its offsets as it checkpoints: its delay is
		// never much under snapshot_every.
		return fmt.Errorf("kafka.max_delay (%s) must be 0 (off) or longer than kafka.snapshot_every (%s)", k.MaxDelay, k.SnapshotEvery)
	case k.TickEvery <= 0 || k.SnapshotEvery <= 0:
		return fmt.Errorf("kafka.tick_every (%s) and kafka.snapshot_every (%s) must be positive", k.TickEvery, k.SnapshotEvery)
	}
	return nil
}
