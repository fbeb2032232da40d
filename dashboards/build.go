// Package dashboards generates dbsec's Grafana dashboards with the Go
// builders of grafana-foundation-sdk. `go tool mage dashboards` (or
// `go run ./dashboards/gen`) writes them as JSON next to this file; the JSON
// is committed and provisioned as is, and the tests of this package check
// that it is the generator's output, that every link resolves and that every
// PromQL expression runs against a real Prometheus scraping the exporter.
//
// Names come from the project's Go packages wherever they exist: label
// values of closed sets from pkg/event, detection rules from pkg/detect,
// finding severities from pkg/finding, query types and filter keys of the
// dbsec data source from pkg/grafana/model.
package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/dbsec/dbsec/pkg/grafana/model"
)

// PluginID is the id of the dbsec Grafana data source plugin.
const PluginID = "dbsec-audit-datasource"

// Names of the data source variables every dashboard has. Panels reach
// their data source only through them, never through a fixed uid.
const (
	VarPrometheus = "prometheus"
	VarDBSec      = "dbsec"
)

// Uids of the data sources in provisioning/datasources.yaml, selected by
// default in the data source variables.
const (
	ProvisionedPrometheusUID = "prometheus"
	ProvisionedDBSecUID      = "dbsec"
)

// Tags.
const (
	tagAll     = "dbsec"
	tagProduct = "dbsec-product"
)

// Board is one generated dashboard.
type Board struct {
	File  string // file name under dashboards/
	UID   string
	Title string
	JSON  []byte
}

var promDS = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + VarPrometheus + "}")}
var dbsecDS = common.DataSourceRef{Type: cog.ToPtr(PluginID), Uid: cog.ToPtr("${" + VarDBSec + "}")}

// spec is what a dashboard file declares before it is built.
type spec struct {
	file, description string
	tags              []string
	build             func(b *board)
}

// meta holds the uid and title of each dashboard file. The uids are
// stable: links and provisioning refer to them.
var meta = map[string]struct{ uid, title string }{
	"overview.json":   {"dbsec-overview", "dbsec / Security overview"},
	"tidb.json":       {"dbsec-tidb", "dbsec / TiDB"},
	"tdengine.json":   {"dbsec-tdengine", "dbsec / TDengine"},
	"redash.json":     {"dbsec-redash", "dbsec / Redash"},
	"mysql.json":      {"dbsec-mysql", "dbsec / MariaDB and MySQL"},
	"postgres.json":   {"dbsec-postgres", "dbsec / PostgreSQL"},
	"detections.json": {"dbsec-detections", "dbsec / Detections"},
	"drift.json":      {"dbsec-drift", "dbsec / Configuration drift"},
	"events.json":     {"dbsec-events", "dbsec / Events explorer"},
	"exporter.json":   {"dbsec-exporter", "dbsec / Exporter health"},
}

func (s spec) uid() string   { return uidOf(s.file) }
func (s spec) title() string { return titleOf(s.file) }

// specs lists every dashboard in the order of dashboards/includes.json.
var specs = []spec{
	overviewSpec,
	tidbSpec, tdengineSpec, redashSpec, mysqlSpec, postgresSpec,
	detectionsSpec,
	driftSpec,
	eventsSpec,
	exporterSpec,
}

// uidOf returns the uid of the dashboard written to file.
func uidOf(file string) string {
	m, ok := meta[file]
	if !ok {
		panic("no dashboard " + file)
	}
	return m.uid
}

func titleOf(file string) string {
	m, ok := meta[file]
	if !ok {
		panic("no dashboard " + file)
	}
	return m.title
}

// Boards builds every dashboard.
func Boards() ([]Board, error) {
	var out []Board
	for _, s := range specs {
		b := newBoard(s)
		s.build(b)
		d, err := b.d.Build()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.file, err)
		}
		// Stable panel ids in layout order.
		for i := range d.Panels {
			id := uint32(i + 1)
			if p := d.Panels[i].Panel; p != nil {
				p.Id = &id
			} else if r := d.Panels[i].RowPanel; r != nil {
				r.Id = id
			}
		}
		js, err := Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.file, err)
		}
		out = append(out, Board{File: s.file, UID: s.uid(), Title: s.title(), JSON: js})
	}
	return out, nil
}

// Marshal renders a dashboard as indented JSON with &, < and > left
// readable (the SDK's marshallers escape them).
func Marshal(v any) ([]byte, error) {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	js = bytes.ReplaceAll(js, []byte(`\u0026`), []byte("&"))
	js = bytes.ReplaceAll(js, []byte(`\u003c`), []byte("<"))
	js = bytes.ReplaceAll(js, []byte(`\u003e`), []byte(">"))
	return append(js, '\n'), nil
}

// Include is one entry of plugin.json's includes.
type Include struct {
	Type string `json:"type"`
	Name string `json:"name"`
	Path string `json:"path"`
}

