package dashboards

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/grafana/model"
)

// product is one database product with its own dashboard.
type product struct {
	name    string   // display name
	systems []string // values of the system label (pkg/event)
}

func (p product) systemRegex() string { return strings.Join(p.systems, "|") }

// sel is the label selector of the product's per-source series, with extra
// matchers appended.
func (p product) sel(extra ...string) string {
	m := []string{`instance=~"$instance"`, `source=~"$source"`, fmt.Sprintf(`system=~"%s"`, p.systemRegex())}
	return "{" + strings.Join(append(m, extra...), ",") + "}"
}

// fixed are the link parameters that select the product's systems.
func (p product) fixed(kv ...string) []string {
	var out []string
	for _, s := range p.systems {
		out = append(out, model.KeySystem, s)
	}
	return append(out, kv...)
}

// filters are dbsec filters on the product's systems plus kv.
func (p product) filters(kv ...string) []model.Filter {
	var f []string
	for _, s := range p.systems {
		f = append(f, model.KeySystem, s)
	}
	return filters(append(f, kv...)...)
}

func mustSystem(s string) string {
	if _, err := event.ParseSystem(s); err != nil || s == event.SystemUnknown.String() {
		panic("unknown system " + s)
	}
	return s
}

// ruleName returns the rule label of a detection by its catalogue id.
func ruleName(id string) string {
	for _, r := range detect.Catalog() {
		if r.ID == id {
			return r.Name
		}
	}
	panic("no detection " + id)
}

func ruleInfo(id string) detect.RuleInfo {
	for _, r := range detect.Catalog() {
		if r.ID == id {
			return r
		}
	}
	panic("no detection " + id)
}

var (
	catLogin   = event.CategoryLogin.String()
	catDDL     = event.CategoryDDL.String()
	catPriv    = event.CategoryPrivilegeChange.String()
	catDenied  = event.CategoryAccessDenied.String()
	catError   = event.CategoryError.String()
	outSuccess = event.OutcomeSuccess.String()
	outFailure = event.OutcomeFailure.String()
)

func productSpec(file string, p product, description string, extra func(b *board, p product)) spec {
	for _, s := range p.systems {
		mustSystem(s)
	}
	return spec{
		file:        file,
		description: description,
		tags:        []string{tagProduct},
		build: func(b *board) {
			productVars(b, p)
			productCommon(b, p)
			extra(b, p)
		},
	}
}

func productVars(b *board, p product) {
	b.variable(promLabelVar("instance", "Exporter", "The dbsec exporters (Prometheus instance label).", "dbsec_exporter_build_info"))
	b.variable(promLabelVar("source", "Source", "The configured sources of "+p.name+".",
		fmt.Sprintf(`dbsec_lines_read_total{instance=~"$instance",system=~"%s"}`, p.systemRegex())))
}

