// Package model is the query model of the dbsec Grafana data source: the
// JSON that the query editor writes, that dashboards and alert rules carry
// as a target, and that the plugin backend reads. It imports only the
// standard library, so the dashboard generator and the docs can use it
// without the Grafana SDK.
//
// The frontend's TypeScript types (plugin/frontend/src/types.ts) mirror
// this file; a test compares the two.
package model

// QueryType selects what a query returns.
type QueryType string

// Query types.
const (
	// Events: stored events, as a logs frame (Format "logs", the default)
	// or a table (Format "table").
	Events QueryType = "events"
	// Series: event counts per step, one series per value of By.
	Series QueryType = "series"
	// Top: the values of By ranked by event count (table).
	Top QueryType = "top"
	// Detections: detector hits (table).
	Detections QueryType = "detections"
	// Findings: configuration findings of the drift checker (table).
	Findings QueryType = "findings"
	// DriftChanges: changes against the approved configuration snapshot
	// (table; also served as annotations).
	DriftChanges QueryType = "drift_changes"
	// Integrity: the hash chain verification of the store (table).
	Integrity QueryType = "integrity"
	// Status: the exporters' sources and store (table).
	Status QueryType = "status"
	// Values: distinct values of Field, for template variables.
	Values QueryType = "values"
)

// QueryTypes lists every query type in the order editors offer them.
func QueryTypes() []QueryType {
	return []QueryType{Events, Series, Top, Detections, Findings, DriftChanges, Integrity, Status, Values}
}

// Format of an events query.
const (
	FormatLogs  = "logs"
	FormatTable = "table"
)

// Filter operators.
const (
	OpEqual    = "="
	OpNotEqual = "!="
)

// Filter keys. Keys of event fields (source … connection_id) apply to
// events, series, top, values and (source, user, client_ip, rule,
// severity) detections; target, severity, status and rule apply to
// findings; target to drift changes.
const (
	KeySource       = "source"
	KeySystem       = "system"
	KeyCategory     = "category"
	KeyOutcome      = "outcome"
	KeyAction       = "action"
	KeyUser         = "user"
	KeyClientIP     = "client_ip"
	KeyDigest       = "digest"
	KeyRule         = "rule"
	KeyConnectionID = "connection_id"
	KeySeverity     = "severity"
	KeyTarget       = "target"
	KeyStatus       = "status"
)

// FilterKeys lists every filter key.
func FilterKeys() []string {
	return []string{KeySource, KeySystem, KeyCategory, KeyOutcome, KeyAction, KeyUser, KeyClientIP, KeyDigest,
		KeyRule, KeyConnectionID, KeySeverity, KeyTarget, KeyStatus}
}

// Filter is one condition. Several filters on one key with "=" are
// alternatives (OR); "!=" excludes; different keys combine with AND.
type Filter struct {
	Key   string `json:"key"`
	Op    string `json:"op,omitempty"` // "=" (default) or "!="
	Value string `json:"value"`
}

// Query is one query of a panel, an alert rule or a template variable.
type Query struct {
	RefID     string    `json:"refId,omitempty"`
	QueryType QueryType `json:"queryType,omitempty"` // default Events
	// Format of an events query: "logs" (default) or "table".
	Format  string   `json:"format,omitempty"`
	Filters []Filter `json:"filters,omitempty"`
	// Q is free text: a case-insensitive substring of the statement or the
	// raw record.
	Q string `json:"q,omitempty"`
	// By is the dimension of series, top and values (Field is its alias
	// for values queries): source, system, category, outcome, action,
	// user, client_ip, digest or rule.
	By    string `json:"by,omitempty"`
	Field string `json:"field,omitempty"`
	// Top keeps the N series with the highest totals (series; default 10).
	Top int `json:"top,omitempty"`
	// Step of a series query as a Go duration ("5m"); empty: the panel's
	// interval.
	Step string `json:"step,omitempty"`
	// Limit of rows (events default 1000, top 10, others 1000).
	Limit int `json:"limit,omitempty"`
}

// Settings are the data source's jsonData beyond Grafana's standard HTTP
// settings (whose url is the first exporter).
type Settings struct {
	// URLs are further exporters; queries fan out to all of them and merge.
	URLs []string `json:"urls,omitempty"`
}