// Includes lists the dashboards for plugin.json's includes; paths are
// relative to the plugin folder, where the build copies dashboards/*.json
// to dashboards/.
func Includes() []Include {
	var out []Include
	for _, s := range specs {
		out = append(out, Include{Type: "dashboard", Name: s.title(), Path: "dashboards/" + s.file})
	}
	return out
}

// Write writes every dashboard and includes.json into dir.
func Write(dir string) error {
	boards, err := Boards()
	if err != nil {
		return err
	}
	for _, b := range boards {
		if err := os.WriteFile(filepath.Join(dir, b.File), b.JSON, 0o644); err != nil {
			return err
		}
	}
	inc, err := Marshal(Includes())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "includes.json"), inc, 0o644)
}

// board wraps the SDK's dashboard builder with the conventions of dbsec's
// dashboards: the data source variables, links between dashboards and an
// automatic refId per target.
type board struct {
	s spec
	//lint:ignore SA1019 the v1 dashboard schema is the one Grafana 11 to 13 all load; dashboardv2 needs Grafana 12+.
	d *dashboard.DashboardBuilder
}

func newBoard(s spec) *board {
	//lint:ignore SA1019 the v1 dashboard schema is the one Grafana 11 to 13 all load; dashboardv2 needs Grafana 12+.
	d := dashboard.NewDashboardBuilder(s.title()).
		Uid(s.uid()).
		Description(s.description).
		Tags(append([]string{tagAll}, s.tags...)).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Timezone("browser").
		Time("now-6h", "now").
		Refresh("1m").
		WithVariable(dashboard.NewDatasourceVariableBuilder(VarPrometheus).
			Label("Prometheus").
			Description("The Prometheus that scrapes the dbsec exporters.").
			Type("prometheus").
			Current(option(ProvisionedPrometheusUID))).
		WithVariable(dashboard.NewDatasourceVariableBuilder(VarDBSec).
			Label("dbsec").
			Description("The dbsec data source: the event store, detections and findings of the exporters.").
			Type(PluginID).
			Current(option(ProvisionedDBSecUID)))
	// Every dashboard links to the others; product dashboards also to
	// each other in their own menu.
	d.Link(dashboard.NewDashboardLinkBuilder("dbsec").
		Type(dashboard.DashboardLinkTypeDashboards).
		Tags([]string{tagAll}).
		AsDropdown(true).
		KeepTime(true).
		IncludeVars(false).
		TargetBlank(false).
		Icon("external link").
		Tooltip("dbsec dashboards"))
	if slices.Contains(s.tags, tagProduct) {
		d.Link(dashboard.NewDashboardLinkBuilder("Products").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{tagProduct}).
			AsDropdown(false).
			KeepTime(true).
			IncludeVars(false).
			TargetBlank(false).
			Icon("external link").
			Tooltip("The other products' dashboards"))
	}
	if s.file != "events.json" {
		d.Link(dashboard.NewDashboardLinkBuilder("Events explorer").
			Type(dashboard.DashboardLinkTypeLink).
			Url(dashURL("events.json", nil)).
			KeepTime(true).
			IncludeVars(false).
			TargetBlank(false).
			Icon("dashboard").
			Tags([]string{}).
			Tooltip("The stored events behind the metrics"))
	}
	return &board{s: s, d: d}
}

func (b *board) row(title string) {
	b.d.WithRow(dashboard.NewRowBuilder(title))
}

func (b *board) variable(v cog.Builder[dashboard.VariableModel]) {
	b.d.WithVariable(v)
}

// Variables.

// promLabelVar is a multi-value Prometheus variable over the values of a
// label; All matches every series, with or without the label.
func promLabelVar(name, label, description, metricSelector string) *dashboard.QueryVariableBuilder {
	q := fmt.Sprintf("label_values(%s, %s)", metricSelector, name)
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Description(description).
		Datasource(promDS).
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		Current(allOption())
}

// customVar is a multi-value variable over a closed set. For Prometheus
// (regex matchers) allValue is ".*"; for the dbsec data source, where All
// must expand to every value of the set, allValue is empty.
func customVar(name, label, description string, values []string, promRegex bool) *dashboard.CustomVariableBuilder {
	v := dashboard.NewCustomVariableBuilder(name).
		Label(label).
		Description(description).
		Values(dashboard.StringOrMap{String: cog.ToPtr(strings.Join(values, ","))}).
		Multi(true).
		IncludeAll(true).
		Current(allOption())
	if promRegex {
		v.AllValue(".*")
	}
	return v
}

func textVar(name, label, description string) *dashboard.TextBoxVariableBuilder {
	return dashboard.NewTextBoxVariableBuilder(name).
		Label(label).
		Description(description).
		DefaultValue(dashboard.StringOrMap{String: cog.ToPtr("")}).
		Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("")}, Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("")}})
}

func allOption() dashboard.VariableOption {
	return dashboard.VariableOption{
		Selected: cog.ToPtr(true),
		Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
		Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
	}
}

