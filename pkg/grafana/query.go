package grafana

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/grafana/model"
	"github.com/dbsec/dbsec/pkg/store"
)

// Limits of one query. Each exporter returns at most the limit and the
// merged answer is cut to it again, so memory stays bounded by
// MaxExporters × limit rows.
const (
	defaultLimit    = 1000
	maxEventLimit   = 5000
	maxOtherLimit   = 10000
	defaultTop      = 10
	maxTop          = 100
	defaultTopLimit = 10
	maxSeriesPoints = 11000
)

// queryError is an error caused by the query itself (HTTP 400 semantics).
type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }

func badQuery(format string, args ...any) error {
	return &queryError{msg: fmt.Sprintf(format, args...)}
}

// QueryData answers every query of the request independently: one bad
// query does not fail the others.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	fromAlert := isFromAlert(req)
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(ctx, q, fromAlert)
	}
	return resp, nil
}

func isFromAlert(req *backend.QueryDataRequest) bool {
	v := req.Headers[backend.FromAlertHeaderName]
	if v == "" {
		v = req.GetHTTPHeader(backend.FromAlertHeaderName)
	}
	return v != "" && v != "false"
}

// alertable are the query types Grafana alerting can evaluate: they answer
// numeric frames.
var alertable = []model.QueryType{model.Series, model.Top}

// parseQuery decodes and defaults a query model.
func parseQuery(raw json.RawMessage) (model.Query, error) {
	var m model.Query
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, badQuery("malformed query JSON: %v", err)
	}
	if m.QueryType == "" {
		m.QueryType = model.Events
	}
	if !slices.Contains(model.QueryTypes(), m.QueryType) {
		var names []string
		for _, t := range model.QueryTypes() {
			names = append(names, string(t))
		}
		return m, badQuery("unknown queryType %q (one of: %s)", m.QueryType, strings.Join(names, ", "))
	}
	if m.Format == "" {
		m.Format = model.FormatLogs
	}
	if m.Format != model.FormatLogs && m.Format != model.FormatTable {
		return m, badQuery("unknown format %q (logs or table)", m.Format)
	}
	if m.Limit < 0 || m.Top < 0 {
		return m, badQuery("limit and top must not be negative")
	}
	return m, nil
}

func (d *Datasource) query(ctx context.Context, q backend.DataQuery, fromAlert bool) backend.DataResponse {
	m, err := parseQuery(q.JSON)
	if err != nil {
		return errResponse(err)
	}
	if fromAlert && !slices.Contains(alertable, m.QueryType) {
		what := string(m.QueryType)
		if m.QueryType == model.Events {
			what = "events (" + m.Format + ")"
		}
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourcePlugin,
			fmt.Sprintf("%s queries return logs or tables, which Grafana alerting cannot evaluate: alert on a series query (event counts per step) or a top query instead", what))
	}
	f, err := parseFilters(m.Filters)
	if err != nil {
		return errResponse(badQuery("%v", err))
	}
	qc := &queryCtx{ds: d, q: q, m: m, f: f, from: q.TimeRange.From.UTC(), to: q.TimeRange.To.UTC()}
	var frames data.Frames
	switch m.QueryType {
	case model.Events:
		frames, err = qc.events(ctx)
	case model.Series:
		frames, err = qc.series(ctx)
	case model.Top:
		frames, err = qc.top(ctx)
	case model.Values:
		frames, err = qc.values(ctx)
	case model.Detections:
		frames, err = qc.detections(ctx)
	case model.Findings:
		frames, err = qc.findings(ctx)
	case model.DriftChanges:
		frames, err = qc.driftChanges(ctx)
	case model.Integrity:
		frames, err = qc.integrity(ctx)
	case model.Status:
		frames, err = qc.status(ctx)
	}
	if err != nil {
		return errResponse(err)
	}
	for _, fr := range frames {
		fr.RefID = q.RefID
		if fr.Meta == nil {
			fr.Meta = &data.FrameMeta{}
		}
		fr.Meta.ExecutedQueryString = qc.describe()
	}
	if len(frames) > 0 && len(qc.notices) > 0 {
		frames[0].Meta.Notices = append(frames[0].Meta.Notices, qc.notices...)
	}
	return backend.DataResponse{Frames: frames}
}

