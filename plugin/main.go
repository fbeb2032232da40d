// Command gpx_dbsec is the backend of the dbsec Grafana data source plugin
// (dbsec-audit-datasource). Grafana starts it and talks to it over gRPC;
// run directly it only says so and exits.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/dbsec/dbsec/pkg/grafana"
)

func main() {
	if err := datasource.Manage(grafana.PluginID, grafana.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error("plugin stopped", "err", err)
		os.Exit(1)
	}
}
