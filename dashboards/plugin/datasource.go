package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/quellhq/quell/sinks/clickhouse"
)

// settings is the datasource's jsonData (see provisioning/datasources).
type settings struct {
	// DSN is quell's ClickHouse database, native protocol.
	DSN string `json:"dsn"`
}

// query is a panel's target: which analytic, and how many rows of a top-N.
type query struct {
	QueryType clickhouse.QueryType `json:"queryType"`
	Limit     int                  `json:"limit"`
}

// instance is one configured datasource: its connection and analytics.
type instance struct {
	conn driver.Conn
	an   *clickhouse.Analytics
}

func newInstance(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	var cfg settings
	if err := json.Unmarshal(s.JSONData, &cfg); err != nil {
		return nil, fmt.Errorf("quell datasource settings: %w", err)
	}
	if cfg.DSN == "" {
		return nil, fmt.Errorf("quell datasource: jsonData.dsn is empty; set it to quell's ClickHouse, e.g. clickhouse://127.0.0.1:9000/default")
	}
	conn, err := clickhouse.Open(ctx, cfg.DSN)
	if err != nil {
		return nil, err
	}
	return &instance{conn: conn, an: clickhouse.NewAnalytics(conn)}, nil
}

// Dispose closes the connection when Grafana replaces the settings.
func (in *instance) Dispose() { in.conn.Close() }

// CheckHealth is the "Save & test" button: the server answers and has
// quell's current schema.
func (in *instance) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if err := in.conn.Ping(ctx); err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: fmt.Sprintf("ClickHouse does not answer: %v", err)}, nil
	}
	if err := clickhouse.CheckSchema(ctx, in.conn); err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: err.Error()}, nil
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: "ClickHouse answers and has quell's schema"}, nil
}

// QueryData answers each target with one frame; a failing target gets its
// own error and the others still answer.
func (in *instance) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = in.query(ctx, q)
	}
	return resp, nil
}

func (in *instance) query(ctx context.Context, dq backend.DataQuery) backend.DataResponse {
	var q query
	if err := json.Unmarshal(dq.JSON, &q); err != nil {
		return backend.ErrDataResponse(backend.StatusBadRequest, fmt.Sprintf("query: %v", err))
	}
	if q.QueryType == "" {
		q.QueryType = clickhouse.QueryType(dq.QueryType)
	}
	if _, ok := q.QueryType.Columns(); !ok {
		return backend.ErrDataResponse(backend.StatusBadRequest, fmt.Sprintf("unknown queryType %q; want one of %v", q.QueryType, clickhouse.QueryTypes()))
	}
	t, err := in.an.Run(ctx, clickhouse.Query{
		Type: q.QueryType, From: dq.TimeRange.From, To: dq.TimeRange.To, Interval: dq.Interval, Limit: q.Limit,
	})
	if err != nil {
		return backend.ErrDataResponse(backend.StatusInternal, err.Error())
	}
	f, err := frame(string(q.QueryType), t)
	if err != nil {
		return backend.ErrDataResponse(backend.StatusInternal, err.Error())
	}
	return backend.DataResponse{Frames: []*data.Frame{f}}
}