// errResponse maps an error to a per-query response: query errors are the
// user's (400), exporter errors downstream (502).
func errResponse(err error) backend.DataResponse {
	var qe *queryError
	if errors.As(err, &qe) {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourcePlugin, qe.msg)
	}
	var ae *api.Error
	if errors.As(err, &ae) && ae.Status == 400 {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, err.Error())
}

// queryCtx is one query being answered.
type queryCtx struct {
	ds       *Datasource
	q        backend.DataQuery
	m        model.Query
	f        *filters
	from, to time.Time
	notices  []data.Notice
}

func (qc *queryCtx) notice(sev data.NoticeSeverity, format string, args ...any) {
	qc.notices = append(qc.notices, data.Notice{Severity: sev, Text: fmt.Sprintf(format, args...)})
}

// describe is the executed query shown in Grafana's query inspector.
func (qc *queryCtx) describe() string {
	var b strings.Builder
	b.WriteString(string(qc.m.QueryType))
	if qc.m.QueryType == model.Events {
		b.WriteString(" format=" + qc.m.Format)
	}
	for _, x := range qc.m.Filters {
		op := x.Op
		if op == "" {
			op = "="
		}
		fmt.Fprintf(&b, " %s%s%q", x.Key, op, x.Value)
	}
	if qc.m.Q != "" {
		fmt.Fprintf(&b, " q=%q", qc.m.Q)
	}
	if by := qc.by(); by != "" && qc.m.QueryType != model.Events {
		b.WriteString(" by=" + by)
	}
	fmt.Fprintf(&b, " from=%s to=%s exporters=%d", qc.from.Format(time.RFC3339), qc.to.Format(time.RFC3339), len(qc.ds.exporters))
	return b.String()
}

// ignore reports filters that do not apply to this query type.
func (qc *queryCtx) ignore(applicable []string) {
	if ks := qc.f.ignored(applicable); len(ks) > 0 {
		qc.notice(data.NoticeSeverityInfo, "filter %s does not apply to %s queries and was ignored", strings.Join(ks, ", "), qc.m.QueryType)
	}
	if qc.m.Q != "" && !slices.Contains([]model.QueryType{model.Events, model.Series, model.Top, model.Values}, qc.m.QueryType) {
		qc.notice(data.NoticeSeverityInfo, "free text applies to events, series, top and values queries only and was ignored")
	}
}

func (qc *queryCtx) limit(dflt, hi int) int {
	n := qc.m.Limit
	if n == 0 {
		n = dflt
	}
	if n > hi {
		qc.notice(data.NoticeSeverityInfo, "limit %d lowered to the maximum of %d", n, hi)
		n = hi
	}
	return n
}

func (qc *queryCtx) by() string {
	if qc.m.QueryType == model.Values && qc.m.Field != "" {
		return qc.m.Field
	}
	return qc.m.By
}

func (qc *queryCtx) dimension(required bool) (store.Dimension, error) {
	s := qc.by()
	if s == "" && !required {
		return "", nil
	}
	d, ok := store.ParseDimension(s)
	if !ok {
		var names []string
		for _, x := range store.Dimensions() {
			names = append(names, string(x))
		}
		if s == "" {
			return "", badQuery("%s queries need by (one of: %s)", qc.m.QueryType, strings.Join(names, ", "))
		}
		return "", badQuery("unknown dimension %q (one of: %s)", s, strings.Join(names, ", "))
	}
	return d, nil
}