// productCommon: the panels every product has, over its systems.
func productCommon(b *board, p product) {
	S := p.sel
	b.row("Authentication and access")
	b.stat("Successful logins", "Accepted logins in the time range.", "short", 4,
		pq{expr: fmt.Sprintf(`sum(increase(dbsec_login_attempts_total%s[$__range]))`, S(`outcome="`+outSuccess+`"`)),
			links: []link{eventsLink(nil, p.fixed(model.KeyCategory, catLogin, model.KeyOutcome, outSuccess)...)}})
	b.stat("Failed logins", "Refused logins in the time range (a failure written as several lines counts once).", "short", 4,
		pq{expr: fmt.Sprintf(`sum(increase(dbsec_login_attempts_total%s[$__range]))`, S(`outcome="`+outFailure+`"`)),
			links: []link{eventsLink(nil, p.fixed(model.KeyCategory, catLogin, model.KeyOutcome, outFailure)...)}}, 1, 20)
	b.stat("Login failure ratio", "Failed logins over all logins in the time range.", "percentunit", 4,
		pq{expr: fmt.Sprintf(`sum(increase(dbsec_login_attempts_total%s[$__range])) / (sum(increase(dbsec_login_attempts_total%s[$__range])) > 0)`,
			S(`outcome="`+outFailure+`"`), S()),
			links: []link{eventsLink(nil, p.fixed(model.KeyCategory, catLogin, model.KeyOutcome, outFailure)...)}}, 0.1, 0.5)
	b.stat("Access denials", "Statements and logins refused for lack of privilege in the time range.", "short", 4,
		pq{expr: fmt.Sprintf(`sum(increase(dbsec_access_denied_total%s[$__range]))`, S()),
			links: []link{eventsLink(nil, p.fixed(model.KeyCategory, catDenied)...)}}, 1, 20)
	b.stat("DDL statements", "Schema changes in the time range.", "short", 4,
		pq{expr: fmt.Sprintf(`sum(increase(dbsec_ddl_statements_total%s[$__range]))`, S()),
			links: []link{eventsLink(nil, p.fixed(model.KeyCategory, catDDL)...)}})
	b.stat("Privilege changes", "GRANT, REVOKE and account changes in the time range.", "short", 4,
		pq{expr: fmt.Sprintf(`sum(increase(dbsec_privilege_changes_total%s[$__range]))`, S()),
			links: []link{eventsLink(nil, p.fixed(model.KeyCategory, catPriv)...)}}, 1)
	by := []string{"instance", "source", "system", "outcome"}
	b.ts("Logins by source and outcome", "Login attempts per second by source and outcome. Click a series for its login events.", "ops", 12, 8,
		pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_login_attempts_total%s[$__rate_interval]))`, strings.Join(by, ", "), S()),
			legend: "{{source}} {{outcome}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catLogin)}})
	by = []string{"instance", "source", "system"}
	b.ts("Access denials by source", "Statements and logins refused for lack of privilege, per second. Click a series for the denials.", "ops", 12, 8,
		pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_access_denied_total%s[$__rate_interval]))`, strings.Join(by, ", "), S()),
			legend: "{{source}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catDenied)}})

	b.row("Statements and changes")
	by = []string{"instance", "source", "system", "category", "outcome"}
	b.ts("Events by category and outcome", "Audit events per second by security category and outcome (series at 0 are hidden). Click a series for its events.", "ops", 12, 8,
		pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_events_total%s[$__rate_interval])) > 0`, strings.Join(by, ", "), S()),
			legend: "{{source}} {{category}} {{outcome}}", by: by, links: []link{eventsLink(by)}})
	by = []string{"instance", "source", "system", "class"}
	b.ts("Statements by class", "SQL statements per second by class (select, insert, update, delete, ddl, dcl, admin, transaction), refused ones included.", "ops", 12, 8,
		pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_statements_total%s[$__rate_interval])) > 0`, strings.Join(by, ", "), S()),
			legend: "{{source}} {{class}}", by: by, links: []link{eventsLink(by)}})
	by = []string{"instance", "source", "system", "action"}
	b.bars("DDL by action", "Schema changes per interval by action. Click a bar for the statements.", 12, 8,
		pq{expr: fmt.Sprintf(`sum by (%s) (increase(dbsec_ddl_statements_total%s[$__rate_interval])) > 0`, strings.Join(by, ", "), S()),
			legend: "{{source}} {{action}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catDDL)}})
	b.bars("Privilege changes by action", "GRANT, REVOKE, CREATE/ALTER/DROP USER, SET PASSWORD … per interval. Click a bar for the statements.", 12, 8,
		pq{expr: fmt.Sprintf(`sum by (%s) (increase(dbsec_privilege_changes_total%s[$__rate_interval])) > 0`, strings.Join(by, ", "), S()),
			legend: "{{source}} {{action}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catPriv)}})

	b.row("Stored events")
	failed := p.fixed(model.KeyCategory, catLogin, model.KeyOutcome, outFailure)
	b.dbsecTable("Latest failed logins", "The most recent refused logins from the event store, with user and client address.", 12, 9,
		model.Query{QueryType: model.Events, Format: model.FormatTable, Filters: p.filters(model.KeyCategory, catLogin, model.KeyOutcome, outFailure), Limit: 100},
		explorerFieldLinks(failed)...)
	b.dbsecTable("Top users with failed logins", "Users ranked by refused logins in the time range. Click a user for their events.", 6, 9,
		model.Query{QueryType: model.Top, By: model.KeyUser, Filters: p.filters(model.KeyCategory, catLogin, model.KeyOutcome, outFailure), Limit: 10},
		explorerFieldLinks(failed, model.KeyUser)...)
	b.dbsecTable("Top client IPs with failed logins", "Client addresses ranked by refused logins in the time range. Click an address for its events.", 6, 9,
		model.Query{QueryType: model.Top, By: model.KeyClientIP, Filters: p.filters(model.KeyCategory, catLogin, model.KeyOutcome, outFailure), Limit: 10},
		explorerFieldLinks(failed, model.KeyClientIP)...)
	b.dbsecTable("Latest privilege changes and DDL", "The most recent privilege changes and schema changes from the event store.", 24, 9,
		model.Query{QueryType: model.Events, Format: model.FormatTable, Filters: p.filters(model.KeyCategory, catPriv, model.KeyCategory, catDDL), Limit: 100},
		explorerFieldLinks(p.fixed(model.KeyCategory, catPriv, model.KeyCategory, catDDL))...)
}

// topValueField is the name the API gives the ranked column of a top
// query (store.TopItem); a frame may keep it or name the column after the
// dimension, so top tables link on both.
const topValueField = "value"

// explorerFieldLinks are links on the user, client_ip and digest columns
// of a dbsec table (or only on the given ones) that open the events
// explorer on the clicked value, with fixed further filters.
func explorerFieldLinks(fixed []string, fields ...string) []fieldLinks {
	if len(fields) == 0 {
		fields = []string{model.KeyUser, model.KeyClientIP, model.KeyDigest}
	}
	var out []fieldLinks
	for _, f := range fields {
		vars := []string{VarDBSec, v(VarDBSec)}
		for i := 0; i+1 < len(fixed); i += 2 {
			if fixed[i] != f {
				vars = append(vars, fixed[i], fixed[i+1])
			}
		}
		vars = append(vars, f, "${__value.raw}")
		out = append(out, fieldLinks{field: f, links: []link{{"Events of this " + strings.ReplaceAll(f, "_", " "), dashURL("events.json", vars)}}})
	}
	if len(fields) == 1 {
		// A top table: its ranked column may be called value.
		out = append(out, fieldLinks{field: topValueField, links: out[0].links})
	}
	return out
}

// detectionPanel: detections of some rules over time, by rule and severity.
func detectionPanel(b *board, title, desc string, ids ...string) {
	var names []string
	for _, id := range ids {
		names = append(names, ruleName(id))
	}
	by := []string{"instance", "rule", "severity"}
	b.bars(title, desc, 12, 8,
		pq{expr: fmt.Sprintf(`sum by (%s) (increase(dbsec_detections_total{instance=~"$instance",rule=~"%s"}[$__rate_interval]))`,
			strings.Join(by, ", "), strings.Join(names, "|")),
			legend: "{{rule}} {{severity}}", by: by, links: []link{eventsLink(by), detectionsLink(by)}})
}

// detectionsLink opens the Detections dashboard on the clicked series.
func detectionsLink(by []string) link {
	vars := []string{VarDBSec, v(VarDBSec), VarPrometheus, v(VarPrometheus)}
	for _, l := range []string{"instance", "rule", "severity"} {
		if slices.Contains(by, l) {
			vars = append(vars, l, "${__field.labels."+l+"}")
		}
	}
	return link{"Detections", dashURL("detections.json", vars)}
}

var tidbSpec = productSpec("tidb.json", product{"TiDB", []string{"tidb"}},
	"TiDB: the audit plugin and audit-log extension, tidb.log security lines (failed logins, denials, CRUCIAL OPERATION) and the slow log.",
	func(b *board, p product) {
		S := p.sel
		b.row("TiDB: slow log and tidb.log")
		by := []string{"instance", "source", "system"}
		b.ts("Statement duration (p50, p99)", "Quantiles of statement duration where the format records it (slow log, audit-log extension).", "s", 12, 8,
			pq{expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le, %s) (rate(dbsec_query_duration_seconds_bucket%s[$__rate_interval])))`, strings.Join(by, ", "), S()),
				legend: "p99 {{source}}", by: by, links: []link{eventsLink(by)}},
			pq{expr: fmt.Sprintf(`histogram_quantile(0.5, sum by (le, %s) (rate(dbsec_query_duration_seconds_bucket%s[$__rate_interval])))`, strings.Join(by, ", "), S()),
				legend: "p50 {{source}}", by: by, links: []link{eventsLink(by)}})
		b.ts("Rows returned and affected (p99)", "99th percentile of the rows a read returned and a write affected, where the format records them.", "short", 12, 8,
			pq{expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le, %s) (rate(dbsec_rows_returned_bucket%s[$__rate_interval])))`, strings.Join(by, ", "), S()),
				legend: "returned {{source}}", by: by, links: []link{eventsLink(by)}},
			pq{expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le, %s) (rate(dbsec_rows_affected_bucket%s[$__rate_interval])))`, strings.Join(by, ", "), S()),
				legend: "affected {{source}}", by: by, links: []link{eventsLink(by)}})
		b.ts("Lines read by source", "Lines per second read from each TiDB log: audit plugin or extension, tidb.log, slow log.", "short", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_lines_read_total%s[$__rate_interval]))`, strings.Join(by, ", "), S()),
				legend: "{{source}}", by: by, links: []link{eventsLink(by)}})
		b.dbsecTable("Top statement digests", "Statement fingerprints ranked by count (the digest equals TiDB's own, so it joins the slow log and statement summary). Click a digest for its statements.", 12, 8,
			model.Query{QueryType: model.Top, By: model.KeyDigest, Filters: p.filters(), Limit: 10},
			explorerFieldLinks(p.fixed(), model.KeyDigest)...)
		b.dbsecLogs("CRUCIAL OPERATION (tidb.log)", "tidb.log lines TiDB marks as CRUCIAL OPERATION (user, privilege and configuration changes), from the event store.", 24, 10,
			model.Query{QueryType: model.Events, Format: model.FormatLogs, Filters: p.filters(), Q: "CRUCIAL OPERATION", Limit: 500})
	})

