package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/logs"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/text"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/dbsec/dbsec/pkg/grafana/model"
)

// linkable is what every panel builder of the SDK offers for links.
type linkable[T any] interface {
	DataLinks([]cog.Builder[dashboard.DashboardLink]) T
	OverrideByQuery(string, []dashboard.DynamicConfigValue) T
}

// promLinks puts the links of a single query into the panel's field
// defaults, and those of several queries into an override per query (so
// that a click on a series opens the drill-down of the query it came from).
func promLinks[T linkable[T]](p T, qs []pq) {
	if len(qs) == 0 {
		return
	}
	p.DataLinks(linkBuilders(qs[0].links))
	if len(qs) == 1 {
		return
	}
	for i, q := range qs {
		p.OverrideByQuery(refID(i), []dashboard.DynamicConfigValue{linksProperty(q.links)})
	}
}

func linkBuilders(ls []link) []cog.Builder[dashboard.DashboardLink] {
	var out []cog.Builder[dashboard.DashboardLink]
	for _, l := range ls {
		out = append(out, l.builder())
	}
	return out
}

func thresholds(steps ...float64) cog.Builder[dashboard.ThresholdsConfig] {
	// steps: green below the first value, then orange, then red.
	colors := []string{"green", "orange", "red"}
	ts := []dashboard.Threshold{{Value: nil, Color: colors[0]}}
	for i, s := range steps {
		ts = append(ts, dashboard.Threshold{Value: cog.ToPtr(s), Color: colors[min(i+1, 2)]})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(ts)
}

// ts adds a time series panel of PromQL queries.
func (b *board) ts(title, desc, unit string, w, h uint32, qs ...pq) {
	p := timeseries.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(promDS).
		Unit(unit).
		Span(w).Height(h).
		Min(0).
		FillOpacity(10).
		LineWidth(1).
		ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			Calcs([]string{})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
	for i, q := range qs {
		p.WithTarget(promTarget(q, refID(i)))
	}
	promLinks(p, qs)
	b.d.WithPanel(p)
}

// bars adds a time series panel drawn as stacked bars (counts per interval).
func (b *board) bars(title, desc string, w, h uint32, qs ...pq) {
	p := timeseries.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(promDS).
		Unit("short").
		Span(w).Height(h).
		Min(0).
		DrawStyle(common.GraphDrawStyleBars).
		FillOpacity(80).
		LineWidth(1).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementRight).
			Calcs([]string{"sum"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
	for i, q := range qs {
		p.WithTarget(promTarget(q, refID(i)))
	}
	promLinks(p, qs)
	b.d.WithPanel(p)
}

// stat adds a single-value panel of an instant query; th are the orange
// and red thresholds (none: always blue).
func (b *board) stat(title, desc, unit string, w uint32, q pq, th ...float64) {
	q.instant = true
	p := stat.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(promDS).
		Unit(unit).
		Span(w).Height(4).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeValue).
		Orientation(common.VizOrientationAuto).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		NoValue("0").
		WithTarget(promTarget(q, "A"))
	if len(th) > 0 {
		p.Thresholds(thresholds(th...))
	} else {
		p.ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdFixed).FixedColor("blue"))
	}
	promLinks(p, []pq{q})
	b.d.WithPanel(p)
}

// bargauge adds horizontal bars of an instant query, one per series.
func (b *board) bargauge(title, desc, unit string, w, h uint32, q pq) {
	q.instant = true
	p := bargauge.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(promDS).
		Unit(unit).
		Span(w).Height(h).
		Min(0).
		DisplayMode(common.BarGaugeDisplayModeGradient).
		Orientation(common.VizOrientationHorizontal).
		ShowUnfilled(true).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		WithTarget(promTarget(q, "A"))
	promLinks(p, []pq{q})
	b.d.WithPanel(p)
}

// promTable adds a table of an instant query; the links use the row's
// fields (${__data.fields.<label>}).
func (b *board) promTable(title, desc string, w, h uint32, q pq, hidden ...string) {
	q.instant, q.table = true, true
	exclude := map[string]any{"Time": true}
	for _, f := range hidden {
		exclude[f] = true
	}
	p := table.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(promDS).
		Span(w).Height(h).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"})).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{"excludeByName": exclude}}).
		WithTarget(promTarget(q, "A"))
	promLinks(p, []pq{q})
	b.d.WithPanel(p)
}

// fieldLinks are links on one field (column) of a table.
type fieldLinks struct {
	field string
	links []link
}

// dbsecTable adds a table of a dbsec query, with links on some columns.
func (b *board) dbsecTable(title, desc string, w, h uint32, q model.Query, fls ...fieldLinks) {
	b.dbsecTableT(title, desc, w, h, q, nil, fls...)
}

// dbsecTableT is dbsecTable with transformations.
func (b *board) dbsecTableT(title, desc string, w, h uint32, q model.Query, tr []dashboard.DataTransformerConfig, fls ...fieldLinks) {
	p := table.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(dbsecDS).
		Span(w).Height(h).
		Filterable(true).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"})).
		WithTarget(dbsecTarget(q, "A"))
	for _, t := range tr {
		p.WithTransformation(t)
	}
	for _, fl := range fls {
		p.OverrideByName(fl.field, []dashboard.DynamicConfigValue{linksProperty(fl.links)})
	}
	b.d.WithPanel(p)
}

// dbsecSeries adds a time series panel of a dbsec series query.
func (b *board) dbsecSeries(title, desc string, w, h uint32, q model.Query) {
	p := timeseries.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(dbsecDS).
		Unit("short").
		Span(w).Height(h).
		Min(0).
		DrawStyle(common.GraphDrawStyleBars).
		FillOpacity(80).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementRight).
			Calcs([]string{"sum"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)).
		WithTarget(dbsecTarget(q, "A"))
	b.d.WithPanel(p)
}

// dbsecLogs adds a logs panel of a dbsec events query.
func (b *board) dbsecLogs(title, desc string, w, h uint32, q model.Query) {
	p := logs.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(dbsecDS).
		Span(w).Height(h).
		ShowTime(true).
		ShowLabels(false).
		ShowCommonLabels(false).
		WrapLogMessage(true).
		PrettifyLogMessage(false).
		EnableLogDetails(true).
		ShowLogContextToggle(true).
		DedupStrategy(common.LogsDedupStrategyNone).
		SortOrder(common.LogsSortOrderDescending).
		WithTarget(dbsecTarget(q, "A"))
	b.d.WithPanel(p)
}

// markdown adds a text panel.
func (b *board) markdown(title, desc string, w, h uint32, content string) {
	b.d.WithPanel(text.NewPanelBuilder().
		Title(title).
		Description(desc).
		Span(w).Height(h).
		Mode(text.TextModeMarkdown).
		Content(content))
}