// Links.

// dashURL is the URL of a dashboard with var- parameters (in the order
// given: name, value, name, value …) and the current time range.
func dashURL(file string, vars []string) string {
	uid, title := uidOf(file), titleOf(file)
	var q []string
	for i := 0; i+1 < len(vars); i += 2 {
		q = append(q, "var-"+vars[i]+"="+vars[i+1])
	}
	q = append(q, "${__url_time_range}")
	return "/d/" + uid + "/" + slug(title) + "?" + strings.Join(q, "&")
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// link is a data link of a panel or a field.
type link struct {
	title string
	url   string
}

func (l link) builder() cog.Builder[dashboard.DashboardLink] {
	return dashboard.NewDashboardLinkBuilder(l.title).
		Type(dashboard.DashboardLinkTypeLink).
		Url(l.url).
		Tags([]string{}).
		TargetBlank(false)
}

// explorerFilterKeys are the labels of metric series that the events
// explorer takes as filters (its variables of the same name).
var explorerFilterKeys = []string{model.KeySource, model.KeySystem, model.KeyCategory, model.KeyOutcome, model.KeyAction, model.KeyRule}

// eventsLink opens the events explorer on the clicked series: every label
// of by that the explorer filters on is passed from the series, and fixed
// sets further filters (label → value).
func eventsLink(by []string, fixed ...string) link {
	var vars []string
	vars = append(vars, VarDBSec, "${"+VarDBSec+"}")
	for i := 0; i+1 < len(fixed); i += 2 {
		vars = append(vars, fixed[i], url.QueryEscape(fixed[i+1]))
	}
	for _, l := range by {
		if slices.Contains(explorerFilterKeys, l) && !slices.Contains(fixedKeys(fixed), l) {
			vars = append(vars, l, "${__field.labels."+l+"}")
		}
	}
	return link{"Events of this series", dashURL("events.json", vars)}
}

func fixedKeys(fixed []string) []string {
	var k []string
	for i := 0; i < len(fixed); i += 2 {
		k = append(k, fixed[i])
	}
	return k
}

// Queries.

// pq is one PromQL target of a panel with the labels its result keeps (for
// the links) and its own links.
type pq struct {
	expr, legend string
	by           []string
	instant      bool // an instant query (stat, bar gauge, table)
	table        bool // format table (one row per series, for tables)
	links        []link
}

func promTarget(q pq, ref string) cog.Builder[variants.Dataquery] {
	t := prometheus.NewDataqueryBuilder().
		Expr(q.expr).
		RefId(ref).
		Datasource(promDS).
		EditorMode(prometheus.QueryEditorModeCode)
	if q.legend != "" {
		t.LegendFormat(q.legend)
	}
	switch {
	case q.instant && q.table:
		t.Instant().Format(prometheus.PromQueryFormatTable)
	case q.instant:
		t.Instant().Format(prometheus.PromQueryFormatTimeSeries)
	default:
		t.Range()
	}
	return t
}

func dbsecTarget(q model.Query, ref string) cog.Builder[variants.Dataquery] {
	q.RefID = ref
	b, err := json.Marshal(q)
	if err != nil {
		panic(err)
	}
	obj := variants.UnknownDataquery{}
	if err := json.Unmarshal(b, &obj); err != nil {
		panic(err)
	}
	obj["datasource"] = map[string]any{"type": PluginID, "uid": "${" + VarDBSec + "}"}
	return variants.NewUnknownDataqueryBuilderFromObject(obj)
}

func refID(i int) string { return string(rune('A' + i)) }

// filters builds dbsec filters from key, value pairs; values are usually
// variables ("$user"), interpolated by the data source.
func filters(kv ...string) []model.Filter {
	var f []model.Filter
	for i := 0; i+1 < len(kv); i += 2 {
		f = append(f, model.Filter{Key: kv[i], Op: model.OpEqual, Value: kv[i+1]})
	}
	return f
}

func v(name string) string { return "${" + name + "}" }

// Field overrides.

func linksProperty(ls []link) dashboard.DynamicConfigValue {
	var out []map[string]any
	for _, l := range ls {
		out = append(out, map[string]any{"title": l.title, "url": l.url, "targetBlank": false})
	}
	return dashboard.DynamicConfigValue{Id: "links", Value: out}
}

// dbsecValuesVar is a multi-value variable over the values the dbsec data
// source has for a field; All expands to every value.
func dbsecValuesVar(name, label, description string, q model.Query) *dashboard.QueryVariableBuilder {
	b, err := json.Marshal(q)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Description(description).
		Datasource(dbsecDS).
		Query(dashboard.StringOrMap{Map: m}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		Current(allOption())
}

func option(value string) dashboard.VariableOption {
	return dashboard.VariableOption{
		Selected: cog.ToPtr(true),
		Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr(value)},
		Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr(value)},
	}
}
