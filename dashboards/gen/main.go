// Command gen writes dbsec's Grafana dashboards (dashboards/*.json), the
// list of them for the plugin's plugin.json (dashboards/includes.json) and
// the panel reference of docs/dashboards.md.
// Run it with `go tool mage dashboards`, or `go run ./dashboards/gen` from
// the repository root.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dbsec/dbsec/dashboards"
)

func main() {
	dir := flag.String("dir", "dashboards", "directory to write the dashboards to")
	doc := flag.String("doc", "docs/dashboards.md", "document whose generated panel reference to update (empty: none)")
	flag.Parse()
	if err := dashboards.Write(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "dashboards:", err)
		os.Exit(1)
	}
	if *doc != "" {
		if err := dashboards.WriteReference(*doc); err != nil {
			fmt.Fprintln(os.Stderr, "dashboards:", err)
			os.Exit(1)
		}
	}
}
