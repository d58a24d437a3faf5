package clickhouse

import (
	"context"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Open connects to the server named by a native DSN such as
// clickhouse://127.0.0.1:9000/default and checks that it answers.
func Open(ctx context.Context, dsn string) (driver.Conn, error) {
	opts, err := options(dsn)
	if err != nil {
		return nil, err
	}
	return connect(ctx, opts)
}

// options are the driver's options for dsn, with quell's defaults.
func options(dsn string) (*ch.Options, error) {
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse DSN %q: %w (want clickhouse://host:9000/database)", dsn, err)
	}
	if opts.Protocol != ch.Native {
		return nil, fmt.Errorf("clickhouse DSN %q: use the native protocol (clickhouse://host:9000/db); older servers reject the driver's HTTP requests", dsn)
	}
	if opts.Compression == nil {
		// LZ4 roughly halves what big label and payload batches put on the wire.
		opts.Compression = &ch.Compression{Method: ch.CompressionLZ4}
	}
	// The driver would keep each connection's buffers as large as the
	// largest insert it encoded; the sink inserts a batch's tables on
	// connections side by side, so kept buffers would add up past the
	// sink's share of memory_limit.
	opts.FreeBufOnConnRelease = true
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	return opts, nil
}

// connect opens a connection with opts and checks that the server answers.
func connect(ctx context.Context, opts *ch.Options) (driver.Conn, error) {
	conn, err := ch.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", opts.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse %s does not answer: %w (is it running? deploy/local/clickhouse.sh start)", opts.Addr, err)
	}
	return conn, nil
}
