package clickhouse

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// CheckSchema fails unless the database has every migration this quell
// knows: writing to an old schema would dead-letter everything.
func CheckSchema(ctx context.Context, conn driver.Conn) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return fmt.Errorf("%w (has the schema been created? run quell migrate --clickhouse DSN)", err)
	}
	server, err := serverVersion(ctx, conn)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if !applied[m.version] && versionAtLeast(server, m.requires) {
			return fmt.Errorf("clickhouse schema lacks migration %04d_%s: run quell migrate --clickhouse DSN first", m.version, m.name)
		}
	}
	return nil
}
