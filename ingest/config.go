package ingest

import (
	"fmt"
	"time"
)

// Config is the ingest section of quell's configuration.
type Config struct {
	// MaxBodyBytes caps a request body; larger ones get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// SplunkResolveTimeout is how long a Splunk alert fires without Splunk
	// firing it again (Splunk sends no resolve).
	SplunkResolveTimeout time.Duration `yaml:"splunk_resolve_timeout"`
}

// DefaultConfig: 10 MiB holds an Alertmanager batch of several thousand
// alerts; 30 minutes outlasts the usual Splunk schedules (5–15 minutes).
func DefaultConfig() Config {
	return Config{MaxBodyBytes: 10 << 20, SplunkResolveTimeout: 30 * time.Minute}
}

// Validate names the first field that cannot work.
func (c Config) Validate() error {
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("ingest.max_body_bytes is %d: set at least 1024 (the default is %d)", c.MaxBodyBytes, DefaultConfig().MaxBodyBytes)
	}
	if c.SplunkResolveTimeout < time.Minute {
		return fmt.Errorf("ingest.splunk_resolve_timeout is %s: set at least 1m, more than the alert's schedule interval (the default is %s)",
			c.SplunkResolveTimeout, DefaultConfig().SplunkResolveTimeout)
	}
	return nil
}