var tdengineSpec = productSpec("tdengine.json", product{"TDengine", []string{"tdengine"}},
	"TDengine: taosd and taosAdapter authentication, taosAdapter denials (whitelist, reject-sql, 403), the audit records taosd pushes and the taosAdapter SQL audit.",
	func(b *board, p product) {
		S := p.sel
		b.row("TDengine: errors and the audit push")
		by := []string{"instance", "source", "system"}
		b.ts("Errors by source", "Error events per second (taosd and taosAdapter error lines; a taosAdapter authentication failure also logged by taosd counts as an error here and as a login there).", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_events_total%s[$__rate_interval]))`, strings.Join(by, ", "), S(`category="`+catError+`"`)),
				legend: "{{source}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catError)}})
		byc := []string{"instance", "source", "code"}
		b.ts("Audit push: requests by status code", "POSTs of audit records from taosd to the taosKeeper-compatible receiver, per second by HTTP status.", "reqps", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_taosaudit_requests_total{instance=~"$instance"}[$__rate_interval]))`, strings.Join(byc, ", ")),
				legend: "{{source}} {{code}}", by: byc, links: []link{eventsLink(byc)}})
		bys := []string{"instance", "source"}
		b.ts("Audit push: records", "Audit records turned into events, and records of valid bodies rejected (no timestamp, no operation), per second.", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_taosaudit_events_total{instance=~"$instance"}[$__rate_interval]))`, strings.Join(bys, ", ")),
				legend: "events {{source}}", by: bys, links: []link{eventsLink(bys)}},
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_taosaudit_rejected_records_total{instance=~"$instance"}[$__rate_interval]))`, strings.Join(bys, ", ")),
				legend: "rejected {{source}}", by: bys, links: []link{eventsLink(bys)}})
		b.dbsecTable("taosAdapter and taosd denials", "Refused requests and statements (whitelist, reject-sql, 403, permission errors) from the event store.", 12, 8,
			model.Query{QueryType: model.Events, Format: model.FormatTable, Filters: p.filters(model.KeyCategory, catDenied), Limit: 100},
			explorerFieldLinks(p.fixed(model.KeyCategory, catDenied))...)
		b.dbsecTable("Top statement digests", "Statement fingerprints ranked by count (taosAdapter SQL audit and audit records). Click a digest for its statements.", 24, 8,
			model.Query{QueryType: model.Top, By: model.KeyDigest, Filters: p.filters(), Limit: 10},
			explorerFieldLinks(p.fixed(), model.KeyDigest)...)
	})

