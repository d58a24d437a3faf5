package main

import (
	"flag"

	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/internal/config"
)

// common are the flags every command shares; they override the config file.
type common struct {
	config, topology *string
}

func commonFlags(fs *flag.FlagSet) common {
	return common{
		config:   fs.String("config", "", "YAML configuration file (defaults apply to what it leaves out)"),
		topology: fs.String("topology", "", "service graph JSON ({\"nodes\":[{\"id\",\"type\"}],\"edges\":[{\"source\",\"target\",\"label\"}]})"),
	}
}

// instanceIDFlag is the correlator's name in its consumer group (see
// kafka.PartitionedConfig.InstanceID).
func instanceIDFlag(fs *flag.FlagSet) *string {
	return fs.String("instance-id", "", "with Kafka, this correlator's name in its consumer group (Kafka's group.instance.id), one per process, e.g. its pod's name: restarted under it after a crash, it takes its partitions back at once instead of after the old member's 10 s session; empty: a new member each start")
}

// load reads the configuration, applies the flags, validates, and loads the topology.
func (c common) load() (config.Config, *correlate.Topology, error) {
	cfg, err := config.Load(*c.config)
	if err != nil {
		return cfg, nil, err
	}
	if *c.topology != "" {
		cfg.Topology = *c.topology
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, err
	}
	var topo *correlate.Topology
	if cfg.Topology != "" {
		if topo, err = correlate.LoadTopology(cfg.Topology); err != nil {
			return cfg, nil, err
		}
	}
	return cfg, topo, nil
}
