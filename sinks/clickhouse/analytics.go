package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// QueryType names one noise analytic. Dashboards, the Grafana plugin and
// the benchmark all run them through Analytics.Run, so each question has
// exactly one query (see analytics_sql.go for the SQL and what it counts).
type QueryType string

const (
	CompressionBySource QueryType = "compressionBySource" // 1 - incidents/alerts per source
	CompressionOverTime QueryType = "compressionOverTime" // the same per time bucket and source
	NoisyAlerts         QueryType = "noisyAlerts"         // most firing occurrences
	FlappingAlerts      QueryType = "flappingAlerts"      // most re-fires after resolving
	AutoResolvedAlerts  QueryType = "autoResolvedAlerts"  // most resolves nobody acted on
	CoOccurringAlerts   QueryType = "coOccurringAlerts"   // pairs that share incidents
	ServiceResponse     QueryType = "serviceResponse"     // MTTA and MTTR per service
	IncidentTrend       QueryType = "incidentTrend"       // incidents and their size per bucket
	DecisionsOverTime   QueryType = "decisionsOverTime"   // correlator actions per bucket
	GroupingReasons     QueryType = "groupingReasons"     // why alerts joined incidents
	RunbookCoverage     QueryType = "runbookCoverage"     // alerts with a runbook, per service
	RecurringIncidents  QueryType = "recurringIncidents"  // incidents of a kind seen in the 30 days before, per service
)

// Query asks for one analytic over [From, To).
type Query struct {
	Type     QueryType
	From, To time.Time
	// Interval is the bucket of over-time queries; zero picks about 100
	// buckets. Hourly rollups round it up to whole hours.
	Interval time.Duration
	// Limit bounds top-N lists; zero means 10.
	Limit int
}

// Kind is a result column's type; Table.Values holds, per kind, a
// []time.Time, []string, []float64, []uint64 or []*float64 (nil: unknown).
type Kind int

const (
	KindTime Kind = iota
	KindString
	KindFloat
	KindCount
	KindNullFloat
)

// Column is one column of a result.
type Column struct {
	Name string
	Kind Kind
}

// Table is a result, column by column.
type Table struct {
	Columns []Column
	Values  []any
	Rows    int
}

// Analytics runs the noise analytics on quell's schema.
type Analytics struct{ conn driver.Conn }

// NewAnalytics queries through conn (see Open).
func NewAnalytics(conn driver.Conn) *Analytics { return &Analytics{conn: conn} }

// QueryTypes lists every analytic, in a stable order.
func QueryTypes() []QueryType {
	out := make([]QueryType, 0, len(specs))
	for t := range specs {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Columns is the shape of t's result.
func (t QueryType) Columns() ([]Column, bool) {
	s, ok := specs[t]
	return s.cols, ok
}

// Run runs q and returns its rows.
func (a *Analytics) Run(ctx context.Context, q Query) (*Table, error) {
	s, ok := specs[q.Type]
	if !ok {
		return nil, fmt.Errorf("unknown query type %q; want one of %v", q.Type, QueryTypes())
	}
	sql := s.sql(bounds(q))
	rows, err := a.conn.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("analytics %s: %w (is the schema migrated? quell migrate --clickhouse DSN)", q.Type, err)
	}
	defer rows.Close()
	t := newTable(s.cols)
	dest := make([]any, len(s.cols))
	for rows.Next() {
		cells := t.row()
		for i := range cells {
			dest[i] = cells[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("analytics %s: reading a row: %w", q.Type, err)
		}
		t.add(cells)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics %s: %w", q.Type, err)
	}
	return t, nil
}

// span is a query's range and bucket in whole seconds, ready for SQL.
type span struct {
	from, to, step, limit int64
}

func bounds(q Query) span {
	s := span{from: max(q.From.Unix(), 0), to: q.To.Unix(), limit: int64(q.Limit)}
	if q.To.IsZero() || s.to > 1<<32-1 {
		s.to = 1<<32 - 1
	}
	switch {
	case s.limit <= 0:
		s.limit = 10
	case s.limit > 1000:
		s.limit = 1000
	}
	s.step = int64(q.Interval / time.Second)
	if s.step <= 0 {
		s.step = (s.to - s.from) / 100
	}
	s.step = max(s.step, 60)
	return s
}

// hourly is the span with its start rounded down and its bucket rounded up
// to whole hours, for the hourly rollups.
func (s span) hourly() span {
	s.from = s.from / 3600 * 3600
	s.step = (s.step + 3599) / 3600 * 3600
	return s
}

func newTable(cols []Column) *Table {
	t := &Table{Columns: cols, Values: make([]any, len(cols))}
	for i, c := range cols {
		switch c.Kind {
		case KindTime:
			t.Values[i] = []time.Time{}
		case KindString:
			t.Values[i] = []string{}
		case KindFloat:
			t.Values[i] = []float64{}
		case KindCount:
			t.Values[i] = []uint64{}
		case KindNullFloat:
			t.Values[i] = []*float64{}
		}
	}
	return t
}

// row makes scan targets for one row.
func (t *Table) row() []any {
	cells := make([]any, len(t.Columns))
	for i, c := range t.Columns {
		switch c.Kind {
		case KindTime:
			cells[i] = new(time.Time)
		case KindString:
			cells[i] = new(string)
		case KindFloat:
			cells[i] = new(float64)
		case KindCount:
			cells[i] = new(uint64)
		case KindNullFloat:
			cells[i] = new(*float64)
		}
	}
	return cells
}

func (t *Table) add(cells []any) {
	for i, c := range cells {
		switch v := c.(type) {
		case *time.Time:
			t.Values[i] = append(t.Values[i].([]time.Time), v.UTC())
		case *string:
			t.Values[i] = append(t.Values[i].([]string), *v)
		case *float64:
			t.Values[i] = append(t.Values[i].([]float64), *v)
		case *uint64:
			t.Values[i] = append(t.Values[i].([]uint64), *v)
		case **float64:
			t.Values[i] = append(t.Values[i].([]*float64), *v)
		}
	}
	t.Rows++
}
