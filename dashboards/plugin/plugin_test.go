package main

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"

	"github.com/quellhq/quell/sinks/clickhouse"
	"github.com/quellhq/quell/sinks/clickhouse/chtest"
)

// TestPlugin serves the plugin over the SDK's gRPC test harness, as
// Grafana would, and asks every query type of the replayed MicroSS data.
func TestPlugin(t *testing.T) {
	conn, dsn := chtest.DB(t)
	from, to := chtest.FillMicroSS(t, conn)
	client := serve(t)
	pctx := backend.PluginContext{
		OrgID: 1, PluginID: pluginID,
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: 1, UID: "quell", Name: "quell", Updated: time.Now(),
			JSONData: []byte(fmt.Sprintf(`{"dsn": %q}`, dsn)),
		},
	}
	ctx := context.Background()

	health, err := client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pctx})
	if err != nil || health.Status != backend.HealthStatusOk {
		t.Fatalf("health: %v, %+v; want OK", err, health)
	}

	req := &backend.QueryDataRequest{PluginContext: pctx}
	for _, qt := range append(clickhouse.QueryTypes(), "noSuchQuery") {
		req.Queries = append(req.Queries, backend.DataQuery{
			RefID: string(qt), QueryType: string(qt), Interval: time.Hour,
			TimeRange: backend.TimeRange{From: from, To: to},
			JSON:      []byte(`{"limit": 5}`),
		})
	}
	resp, err := client.QueryData(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, qt := range clickhouse.QueryTypes() {
		r := resp.Responses[string(qt)]
		if r.Error != nil {
			t.Errorf("%s: %v", qt, r.Error)
			continue
		}
		if len(r.Frames) != 1 {
			t.Errorf("%s: %d frames, want 1", qt, len(r.Frames))
			continue
		}
		f := r.Frames[0]
		if rows, _ := f.RowLen(); rows == 0 || len(f.Fields) < 2 {
			t.Errorf("%s: %d fields, %d rows; want rows of at least 2 fields", qt, len(f.Fields), rows)
		}
	}
	if bad := resp.Responses["noSuchQuery"]; bad.Error == nil || bad.Status != backend.StatusBadRequest {
		t.Errorf("unknown query type: %+v; want a bad request naming the known types", bad)
	}

	if err := conn.Exec(ctx, "DROP TABLE schema_migrations"); err != nil {
		t.Fatal(err)
	}
	health, err = client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pctx})
	if err != nil || health.Status != backend.HealthStatusError {
		t.Errorf("health without a schema: %v, %+v; want an error", err, health)
	}
}

func serve(t *testing.T) *datasourcetest.TestPluginClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p, err := datasourcetest.Manage(newInstance, datasourcetest.ManageOpts{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p.Client
}