// gather keeps the answers of the exporters that answered. When every
// exporter failed it returns the first error; when some failed, a warning
// notice names them, so the panel shows the others' data.
func gather[T any](qc *queryCtx, rs []result[T]) ([]result[T], error) {
	var ok []result[T]
	var failed []string
	var first error
	for _, r := range rs {
		if r.err != nil {
			var ae *api.Error
			if errors.As(r.err, &ae) && ae.Status == 400 {
				return nil, fmt.Errorf("exporter %s refused the query: %s", r.ex.url, ae.Message)
			}
			if first == nil {
				first = fmt.Errorf("exporter %s: %s", r.ex.url, describeErr(r.err, qc.ds.basicAuth))
			}
			failed = append(failed, fmt.Sprintf("%s (%s)", r.ex.url, describeErr(r.err, qc.ds.basicAuth)))
			continue
		}
		ok = append(ok, r)
	}
	if len(ok) == 0 {
		return nil, first
	}
	if len(failed) > 0 {
		qc.notice(data.NoticeSeverityWarning, "%d of %d exporters did not answer; showing the others' data. Failed: %s",
			len(failed), len(rs), strings.Join(failed, "; "))
	}
	return ok, nil
}

func (qc *queryCtx) events(ctx context.Context) (data.Frames, error) {
	qc.ignore(eventKeys)
	sf, err := qc.f.eventFilter(qc.from, qc.to, qc.m.Q)
	if err != nil {
		return nil, badQuery("%v", err)
	}
	limit := qc.limit(defaultLimit, maxEventLimit)
	rs, err := gather(qc, fanOut(ctx, qc.ds.exporters, func(ctx context.Context, c *api.Client) (api.EventPage, error) {
		return c.Events(ctx, store.EventQuery{Filter: sf, Limit: limit})
	}))
	if err != nil {
		return nil, err
	}
	type row struct {
		ev *api.Event
		ex string
	}
	var rows []row
	more := false
	for _, r := range rs {
		more = more || r.val.Next != ""
		for i := range r.val.Events {
			rows = append(rows, row{&r.val.Events[i], r.ex.url})
		}
	}
	// Newest first, as each exporter answers; ties by id for a stable order.
	slices.SortStableFunc(rows, func(a, b row) int {
		if c := b.ev.Time.Compare(a.ev.Time); c != 0 {
			return c
		}
		return cmp.Compare(b.ev.ID, a.ev.ID)
	})
	if len(rows) > limit {
		rows, more = rows[:limit], true
	}
	evs := make([]*api.Event, len(rows))
	exs := make([]string, len(rows))
	for i, r := range rows {
		evs[i], exs[i] = r.ev, r.ex
	}
	if len(qc.ds.exporters) == 1 {
		exs = nil
	}
	var fr *data.Frame
	if qc.m.Format == model.FormatTable {
		fr = qc.eventTable(evs, exs)
	} else {
		fr = qc.eventLogs(evs, exs)
	}
	fr.Meta.Custom = map[string]any{"limit": limit, "returned": len(evs), "more": more}
	if more {
		qc.notice(data.NoticeSeverityInfo, "showing the newest %d events; more match. Narrow the time range or the filters, or raise the limit (max %d)", len(evs), maxEventLimit)
	}
	return data.Frames{fr}, nil
}

// seriesStep is the query's step: its own, else the panel's interval, no
// finer than 1s. A step that must grow (for the panel's max data points or
// the maximum of maxSeriesPoints) grows to the next round step, so that
// buckets stay on whole minutes and the exporter can answer from its
// per-minute rollups.
func (qc *queryCtx) seriesStep() (time.Duration, error) {
	var step time.Duration
	if qc.m.Step != "" {
		s, err := time.ParseDuration(qc.m.Step)
		if err != nil || s <= 0 {
			return 0, badQuery("invalid step %q: want a duration such as 30s, 5m or 1h", qc.m.Step)
		}
		step = s
	} else {
		step = qc.q.Interval
	}
	span := qc.to.Sub(qc.from)
	if span <= 0 {
		return 0, badQuery("the time range is empty")
	}
	if mdp := qc.q.MaxDataPoints; qc.m.Step == "" && mdp > 0 && step < span/time.Duration(mdp) {
		step = roundStep(span / time.Duration(mdp))
	}
	if step < time.Second {
		step = time.Second
	}
	if span/step > maxSeriesPoints {
		s := roundStep(span/maxSeriesPoints + 1)
		if qc.m.Step != "" {
			qc.notice(data.NoticeSeverityInfo, "step %s is too fine for the time range; using %s", step, s)
		}
		step = s
	}
	return step.Truncate(time.Millisecond), nil
}

