package config

import (
	"os"
	"strings"
	"testing"
)

// Every YAML example in the README is a configuration quell accepts as written.
func TestREADMEExamplesLoad(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```yaml\n")[1:]
	if len(blocks) < 4 {
		t.Fatalf("found %d yaml examples in the README; expected the configuration reference and the Kafka, ClickHouse and ITSM examples", len(blocks))
	}
	for i, blk := range blocks {
		body := blk[:strings.Index(blk, "```")]
		c, err := Load(write(t, body))
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			t.Errorf("README yaml example %d does not load: %v\n%s", i+1, err, body)
		}
	}
}
