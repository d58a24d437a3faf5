// Package dashboards_test checks the Grafana dashboards against the real
// schema: every ClickHouse panel's query runs on replayed MicroSS data and
// must answer rows of the shape its panel draws.
package dashboards_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/quellhq/quell/sinks/clickhouse"
	"github.com/quellhq/quell/sinks/clickhouse/chtest"
)

const pluginType = "quellhq-quell-datasource"

type dashboard struct {
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct{ Name, Type, Query string } `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource struct{ Type, UID string }
	Targets    []struct {
		QueryType string `json:"queryType"`
		Limit     int    `json:"limit"`
		Expr      string `json:"expr"`
	} `json:"targets"`
	FieldConfig struct {
		Overrides []struct {
			Matcher struct{ ID, Options string } `json:"matcher"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Options struct {
		ReduceOptions struct{ Fields string } `json:"reduceOptions"`
	} `json:"options"`
}

func load(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards found: %v", err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = d
	}
	return out
}

// TestPanels runs every ClickHouse panel's query.
func TestPanels(t *testing.T) {
	conn, _ := chtest.DB(t)
	from, to := chtest.FillMicroSS(t, conn)
	an := clickhouse.NewAnalytics(conn)
	for file, d := range load(t) {
		for _, p := range d.Panels {
			if p.Datasource.Type != pluginType {
				continue
			}
			t.Run(file+"/"+p.Title, func(t *testing.T) {
				if p.Datasource.UID != "${ds}" || !hasVar(d, "ds", pluginType) {
					t.Errorf("datasource %q: want the ${ds} template variable of type %s", p.Datasource.UID, pluginType)
				}
				for _, q := range p.Targets {
					tab, err := an.Run(context.Background(), clickhouse.Query{Type: clickhouse.QueryType(q.QueryType), From: from, To: to, Limit: q.Limit})
					if err != nil {
						t.Fatal(err)
					}
					if tab.Rows == 0 {
						t.Errorf("%s: no rows on MicroSS", q.QueryType)
					}
					checkShape(t, p, tab)
				}
			})
		}
	}
}

// checkShape: what the panel type draws, and every field it names, exist.
func checkShape(t *testing.T, p panel, tab *clickhouse.Table) {
	t.Helper()
	kinds := map[clickhouse.Kind]int{}
	names := map[string]bool{}
	for _, c := range tab.Columns {
		kinds[c.Kind]++
		names[c.Name] = true
	}
	numeric := kinds[clickhouse.KindCount] + kinds[clickhouse.KindFloat] + kinds[clickhouse.KindNullFloat]
	switch p.Type {
	case "timeseries":
		if tab.Columns[0].Kind != clickhouse.KindTime || numeric == 0 {
			t.Errorf("time series panel: columns %v; want time first, then numbers", tab.Columns)
		}
	case "stat", "piechart", "barchart":
		if kinds[clickhouse.KindString] == 0 || numeric == 0 {
			t.Errorf("%s panel: columns %v; want a name and a number", p.Type, tab.Columns)
		}
	case "table":
	default:
		t.Errorf("panel type %q: add its expected shape to this test", p.Type)
	}
	for _, o := range p.FieldConfig.Overrides {
		if o.Matcher.ID == "byName" && !names[o.Matcher.Options] {
			t.Errorf("override names field %q; the query answers %v", o.Matcher.Options, tab.Columns)
		}
	}
	if f := p.Options.ReduceOptions.Fields; f != "" {
		re := regexp.MustCompile(strings.Trim(f, "/"))
		found := false
		for n := range names {
			found = found || re.MatchString(n)
		}
		if !found {
			t.Errorf("reduce fields %s match no column of %v", f, tab.Columns)
		}
	}
}

func hasVar(d dashboard, name, query string) bool {
	for _, v := range d.Templating.List {
		if v.Name == name && v.Type == "datasource" && v.Query == query {
			return true
		}
	}
	return false
}

// TestPrometheusPanels: every metric a health panel reads is one quell
// registers: its name is in the module's Go source, whole or built as
// "quell_" + subsystem + "_" + name (sinks.NewQueueMetrics).
func TestPrometheusPanels(t *testing.T) {
	var src strings.Builder
	err := filepath.WalkDir("..", func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		src.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	metric := regexp.MustCompile(`quell_[a-z_]+`)
	n := 0
	for file, d := range load(t) {
		for _, p := range d.Panels {
			if p.Datasource.Type != "prometheus" {
				continue
			}
			if p.Datasource.UID != "${prom}" || !hasVar(d, "prom", "prometheus") {
				t.Errorf("%s/%s: datasource %q, want the ${prom} template variable", file, p.Title, p.Datasource.UID)
			}
			for _, q := range p.Targets {
				for _, m := range metric.FindAllString(q.Expr, -1) {
					n++
					if !registered(src.String(), m) && !registered(src.String(), histogramName(m)) {
						t.Errorf("%s/%s: %s is not a metric quell registers", file, p.Title, m)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Error("no Prometheus panels found")
	}
}

// histogramName is the histogram a series of it (_bucket, _sum, _count)
// belongs to.
func histogramName(series string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if name, ok := strings.CutSuffix(series, suffix); ok {
			return name
		}
	}
	return series
}

func registered(src, name string) bool {
	if strings.Contains(src, `"`+name+`"`) {
		return true
	}
	rest := strings.TrimPrefix(name, "quell_")
	for i := range len(rest) {
		if rest[i] == '_' && strings.Contains(src, `"`+rest[:i]+`"`) && strings.Contains(src, `"`+rest[i+1:]+`"`) {
			return true
		}
	}
	return false
}
