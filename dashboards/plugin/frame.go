package main

import (
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/quellhq/quell/sinks/clickhouse"
)

// frame turns a result into a Grafana data frame. Time series with a
// string column (one series per source or action) arrive long and leave
// wide, one field per series, as time series panels want them.
func frame(name string, t *clickhouse.Table) (*data.Frame, error) {
	fields := make([]*data.Field, len(t.Columns))
	for i, c := range t.Columns {
		fields[i] = data.NewField(c.Name, nil, t.Values[i])
	}
	f := data.NewFrame(name, fields...)
	if f.TimeSeriesSchema().Type != data.TimeSeriesTypeLong {
		return f, nil
	}
	wide, err := data.LongToWide(f, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: turning the long series wide: %w", name, err)
	}
	return wide, nil
}
