package dashboards

import (
	"fmt"
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/grafana/model"
)

// explorerVars are the events explorer's filter variables, in the order of
// its variable bar. Each is the filter key of the same name.
var explorerVars = []string{
	model.KeySource, model.KeySystem, model.KeyCategory, model.KeyOutcome, model.KeyAction,
	model.KeyUser, model.KeyClientIP, model.KeyDigest, model.KeyRule,
}

// VarFreeText is the events explorer's free-text variable (the query's q).
const VarFreeText = "q"

// VarAdHoc is the events explorer's ad hoc filter variable.
const VarAdHoc = "filters"

// VarBy is the events explorer's variable for the series dimension.
const VarBy = "by"

// seriesDimensions are the values of a series query's by (filter keys that
// are event fields with few enough values to chart).
func seriesDimensions() []string {
	return []string{model.KeyCategory, model.KeyOutcome, model.KeyAction, model.KeySource, model.KeySystem,
		model.KeyRule, model.KeyUser, model.KeyClientIP, model.KeyDigest}
}

// explorerFilters are the filters every query of the explorer carries.
func explorerFilters() []model.Filter {
	var kv []string
	for _, k := range explorerVars {
		kv = append(kv, k, v(k))
	}
	return filters(kv...)
}

var eventsSpec = spec{
	file: "events.json",
	description: "The stored audit events behind the metrics: filter by source, system, user, client address, category, outcome, " +
		"action, rule, digest and free text. Every metric panel of the other dashboards links here with its series' labels and time range.",
	build: func(b *board) {
		closed := map[string][]string{
			model.KeySystem:   event.SystemNames(),
			model.KeyCategory: event.CategoryNames(),
			model.KeyOutcome:  event.OutcomeNames(),
			model.KeyAction:   event.ActionNames(),
		}
		for _, k := range explorerVars {
			label := strings.ReplaceAll(k, "_", " ")
			label = strings.ToUpper(label[:1]) + label[1:]
			switch {
			case k == model.KeySource:
				q := model.Query{RefID: "values", QueryType: model.Values, Field: model.KeySource}
				b.variable(dbsecValuesVar(k, label, "The configured sources (values in the event store).", q))
			case closed[k] != nil:
				b.variable(customVar(k, label, fmt.Sprintf("Event %s (closed set of pkg/event); All: any.", k), closed[k], false))
			default:
				b.variable(textVar(k, label, fmt.Sprintf("Exact %s; empty: any.", strings.ReplaceAll(k, "_", " "))))
			}
		}
		b.variable(textVar(VarFreeText, "Text", "Free text: a case-insensitive substring of the statement or the raw record; empty: any."))
		b.variable(customVar(VarBy, "Series by", "Dimension of the series panel.", seriesDimensions(), false).Multi(false).IncludeAll(false).
			Current(option(model.KeyCategory)))
		// "Filter for value" / "filter out value" in the logs and table
		// panels add to this ad hoc variable; the data source turns its
		// entries into further filters of every query.
		b.variable(dashboard.NewAdHocVariableBuilder(VarAdHoc).
			Label("Filters").
			Description("Further filters, added by \"filter for / filter out value\" on a log field or table cell.").
			Datasource(dbsecDS))

		f := explorerFilters()
		b.dbsecSeries("Events over time", "Stored events per interval, one series per value of the \"Series by\" variable (top 10).", 24, 8,
			model.Query{QueryType: model.Series, Filters: f, Q: v(VarFreeText), By: v(VarBy), Top: 10})
		for _, by := range []string{model.KeyUser, model.KeyClientIP, model.KeyDigest} {
			name := map[string]string{model.KeyUser: "Top users", model.KeyClientIP: "Top client IPs", model.KeyDigest: "Top statement digests"}[by]
			b.dbsecTable(name, name+" by event count under the current filters. Click a value to filter on it.", 8, 8,
				model.Query{QueryType: model.Top, Filters: f, Q: v(VarFreeText), By: by, Limit: 10},
				fieldLinks{by, []link{{"Filter on this value", selfLink(by)}}},
				fieldLinks{topValueField, []link{{"Filter on this value", selfLink(by)}}})
		}
		b.dbsecLogs("Events", "The matching events, newest first, as log lines (statement or raw record); expand one for every field.", 24, 14,
			model.Query{QueryType: model.Events, Format: model.FormatLogs, Filters: f, Q: v(VarFreeText), Limit: 1000})
		b.dbsecTable("Events table", "The matching events as a table. Click a user, client address or digest to filter on it.", 24, 12,
			model.Query{QueryType: model.Events, Format: model.FormatTable, Filters: f, Q: v(VarFreeText), Limit: 1000},
			fieldLinks{model.KeyUser, []link{{"Filter on this user", selfLink(model.KeyUser)}}},
			fieldLinks{model.KeyClientIP, []link{{"Filter on this client IP", selfLink(model.KeyClientIP)}}},
			fieldLinks{model.KeyDigest, []link{{"Filter on this digest", selfLink(model.KeyDigest)}}})
	},
}

// selfLink reopens the explorer with every current variable and key set to
// the clicked value.
func selfLink(key string) string {
	vars := []string{VarDBSec, v(VarDBSec)}
	for _, k := range append(slices.Clone(explorerVars), VarFreeText) {
		if k == key {
			vars = append(vars, k, "${__value.raw}")
		} else {
			vars = append(vars, k, "${"+k+":queryparam}")
		}
	}
	// ${x:queryparam} renders as var-x=value, so those are passed whole.
	var q []string
	for i := 0; i+1 < len(vars); i += 2 {
		if strings.HasSuffix(vars[i+1], ":queryparam}") {
			q = append(q, vars[i+1])
		} else {
			q = append(q, "var-"+vars[i]+"="+vars[i+1])
		}
	}
	q = append(q, "${__url_time_range}")
	return "/d/" + uidOf("events.json") + "/" + slug(titleOf("events.json")) + "?" + strings.Join(q, "&")
}
