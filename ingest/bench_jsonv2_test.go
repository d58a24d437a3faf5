//go:build goexperiment.jsonv2

package ingest

import (
	jsonv2 "encoding/json/v2"
	"testing"
)

// BenchmarkParseAlertmanager100JSONv2 measures encoding/json/v2 on the same
// struct as the v1 baseline. It needs GOEXPERIMENT=jsonv2 (Go 1.26 still
// ships v2 as an experiment, so quell cannot depend on it).
func BenchmarkParseAlertmanager100JSONv2(b *testing.B) {
	benchParse(b, webhookBody(100), func(body []byte) (int, error) {
		var m stdMessage
		err := jsonv2.Unmarshal(body, &m)
		return len(m.Alerts), err
	})
}
