// Command plugin is quell's Grafana backend datasource: it answers the noise
// analytics of sinks/clickhouse as typed queries (a query type and a limit,
// no SQL), straight from quell's ClickHouse schema.
//
// Build it as gpx_quell beside plugin.json (see dashboards/README.md).
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

// pluginID matches plugin.json.
const pluginID = "quellhq-quell-datasource"

func main() {
	if err := datasource.Manage(pluginID, newInstance, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error("quell datasource stopped", "err", err)
		os.Exit(1)
	}
}