var redashSpec = productSpec("redash.json", product{"Redash", []string{"redash"}},
	"Redash behind nginx: logins (POST /login answered 200 is a failed login, 302 a success, 429 throttling), 401/403, API keys in URLs, application errors and scanners.",
	func(b *board, p product) {
		S := p.sel
		b.row("Redash: throttling, API keys, errors")
		d35, d36, d37 := ruleInfo("D35"), ruleInfo("D36"), ruleInfo("D37")
		detectionPanel(b, "Login brute force and throttling ("+d35.ID+")", d35.Title+": "+d35.Summary+".", d35.ID)
		detectionPanel(b, "401/403 bursts and API keys in URLs ("+d36.ID+")", d36.Title+": "+d36.Summary+".", d36.ID)
		detectionPanel(b, "Scanners and injection ("+d37.ID+")", d37.Title+": "+d37.Summary+".", d37.ID)
		by := []string{"instance", "source", "system"}
		b.ts("Application errors", "Redash application errors and tracebacks (redash-app, gunicorn) and 5xx answers, per second.", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_events_total%s[$__rate_interval]))`, strings.Join(by, ", "), S(`category="`+catError+`"`)),
				legend: "{{source}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catError)}})
		b.dbsecLogs("Requests with an API key in the URL", "Requests that carried api_key= in the URL (the key itself is masked before it is stored).", 24, 10,
			model.Query{QueryType: model.Events, Format: model.FormatLogs, Filters: p.filters(), Q: "api_key", Limit: 500})
	})

var mysqlSpec = productSpec("mysql.json", product{"MariaDB and MySQL", []string{"mariadb", "mysql"}},
	"MariaDB server_audit, MySQL Enterprise Audit, Percona audit_log and the error log's access-denied lines.",
	func(b *board, p product) {
		S := p.sel
		b.row("MariaDB and MySQL: failures and durations")
		by := []string{"instance", "source", "system", "category"}
		b.ts("Failed statements by category", "Statements that failed (any error code), per second by category; refusals for lack of privilege are category access_denied.", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_events_total%s[$__rate_interval])) > 0`, strings.Join(by, ", "), S(`outcome="`+outFailure+`"`)),
				legend: "{{source}} {{category}}", by: by, links: []link{eventsLink(by, model.KeyOutcome, outFailure)}})
		by = []string{"instance", "source", "system"}
		b.ts("Statement duration (p99)", "99th percentile of statement duration where the audit format records it (MySQL Enterprise Audit, Percona).", "s", 12, 8,
			pq{expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le, %s) (rate(dbsec_query_duration_seconds_bucket%s[$__rate_interval])))`, strings.Join(by, ", "), S()),
				legend: "p99 {{source}}", by: by, links: []link{eventsLink(by)}})
		b.dbsecTable("Access-denied statements", "Statements refused for lack of privilege (errors 1044, 1142, 1143, 1227 …) from the event store.", 12, 8,
			model.Query{QueryType: model.Events, Format: model.FormatTable, Filters: p.filters(model.KeyCategory, catDenied), Limit: 100},
			explorerFieldLinks(p.fixed(model.KeyCategory, catDenied))...)
		b.dbsecTable("Top statement digests", "Statement fingerprints ranked by count. Click a digest for its statements.", 12, 8,
			model.Query{QueryType: model.Top, By: model.KeyDigest, Filters: p.filters(), Limit: 10},
			explorerFieldLinks(p.fixed(), model.KeyDigest)...)
	})

var postgresSpec = productSpec("postgres.json", product{"PostgreSQL", []string{"postgres"}},
	"PostgreSQL with pgaudit (stderr or csvlog): connections, pgaudit classes (READ, WRITE, ROLE, DDL, FUNCTION, MISC) as statement classes and categories, errors.",
	func(b *board, p product) {
		S := p.sel
		b.row("PostgreSQL: pgaudit classes and errors")
		by := []string{"instance", "source", "system", "category"}
		b.bars("pgaudit activity by category", "pgaudit entries per interval by security category: READ → read, WRITE → dml_write, ROLE → privilege_change, DDL → ddl, MISC → admin.", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (increase(dbsec_events_total%s[$__rate_interval])) > 0`, strings.Join(by, ", "), S()),
				legend: "{{source}} {{category}}", by: by, links: []link{eventsLink(by)}})
		by = []string{"instance", "source", "system"}
		b.ts("Errors by source", "Error events (SQLSTATE errors, FATAL lines) per second.", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_events_total%s[$__rate_interval]))`, strings.Join(by, ", "), S(`category="`+catError+`"`)),
				legend: "{{source}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catError)}})
		b.dbsecTable("pgaudit ROLE statements", "Role and privilege statements pgaudit logged (GRANT, REVOKE, CREATE/ALTER ROLE …) from the event store.", 12, 8,
			model.Query{QueryType: model.Events, Format: model.FormatTable, Filters: p.filters(model.KeyCategory, catPriv), Limit: 100},
			explorerFieldLinks(p.fixed(model.KeyCategory, catPriv))...)
		b.dbsecTable("Top statement digests", "Statement fingerprints ranked by count. Click a digest for its statements.", 12, 8,
			model.Query{QueryType: model.Top, By: model.KeyDigest, Filters: p.filters(), Limit: 10},
			explorerFieldLinks(p.fixed(), model.KeyDigest)...)
	})
