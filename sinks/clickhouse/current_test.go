package clickhouse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell/internal/testenv"
)

// TestSchemaOnCurrentClickHouse runs, on a current ClickHouse (chDB), every
// migration (the modern ones too: LowCardinality, Maps, DateTime64), the
// default retention's TTLs, a few rows through the repeats views, and every
// analytic's SQL: what runs on 18.16 must run on today's releases too.
func TestSchemaOnCurrentClickHouse(t *testing.T) {
	python := testenv.CurrentClickHouse(t)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var stmts, what []string
	add := func(name, sql string) { stmts, what = append(stmts, sql), append(what, name) }
	for _, m := range ms {
		for i, s := range m.stmts {
			add(fmt.Sprintf("migration %04d_%s statement %d", m.version, m.name, i+1), s)
		}
	}
	for _, tb := range retained {
		add("retention of "+tb.table, tb.statement(DefaultRetention()))
	}
	at := time.Now().UTC().Truncate(time.Hour) // within the retention: older rows go at once
	add("repeats", fmt.Sprintf(`INSERT INTO repeats SELECT number, toFixedString(leftPad(toString(number %% 10), 16, '0'), 16),
		'alertmanager', 'firing', 'warning', concat('A', toString(number %% 10)), 'api', toDateTime(%d) + number FROM numbers(50)`, at.Unix()))
	add("repeat counts", "SELECT uniqExactMerge(occurrences) FROM alert_repeats")
	add("alerts TTL", "SELECT engine_full FROM system.tables WHERE database = 'quell' AND name = 'alerts'")
	add("an alert", fmt.Sprintf(`INSERT INTO alerts (event_id, fingerprint, source, status, severity, alertname, service,
		label_keys, label_values, event_time, event_time_ms, received_at, received_at_ms)
		VALUES (1, '0000000000000001', 'alertmanager', 'firing', 'warning', 'DiskFull', 'db',
		['alertname', 'service'], ['DiskFull', 'db'], toDateTime(%d), 250, toDateTime(%[1]d), 250)`, at.Unix()))
	add("modern columns", "SELECT toTypeName(source), labels['service'], toUnixTimestamp64Milli(event_time64) FROM alerts")
	for _, qt := range QueryTypes() {
		add("analytic "+string(qt), specs[qt].sql(bounds(Query{Type: qt, From: at.Add(-time.Hour), To: at.Add(time.Hour)})))
	}

	req, _ := json.Marshal(map[string]any{"dir": t.TempDir(), "statements": stmts})
	cmd := exec.Command(python, "testdata/chdb_run.py")
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chDB: %v\n%s", err, stderr.String())
	}
	type result struct {
		OK     bool   `json:"ok"`
		Result string `json:"result"`
		Error  string `json:"error"`
	}
	var results []result
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("chDB printed %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) == 0 {
		t.Fatalf("chDB printed nothing\n%s", stderr.String())
	}
	version := results[0].Result
	t.Logf("chDB %s", version)
	results = results[1:]
	for i, r := range results {
		if !r.OK {
			t.Fatalf("%s fails on chDB %s: %s\n%s", what[i], version, r.Error, stmts[i])
		}
	}
	if len(results) != len(stmts) {
		t.Fatalf("chDB ran %d of %d statements", len(results), len(stmts))
	}
	byName := map[string]string{}
	for i, r := range results {
		byName[what[i]] = strings.TrimSpace(r.Result)
	}
	if got := byName["repeat counts"]; got != "50" {
		t.Errorf("alert_repeats counts %q repeats, want 50", got)
	}
	if got := byName["alerts TTL"]; !strings.Contains(got, "TTL event_time + toIntervalDay(30)") {
		t.Errorf("alerts on a current ClickHouse: %s; want a 30-day TTL", got)
	}
	if got, want := byName["modern columns"], fmt.Sprintf(`"LowCardinality(String)","db",%d250`, at.Unix()); got != want {
		t.Errorf("the modern schema on a current ClickHouse: %s; want %s (LowCardinality, a labels Map, a DateTime64 time)", got, want)
	}
	if got := byName["analytic noisyAlerts"]; strings.Count(got, "\n") != 9 || !strings.Contains(got, `"A0","api",5,0`) {
		t.Errorf("noisyAlerts on a current ClickHouse:\n%s\nwant 10 alerts that fired 5 times each", got)
	}
}
