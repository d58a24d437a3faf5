package clickhouse

import (
	"fmt"
	"time"
)

// SinkConfig is the clickhouse section of quell's configuration.
type SinkConfig struct {
	// DSN is the native address, e.g. clickhouse://127.0.0.1:9000/default.
	// Empty turns the ClickHouse sink off. With a password in it, dsn_file
	// reads it from a file, ${NAME} from the environment.
	DSN     string `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"`
	// BatchSize is the most decisions (and incident changes) per INSERT.
	BatchSize int `yaml:"batch_size"`
	// BatchAge is how long a row may wait for its batch to fill.
	BatchAge time.Duration `yaml:"batch_age"`
	// MaxBuffered bounds the decisions and changes held while ClickHouse
	// is slow or down; once reached, Write blocks, pushing back to ingest.
	MaxBuffered int `yaml:"max_buffered"`
	// MaxBufferedBytes bounds the same in bytes (quell.Decision.Size);
	// quell sets it from memory_limit, 0 for no bound.
	MaxBufferedBytes int64 `yaml:"-"`
	// StoreRepeats also stores each repeat as an occurrence row (alerts)
	// and a decision row (decisions). Off, repeats are counted exactly in
	// alert_repeats and the hourly rollups but not stored one by one.
	StoreRepeats bool `yaml:"store_repeats"`
	// Retention is applied by quell migrate (see ApplyRetention).
	Retention Retention `yaml:"retention"`
}

// DefaultSinkConfig batches as big as the server digests well (each insert
// is a part per table, which the server merges later: 50,000 gave a busy
// load on ClickHouse 18.16 a third more than 20,000, 100,000 no more) and
// holds about a minute of a busy day's alerts through an outage.
func DefaultSinkConfig() SinkConfig {
	return SinkConfig{BatchSize: 50_000, BatchAge: time.Second, MaxBuffered: 200_000, Retention: DefaultRetention()}
}

// Validate names the first field that cannot work; with no DSN the sink is
// off and nothing else is checked.
func (c *SinkConfig) Validate() error {
	if c.DSN == "" {
		return nil
	}
	if err := c.Retention.validate(); err != nil {
		return err
	}
	return c.checkBounds()
}

func (c *SinkConfig) checkBounds() error {
	switch {
	case c.BatchSize <= 0:
		return fmt.Errorf("clickhouse.batch_size: %d; want at least 1 (e.g. 50000)", c.BatchSize)
	case c.BatchAge <= 0:
		return fmt.Errorf("clickhouse.batch_age: %s; want a positive duration (e.g. 1s)", c.BatchAge)
	case c.MaxBuffered < c.BatchSize:
		return fmt.Errorf("clickhouse.max_buffered: %d is below batch_size %d; want at least one batch", c.MaxBuffered, c.BatchSize)
	}
	return nil
}
