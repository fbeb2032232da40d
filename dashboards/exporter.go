package dashboards

import (
	"fmt"
	"strings"

	"github.com/dbsec/dbsec/pkg/grafana/model"
)

var exporterSpec = spec{
	file: "exporter.json",
	description: "The exporters themselves: lines read, lag, parse and read errors, the event store and the SIEM export, " +
		"configuration reloads, detector state, process resources, the network receivers, and the store's status and integrity.",
	build: func(b *board) {
		b.variable(promLabelVar("instance", "Exporter", "The dbsec exporters (Prometheus instance label).", "dbsec_exporter_build_info"))
		b.variable(promLabelVar("source", "Source", "The configured sources.", `dbsec_lines_read_total{instance=~"$instance"}`))
		S := `{instance=~"$instance",source=~"$source"}`
		I := `{instance=~"$instance"}`
		exp := []link{eventsLink(nil)}

		b.row("Exporters")
		b.stat("Exporters up", "Exporters Prometheus scrapes successfully.", "short", 4,
			pq{expr: `count(up{instance=~"$instance"} == 1 and on (instance, job) dbsec_exporter_build_info) or vector(0)`, links: exp})
		b.stat("Sources up", "Sources whose input runs without error.", "short", 4,
			pq{expr: fmt.Sprintf(`count(dbsec_source_up%s == 1) or vector(0)`, S), links: exp})
		b.stat("Sources down", "Sources whose input is failing.", "short", 4,
			pq{expr: fmt.Sprintf(`count(dbsec_source_up%s == 0) or vector(0)`, S), links: exp}, 1)
		b.stat("Last reload failed", "Exporters whose last configuration load failed (they keep the running configuration).", "short", 4,
			pq{expr: fmt.Sprintf(`count(dbsec_config_last_reload_successful%s == 0) or vector(0)`, I), links: exp}, 1)
		b.stat("Since last reload", "Time since the oldest successful configuration load among the exporters.", "s", 4,
			pq{expr: fmt.Sprintf(`max(time() - dbsec_config_last_reload_success_timestamp_seconds%s)`, I), links: exp})
		b.stat("Stored events", "Events in the event stores.", "short", 4,
			pq{expr: fmt.Sprintf(`sum(dbsec_store_events%s)`, I), links: exp})
		by := []string{"instance", "version", "revision", "goversion"}
		b.promTable("Build", "Version, revision and Go version of each exporter.", 24, 5,
			pq{expr: fmt.Sprintf(`dbsec_exporter_build_info%s`, I), by: by, links: exp}, "Value", "__name__")

		b.row("Sources")
		by = []string{"instance", "source", "system"}
		b.ts("Lines read", "Lines per second read from each source.", "short", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_lines_read_total%s[$__rate_interval]))`, strings.Join(by, ", "), S),
				legend: "{{instance}} {{source}}", by: by, links: []link{eventsLink(by)}})
		b.ts("Bytes read", "Bytes per second read from each source.", "Bps", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_bytes_read_total%s[$__rate_interval]))`, strings.Join(by, ", "), S),
				legend: "{{instance}} {{source}}", by: by, links: []link{eventsLink(by)}})
		b.ts("Lag", "Bytes written to a source's files but not read yet: a growing lag means the exporter falls behind.", "bytes", 12, 8,
			pq{expr: fmt.Sprintf(`max by (%s) (dbsec_source_lag_bytes%s)`, strings.Join(by, ", "), S),
				legend: "{{instance}} {{source}}", by: by, links: []link{eventsLink(by)}})
		byr := []string{"instance", "source", "system", "reason"}
		b.ts("Parse errors", "Records per second that could not be parsed, by reason (series at 0 hidden).", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_parse_errors_total%s[$__rate_interval])) > 0`, strings.Join(byr, ", "), S),
				legend: "{{source}} {{reason}}", by: byr, links: []link{eventsLink(byr)}})
		b.ts("Read errors, rotations, truncations", "Input errors, file rotations followed and truncations (copytruncate) detected, per second.", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_source_read_errors_total%s[$__rate_interval]))`, strings.Join(by, ", "), S),
				legend: "read errors {{source}}", by: by, links: []link{eventsLink(by)}},
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_source_rotations_total%s[$__rate_interval]))`, strings.Join(by, ", "), S),
				legend: "rotations {{source}}", by: by, links: []link{eventsLink(by)}},
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_source_truncations_total%s[$__rate_interval]))`, strings.Join(by, ", "), S),
				legend: "truncations {{source}}", by: by, links: []link{eventsLink(by)}})
		b.promTable("Source status", "Every source with its state (1 up, 0 down).", 12, 8,
			pq{expr: fmt.Sprintf(`dbsec_source_up%s`, S), by: by, links: []link{eventsLink(nil)}}, "__name__", "job")

		b.row("Event store and export")
		bi := []string{"instance"}
		b.ts("Store writes", "Events written to the store, events it could not keep (queue full or write failed), events the storage policy skipped, and failed write transactions, per second.", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (instance) (rate(dbsec_store_events_written_total%s[$__rate_interval]))`, I), legend: "written {{instance}}", by: bi, links: exp},
			pq{expr: fmt.Sprintf(`sum by (instance) (rate(dbsec_store_events_dropped_total%s[$__rate_interval]))`, I), legend: "dropped {{instance}}", by: bi, links: exp},
			pq{expr: fmt.Sprintf(`sum by (instance) (rate(dbsec_store_events_skipped_total%s[$__rate_interval]))`, I), legend: "skipped {{instance}}", by: bi, links: exp},
			pq{expr: fmt.Sprintf(`sum by (instance) (rate(dbsec_store_write_errors_total%s[$__rate_interval]))`, I), legend: "write errors {{instance}}", by: bi, links: exp})
		b.ts("Store size", "Events held and bytes on disk (database and write-ahead log).", "short", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (instance) (dbsec_store_events%s)`, I), legend: "events {{instance}}", by: bi, links: exp},
			pq{expr: fmt.Sprintf(`sum by (instance) (dbsec_store_bytes%s)`, I), legend: "bytes {{instance}}", by: bi, links: exp})
		b.ts("SIEM export", "Events written to the JSON-lines export, and events that could not be written, per second.", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (instance) (rate(dbsec_export_events_total%s[$__rate_interval]))`, I), legend: "exported {{instance}}", by: bi, links: exp},
			pq{expr: fmt.Sprintf(`sum by (instance) (rate(dbsec_export_errors_total%s[$__rate_interval]))`, I), legend: "errors {{instance}}", by: bi, links: exp})
		b.ts("Statement-analysis cache hit ratio", "Share of statements whose classification and digest came from the cache.", "percentunit", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (instance) (rate(dbsec_sqlx_cache_requests_total{instance=~"$instance",result="hit"}[$__rate_interval])) / (sum by (instance) (rate(dbsec_sqlx_cache_requests_total%s[$__rate_interval])) > 0)`, I),
				legend: "{{instance}}", by: bi, links: exp})

		b.row("Process and receivers")
		b.ts("CPU", "CPU seconds per second used by each exporter.", "percentunit", 8, 8,
			pq{expr: fmt.Sprintf(`rate(process_cpu_seconds_total%s[$__rate_interval]) and on (instance, job) dbsec_exporter_build_info`, I), legend: "{{instance}}", by: bi, links: exp})
		b.ts("Memory", "Resident memory of each exporter.", "bytes", 8, 8,
			pq{expr: fmt.Sprintf(`process_resident_memory_bytes%s and on (instance, job) dbsec_exporter_build_info`, I), legend: "{{instance}}", by: bi, links: exp})
		b.ts("Scrape duration", "How long Prometheus takes to scrape each exporter.", "s", 8, 8,
			pq{expr: `scrape_duration_seconds{instance=~"$instance"} and on (instance, job) dbsec_exporter_build_info`, legend: "{{instance}}", by: bi, links: exp})
		byl := []string{"instance", "listener", "transport"}
		b.ts("Syslog receivers", "Syslog messages per second by listener, and messages or connections dropped.", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_syslog_messages_total%s[$__rate_interval]))`, strings.Join(byl, ", "), I), legend: "messages {{listener}}", by: byl, links: exp},
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_syslog_errors_total%s[$__rate_interval]))`, strings.Join(byl, ", "), I), legend: "dropped {{listener}}", by: byl, links: exp})
		byc := []string{"instance", "source", "code"}
		b.ts("TDengine audit receiver", "Audit POSTs from taosd per second by HTTP status.", "reqps", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_taosaudit_requests_total%s[$__rate_interval]))`, strings.Join(byc, ", "), I), legend: "{{source}} {{code}}", by: byc, links: []link{eventsLink(byc)}})

		b.row("Event store status")
		b.dbsecTable("Status", "Each exporter's sources with their health, and its store statistics, from the JSON API.", 12, 8,
			model.Query{QueryType: model.Status})
		b.dbsecTable("Integrity", "Verification of the store's hash chain: a break names the first event whose hash does not verify.", 12, 8,
			model.Query{QueryType: model.Integrity})
	},
}
