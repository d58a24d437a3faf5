// Package config is quell's configuration: one YAML file, defaults for what
// it leaves out, flags on top, and a Validate that names the bad field.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/sinks"
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the HTTP address of ingest, the API and metrics.
	Listen string `yaml:"listen"`
	// DataDir holds the correlator's state snapshot and dead letters.
	DataDir string `yaml:"data_dir"`
	// Topology is the service graph file (see correlate.LoadTopology); optional.
	Topology string `yaml:"topology"`
	// Decisions, when set, is a file the decision log is appended to.
	Decisions string `yaml:"decisions"`
	// IdentityLabels narrows, per source, the labels that identify an alert.
	IdentityLabels map[string][]string `yaml:"identity_labels"`
	Ingest         ingest.Config         `yaml:"ingest"`
	Correlate      correlate.Config      `yaml:"correlate"`
	Webhooks       []sinks.WebhookConfig `yaml:"webhooks"`
}

// Default is the embedded default: every stage in one process, no servers.
func Default() Config {
	return Config{
		Listen:    ":9095",
		DataDir:   "quell-data",
		Ingest:    ingest.DefaultConfig(),
		Correlate: correlate.DefaultConfig(),
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
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate names the first field that cannot work.
func (c *Config) Validate() error {
	if c.Listen == "" {
		return errors.New("listen: an address such as :9095 is required")
	}
	if err := c.Ingest.Validate(); err != nil {
		return err
	}
	if err := c.Correlate.Validate(); err != nil {
		return err
	}
	for i := range c.Webhooks {
		if err := c.Webhooks[i].Validate(); err != nil {
			return fmt.Errorf("webhooks[%d]: %w", i, err)
		}
	}
	return nil
}