// roundSteps are the steps a computed step is rounded up to (Grafana's
// own interval steps, without 15m, which is not a multiple of the
// exporter's 10-minute rollups).
var roundSteps = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
	20 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 20 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

func roundStep(d time.Duration) time.Duration {
	for _, s := range roundSteps {
		if d <= s {
			return s
		}
	}
	day := 24 * time.Hour
	return (d + day - 1) / day * day
}

func (qc *queryCtx) series(ctx context.Context) (data.Frames, error) {
	qc.ignore(eventKeys)
	by, err := qc.dimension(false)
	if err != nil {
		return nil, err
	}
	sf, err := qc.f.eventFilter(qc.from, qc.to, qc.m.Q)
	if err != nil {
		return nil, badQuery("%v", err)
	}
	step, err := qc.seriesStep()
	if err != nil {
		return nil, err
	}
	top := qc.m.Top
	if top == 0 {
		top = defaultTop
	}
	if top > maxTop {
		qc.notice(data.NoticeSeverityInfo, "top %d lowered to the maximum of %d", top, maxTop)
		top = maxTop
	}
	rs, err := gather(qc, fanOut(ctx, qc.ds.exporters, func(ctx context.Context, c *api.Client) (api.SeriesResult, error) {
		return c.Series(ctx, store.SeriesQuery{Filter: sf, Step: step, By: by, Top: top})
	}))
	if err != nil {
		return nil, err
	}
	// Sum by value and bucket over the exporters, then rank again.
	counts := map[string]map[int64]int64{}
	totals := map[string]int64{}
	for _, r := range rs {
		for _, s := range r.val.Series {
			m := counts[s.Value]
			if m == nil {
				m = map[int64]int64{}
				counts[s.Value] = m
			}
			for _, p := range s.Points {
				m[p.Time.UnixMilli()] += p.Count
			}
			totals[s.Value] += s.Total
		}
	}
	values := make([]string, 0, len(totals))
	for v := range totals {
		values = append(values, v)
	}
	slices.SortFunc(values, func(a, b string) int {
		if c := cmp.Compare(totals[b], totals[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	if by != "" && len(values) > top {
		values = values[:top]
	}
	return qc.seriesFrames(by, step, values, counts), nil
}

func (qc *queryCtx) top(ctx context.Context) (data.Frames, error) {
	qc.ignore(eventKeys)
	by, err := qc.dimension(true)
	if err != nil {
		return nil, err
	}
	sf, err := qc.f.eventFilter(qc.from, qc.to, qc.m.Q)
	if err != nil {
		return nil, badQuery("%v", err)
	}
	limit := qc.m.Limit
	if limit == 0 {
		limit = qc.m.Top
	}
	if limit == 0 {
		limit = defaultTopLimit
	}
	limit = min(limit, 1000)
	rs, err := gather(qc, fanOut(ctx, qc.ds.exporters, func(ctx context.Context, c *api.Client) (api.TopResult, error) {
		return c.Top(ctx, store.TopQuery{Filter: sf, By: by, Limit: limit})
	}))
	if err != nil {
		return nil, err
	}
	sum := map[string]int64{}
	for _, r := range rs {
		for _, it := range r.val.Items {
			sum[it.Value] += it.Count
		}
	}
	items := make([]api.TopItem, 0, len(sum))
	for v, n := range sum {
		items = append(items, api.TopItem{Value: v, Count: n})
	}
	slices.SortFunc(items, func(a, b api.TopItem) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
	if len(items) > limit {
		items = items[:limit]
	}
	return data.Frames{qc.topFrame(by, items)}, nil
}

// fetchValues is the union of the distinct values of a field over the
// exporters, sorted, at most limit.
func fetchValues(ctx context.Context, d *Datasource, field store.Dimension, sf store.Filter, limit int) ([]string, []result[[]string], error) {
	rs := fanOut(ctx, d.exporters, func(ctx context.Context, c *api.Client) ([]string, error) {
		return c.Values(ctx, store.ValuesQuery{Filter: sf, Field: field, Limit: limit})
	})
	seen := map[string]bool{}
	var out []string
	var firstErr error
	answered := 0
	for _, r := range rs {
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
			}
			continue
		}
		answered++
		for _, v := range r.val {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	if answered == 0 {
		return nil, rs, firstErr
	}
	slices.Sort(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, rs, nil
}

func (qc *queryCtx) values(ctx context.Context) (data.Frames, error) {
	qc.ignore(eventKeys)
	field, err := qc.dimension(true)
	if err != nil {
		return nil, err
	}
	sf, err := qc.f.eventFilter(qc.from, qc.to, qc.m.Q)
	if err != nil {
		return nil, badQuery("%v", err)
	}
	limit := qc.limit(defaultLimit, maxOtherLimit)
	rs := fanOut(ctx, qc.ds.exporters, func(ctx context.Context, c *api.Client) ([]string, error) {
		return c.Values(ctx, store.ValuesQuery{Filter: sf, Field: field, Limit: limit})
	})
	ok, err := gather(qc, rs)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var vs []string
	for _, r := range ok {
		for _, v := range r.val {
			if !seen[v] {
				seen[v] = true
				vs = append(vs, v)
			}
		}
	}
	slices.Sort(vs)
	if len(vs) > limit {
		vs = vs[:limit]
	}
	fr := data.NewFrame("values", data.NewField("text", nil, vs), data.NewField("value", nil, slices.Clone(vs)))
	fr.Meta = &data.FrameMeta{Type: data.FrameTypeTable}
	return data.Frames{fr}, nil
}

func (qc *queryCtx) detections(ctx context.Context) (data.Frames, error) {
	qc.ignore(detectionKeys)
	limit := qc.limit(defaultLimit, maxOtherLimit)
	dq, err := qc.f.detectionQuery(qc.from, qc.to, limit)
	if err != nil {
		return nil, badQuery("%v", err)
	}
	rs, err := gather(qc, fanOut(ctx, qc.ds.exporters, func(ctx context.Context, c *api.Client) (api.DetectionPage, error) {
		return c.Detections(ctx, dq)
	}))
	if err != nil {
		return nil, err
	}
	ds, more := mergePages(rs, func(p api.DetectionPage) ([]api.Detection, string) { return p.Detections, p.Next },
		qc.f.keepDetection, func(d *api.Detection, _ exporter) api.Detection { return *d },
		func(a, b api.Detection) int {
			if c := b.Time.Compare(a.Time); c != 0 {
				return c
			}
			return cmp.Compare(b.ID, a.ID)
		}, limit)
	if more {
		qc.notice(data.NoticeSeverityInfo, "showing the newest %d detections; more match. Narrow the time range or the filters, or raise the limit", len(ds))
	}
	return data.Frames{qc.detectionFrame(ds)}, nil
}

func (qc *queryCtx) findings(ctx context.Context) (data.Frames, error) {
	qc.ignore(findingKeys)
	limit := qc.limit(defaultLimit, maxOtherLimit)
	fq, err := qc.f.findingQuery(limit)
	if err != nil {
		return nil, badQuery("%v", err)
	}
	rs, err := gather(qc, fanOut(ctx, qc.ds.exporters, func(ctx context.Context, c *api.Client) (api.FindingPage, error) {
		return c.Findings(ctx, fq)
	}))
	if err != nil {
		return nil, err
	}
	// Most severe first, then failing before passing, then by place.
	fs, more := mergePages(rs, func(p api.FindingPage) ([]api.Finding, string) { return p.Findings, p.Next },
		qc.f.keepFinding, func(f *api.Finding, ex exporter) findingRow { return findingRow{*f, ex.url} },
		func(a, b findingRow) int {
			if c := cmp.Compare(b.f.Severity, a.f.Severity); c != 0 {
				return c
			}
			if c := cmp.Compare(statusRank(a.f.Status), statusRank(b.f.Status)); c != 0 {
				return c
			}
			return cmp.Or(cmp.Compare(a.f.Target, b.f.Target), cmp.Compare(a.f.File, b.f.File), cmp.Compare(a.f.Line, b.f.Line), cmp.Compare(a.f.RuleID, b.f.RuleID))
		}, limit)
	if more {
		qc.notice(data.NoticeSeverityInfo, "showing %d findings; more match. Filter by target, severity or status, or raise the limit", len(fs))
	}
	return data.Frames{qc.findingFrame(fs)}, nil
}

func (qc *queryCtx) driftChanges(ctx context.Context) (data.Frames, error) {
	qc.ignore(driftKeys)
	limit := qc.limit(defaultLimit, maxOtherLimit)
	dq := store.DriftQuery{From: qc.from, To: qc.to, Target: qc.f.eq[model.KeyTarget], Limit: limit}
	rs, err := gather(qc, fanOut(ctx, qc.ds.exporters, func(ctx context.Context, c *api.Client) (api.DriftPage, error) {
		return c.DriftChanges(ctx, dq)
	}))
	if err != nil {
		return nil, err
	}
	cs, more := mergePages(rs, func(p api.DriftPage) ([]api.DriftChange, string) { return p.Changes, p.Next },
		qc.f.keepDrift, func(c *api.DriftChange, _ exporter) api.DriftChange { return *c },
		func(a, b api.DriftChange) int { return b.Time.Compare(a.Time) }, limit)
	if more {
		qc.notice(data.NoticeSeverityInfo, "showing the newest %d drift changes; more match. Narrow the time range or raise the limit", len(cs))
	}
	return data.Frames{qc.driftFrame(cs)}, nil
}

// mergePages joins the rows of every exporter's page that keep accepts
// (as row makes them), orders them and cuts them to limit. more is true
// when an exporter has a further page or the cut dropped rows.
func mergePages[P, T, R any](rs []result[P], rows func(P) ([]T, string), keep func(*T) bool,
	row func(*T, exporter) R, order func(a, b R) int, limit int) (out []R, more bool) {
	for _, r := range rs {
		items, next := rows(r.val)
		more = more || next != ""
		for i := range items {
			if keep(&items[i]) {
				out = append(out, row(&items[i], r.ex))
			}
		}
	}
	slices.SortStableFunc(out, order)
	if len(out) > limit {
		out, more = out[:limit], true
	}
	return out, more
}

func (qc *queryCtx) integrity(ctx context.Context) (data.Frames, error) {
	qc.ignore(nil)
	rs, err := gather(qc, fanOut(ctx, qc.ds.exporters, func(ctx context.Context, c *api.Client) (api.IntegrityReport, error) {
		return c.Integrity(ctx, store.IntegrityQuery{})
	}))
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if !r.val.OK {
			qc.notice(data.NoticeSeverityError, "the event store of %s fails verification: the hash chain breaks at sequence %d", r.ex.url, breakSeq(r.val))
		}
	}
	return data.Frames{integrityFrame(rs)}, nil
}

func (qc *queryCtx) status(ctx context.Context) (data.Frames, error) {
	qc.ignore(nil)
	rs, err := gather(qc, fanOut(ctx, qc.ds.exporters, func(ctx context.Context, c *api.Client) (api.Status, error) {
		return c.Status(ctx)
	}))
	if err != nil {
		return nil, err
	}
	return statusFrames(rs), nil
}
