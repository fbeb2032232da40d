package grafana

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/grafana/model"
	"github.com/dbsec/dbsec/pkg/store"
)

// Grafana interpolates these in data links, per clicked row.
const (
	valueRaw = "${__value.raw}"
)

func fieldRef(name string) string { return "${__data.fields." + name + "}" }

// link is an internal data link: a query of this same data source, opened
// in Explore over the panel's time range.
func (qc *queryCtx) link(title string, m model.Query) data.DataLink {
	m.RefID = "A"
	return data.DataLink{Title: title, Internal: &data.InternalDataLink{DatasourceUID: qc.ds.uid, DatasourceName: qc.ds.name, Query: m}}
}

// rawLink opens an event's whole stored record (the raw audit line
// included) through the data source's resource route, so the browser
// needs no access to the exporter.
func (qc *queryCtx) rawLink(idExpr string) data.DataLink {
	return data.DataLink{Title: "Raw record", TargetBlank: true,
		URL: "/api/datasources/uid/" + url.PathEscape(qc.ds.uid) + "/resources/events/" + idExpr}
}

// evidenceLink opens the stored records of a detection's evidence events
// (the ids in the row's evidence field) through the resource route.
func (qc *queryCtx) evidenceLink() data.DataLink {
	return data.DataLink{Title: "Evidence events (records)", TargetBlank: true,
		URL: "/api/datasources/uid/" + url.PathEscape(qc.ds.uid) + "/resources/evidence?ids=" + fieldRef("evidence")}
}

// eventsLink is the events (logs) of one filter value, plus the filters
// and free text of the current query when keep is set.
func (qc *queryCtx) eventsLink(title string, keep bool, fs ...model.Filter) data.DataLink {
	m := model.Query{QueryType: model.Events, Format: model.FormatLogs}
	if keep {
		m.Filters = append(m.Filters, qc.m.Filters...)
		m.Q = qc.m.Q
	}
	m.Filters = append(m.Filters, fs...)
	return qc.link(title, m)
}

func eq(key, value string) model.Filter {
	return model.Filter{Key: key, Op: model.OpEqual, Value: value}
}

func withLinks(f *data.Field, links ...data.DataLink) *data.Field {
	if f.Config == nil {
		f.Config = &data.FieldConfig{}
	}
	f.Config.Links = append(f.Config.Links, links...)
	return f
}

func withUnit(f *data.Field, unit string) *data.Field {
	if f.Config == nil {
		f.Config = &data.FieldConfig{}
	}
	f.Config.Unit = unit
	return f
}

// logLevel is the level a logs panel colours an event by: critical when a
// detection fired on it, error for failures and denials, warning for
// changes of privileges, schema and server state, info otherwise.
func logLevel(ev *api.Event) string {
	switch {
	case len(ev.Detections) > 0:
		return "critical"
	case ev.Outcome == event.OutcomeFailure.String() || ev.Category == event.CategoryAccessDenied.String() || ev.Category == event.CategoryError.String():
		return "error"
	case ev.Category == event.CategoryPrivilegeChange.String() || ev.Category == event.CategoryDDL.String() || ev.Category == event.CategoryAdmin.String():
		return "warning"
	}
	return "info"
}

// logBody is the line a logs panel shows: the statement, else the reason,
// else what happened.
func logBody(ev *api.Event) string {
	switch {
	case ev.Statement != "":
		return ev.Statement
	case ev.Reason != "":
		return ev.Reason
	}
	return fmt.Sprintf("%s %s %s", ev.Category, ev.Action, ev.Outcome)
}

func eventLabels(ev *api.Event, exporter string) json.RawMessage {
	m := map[string]string{
		"source": ev.Source, "system": ev.System, "category": ev.Category,
		"action": ev.Action, "outcome": ev.Outcome,
	}
	for k, v := range map[string]string{"user": ev.User, "client_ip": ev.ClientIP, "server": ev.Server, "database": ev.Database,
		"digest": ev.Digest, "connection_id": ev.ConnectionID, "status_code": ev.StatusCode, "exporter": exporter,
		"rule": strings.Join(ev.Detections, ",")} {
		if v != "" {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// eventDrillLinks are the links of an event's user, client IP and digest.
func (qc *queryCtx) userLinks() []data.DataLink {
	return []data.DataLink{qc.eventsLink("Events of this user", false, eq(model.KeyUser, valueRaw))}
}

func (qc *queryCtx) clientLinks() []data.DataLink {
	return []data.DataLink{qc.eventsLink("Events from this client", false, eq(model.KeyClientIP, valueRaw))}
}

func (qc *queryCtx) digestLinks() []data.DataLink {
	return []data.DataLink{qc.eventsLink("Events of this statement shape", false, eq(model.KeyDigest, valueRaw))}
}

func (qc *queryCtx) connectionLinks() []data.DataLink {
	return []data.DataLink{qc.eventsLink("Events of this connection", false,
		eq(model.KeySource, fieldRef("source")), eq(model.KeyConnectionID, valueRaw))}
}

// eventLogs is Grafana's logs data-plane frame: timestamp, body,
// severity, id and labels, plus the fields that carry drill-down links.
func (qc *queryCtx) eventLogs(evs []*api.Event, exs []string) *data.Frame {
	n := len(evs)
	ts := make([]time.Time, n)
	body := make([]string, n)
	sev := make([]string, n)
	ids := make([]string, n)
	labels := make([]json.RawMessage, n)
	users := make([]string, n)
	ips := make([]string, n)
	digests := make([]string, n)
	for i, ev := range evs {
		ex := ""
		if exs != nil {
			ex = exs[i]
		}
		ts[i], body[i], sev[i], ids[i], labels[i] = ev.Time.UTC(), logBody(ev), logLevel(ev), ev.ID, eventLabels(ev, ex)
		users[i], ips[i], digests[i] = ev.User, ev.ClientIP, ev.Digest
	}
	fr := data.NewFrame("events",
		data.NewField("timestamp", nil, ts),
		data.NewField("body", nil, body),
		data.NewField("severity", nil, sev),
		withLinks(data.NewField("id", nil, ids), qc.rawLink(valueRaw)),
		data.NewField("labels", nil, labels),
		withLinks(data.NewField("user", nil, users), qc.userLinks()...),
		withLinks(data.NewField("client_ip", nil, ips), qc.clientLinks()...),
		withLinks(data.NewField("digest", nil, digests), qc.digestLinks()...),
	)
	fr.Meta = &data.FrameMeta{Type: data.FrameTypeLogLines, TypeVersion: data.FrameTypeVersion{0, 0}, PreferredVisualization: data.VisTypeLogs}
	return fr
}

// eventTable is every event field as a table column.
func (qc *queryCtx) eventTable(evs []*api.Event, exs []string) *data.Frame {
	n := len(evs)
	col := func() []string { return make([]string, n) }
	ts := make([]time.Time, n)
	id, src, sys, cat, act, out, usr, ip, srv, db, objs, stmt, dig, code, reason, conn, dets, origin :=
		col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col()
	rows := make([]*int64, n)
	dur := make([]*float64, n)
	for i, ev := range evs {
		ts[i] = ev.Time.UTC()
		id[i], src[i], sys[i], cat[i], act[i], out[i] = ev.ID, ev.Source, ev.System, ev.Category, ev.Action, ev.Outcome
		usr[i], ip[i], srv[i], db[i], objs[i] = ev.User, ev.ClientIP, ev.Server, ev.Database, strings.Join(ev.Objects, ", ")
		stmt[i], dig[i], code[i], reason[i], conn[i] = ev.Statement, ev.Digest, ev.StatusCode, ev.Reason, ev.ConnectionID
		dets[i] = strings.Join(ev.Detections, ", ")
		if ev.Origin.File != "" {
			origin[i] = fmt.Sprintf("%s:%d", ev.Origin.File, ev.Origin.Line)
		}
		rows[i], dur[i] = ev.Rows, ev.Duration
	}
	fields := []*data.Field{
		data.NewField("time", nil, ts),
		data.NewField("severity", nil, func() []string {
			s := col()
			for i, ev := range evs {
				s[i] = logLevel(ev)
			}
			return s
		}()),
		withLinks(data.NewField("source", nil, src), qc.eventsLink("Events of this source", false, eq(model.KeySource, valueRaw))),
		data.NewField("system", nil, sys),
		data.NewField("category", nil, cat),
		data.NewField("action", nil, act),
		data.NewField("outcome", nil, out),
		withLinks(data.NewField("user", nil, usr), qc.userLinks()...),
		withLinks(data.NewField("client_ip", nil, ip), qc.clientLinks()...),
		data.NewField("server", nil, srv),
		data.NewField("database", nil, db),
		data.NewField("objects", nil, objs),
		data.NewField("statement", nil, stmt),
		withLinks(data.NewField("digest", nil, dig), qc.digestLinks()...),
		data.NewField("rows", nil, rows),
		withUnit(data.NewField("duration", nil, dur), "s"),
		data.NewField("status_code", nil, code),
		data.NewField("reason", nil, reason),
		withLinks(data.NewField("connection_id", nil, conn), qc.connectionLinks()...),
		withLinks(data.NewField("detections", nil, dets), qc.link("Detections of this user", model.Query{QueryType: model.Detections,
			Filters: []model.Filter{eq(model.KeyUser, fieldRef("user"))}})),
		withLinks(data.NewField("id", nil, id), qc.rawLink(valueRaw)),
		data.NewField("origin", nil, origin),
	}
	if exs != nil {
		fields = append(fields, data.NewField("exporter", nil, exs))
	}
	fr := data.NewFrame("events", fields...)
	fr.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return fr
}

// seriesFrames is one frame per series (Grafana's multi-frame time series
// format): time and count, the count labelled with the dimension value.
// Buckets without events are filled with 0 so lines drop to zero.
func (qc *queryCtx) seriesFrames(by store.Dimension, step time.Duration, values []string, counts map[string]map[int64]int64) data.Frames {
	w := step.Milliseconds()
	start := bucket(qc.from.UnixMilli(), w)
	var grid []time.Time
	for t := start; t < qc.to.UnixMilli(); t += w {
		grid = append(grid, time.UnixMilli(t).UTC())
	}
	mk := func(value string, m map[int64]int64) *data.Frame {
		vs := make([]float64, len(grid))
		for i, t := range grid {
			vs[i] = float64(m[t.UnixMilli()])
		}
		var labels data.Labels
		name := "events"
		var extra []model.Filter
		if by != "" {
			labels = data.Labels{string(by): value}
			name = value
			extra = []model.Filter{eq(string(by), value)}
		}
		f := data.NewField("count", labels, vs)
		f.Config = &data.FieldConfig{DisplayNameFromDS: name, Interval: float64(w)}
		withLinks(f, qc.eventsLink("Events of this series", true, extra...))
		fr := data.NewFrame(name, data.NewField("time", nil, append([]time.Time(nil), grid...)), f)
		fr.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
		return fr
	}
	var frames data.Frames
	if by == "" {
		frames = append(frames, mk("", counts[""]))
	} else {
		for _, v := range values {
			frames = append(frames, mk(v, counts[v]))
		}
	}
	if len(frames) == 0 {
		// No events: one empty series, so the panel says "no data" and an
		// alert rule sees NoData rather than an error.
		f := data.NewField("count", nil, []float64{})
		fr := data.NewFrame("events", data.NewField("time", nil, []time.Time{}), f)
		fr.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
		frames = append(frames, fr)
	}
	return frames
}

func bucket(ms, w int64) int64 {
	b := ms - ms%w
	if ms < 0 && ms%w != 0 {
		b -= w
	}
	return b
}

// topFrame ranks the values of a dimension: a string column named after
// the dimension and a count (numeric long: alertable, one row per value).
func (qc *queryCtx) topFrame(by store.Dimension, items []api.TopItem) *data.Frame {
	vs := make([]string, len(items))
	ns := make([]int64, len(items))
	for i, it := range items {
		vs[i], ns[i] = it.Value, it.Count
	}
	fr := data.NewFrame("top "+string(by),
		withLinks(data.NewField(string(by), nil, vs), qc.eventsLink("Events of this "+string(by), true, eq(string(by), valueRaw))),
		data.NewField("count", nil, ns))
	fr.Meta = &data.FrameMeta{Type: data.FrameTypeNumericLong, TypeVersion: data.FrameTypeVersion{0, 1}, PreferredVisualization: data.VisTypeTable}
	return fr
}

// detectionFrame is a table of detector hits with links to their
// evidence.
func (qc *queryCtx) detectionFrame(ds []api.Detection) *data.Frame {
	n := len(ds)
	col := func() []string { return make([]string, n) }
	ts := make([]time.Time, n)
	sev, rid, rule, title, msg, ent, src, usr, ip, evid, evs := col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col()
	cnt := make([]int64, n)
	for i, d := range ds {
		ts[i] = d.Time.UTC()
		sev[i], rid[i], rule[i], title[i], msg[i], ent[i] = d.Severity, d.RuleID, d.Rule, d.Title, d.Message, d.Entity
		src[i], usr[i], ip[i], evid[i], evs[i] = d.Source, d.User, d.ClientIP, d.EventID, strings.Join(d.Evidence, ",")
		cnt[i] = int64(len(d.Evidence))
	}
	evidence := qc.eventsLink("Evidence: events of this user and client", false,
		eq(model.KeyUser, fieldRef("user")), eq(model.KeyClientIP, fieldRef("client_ip")))
	fr := data.NewFrame("detections",
		data.NewField("time", nil, ts),
		data.NewField("severity", nil, sev),
		data.NewField("rule_id", nil, rid),
		withLinks(data.NewField("rule", nil, rule), qc.eventsLink("Events this rule fired on", false, eq(model.KeyRule, valueRaw))),
		data.NewField("title", nil, title),
		data.NewField("message", nil, msg),
		withLinks(data.NewField("entity", nil, ent), evidence),
		data.NewField("source", nil, src),
		withLinks(data.NewField("user", nil, usr), qc.userLinks()...),
		withLinks(data.NewField("client_ip", nil, ip), qc.clientLinks()...),
		withLinks(data.NewField("event_id", nil, evid), qc.rawLink(valueRaw)),
		withLinks(data.NewField("evidence_count", nil, cnt), evidence),
		withLinks(data.NewField("evidence", nil, evs), qc.evidenceLink()),
	)
	fr.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return fr
}

type findingRow struct {
	f  finding.Finding
	ex string
}

func statusRank(s finding.Status) int {
	switch s {
	case finding.Fail:
		return 0
	case finding.Unknown:
		return 1
	case finding.Pass:
		return 2
	}
	return 3
}

// findingFrame is a table of configuration findings; a target links to
// its drift changes.
func (qc *queryCtx) findingFrame(fs []findingRow) *data.Frame {
	n := len(fs)
	col := func() []string { return make([]string, n) }
	sev, st, rule, title, tgt, prod, loc, subj, key, msg, obs, rem := col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col()
	waived := make([]bool, n)
	first := make([]time.Time, n)
	last := make([]time.Time, n)
	exs := col()
	for i, r := range fs {
		f := r.f
		sev[i], st[i], rule[i], title[i], tgt[i], prod[i] = f.Severity.String(), string(f.Status), f.RuleID, f.Title, f.Target, f.Kind
		if f.File != "" {
			loc[i] = f.File
			if f.Line > 0 {
				loc[i] = fmt.Sprintf("%s:%d", f.File, f.Line)
			}
		}
		subj[i], key[i], msg[i], obs[i], rem[i] = f.Subject, f.Key, f.Message, f.Observed, f.Remediation
		waived[i], first[i], last[i], exs[i] = f.Waived(), f.FirstSeen.UTC(), f.LastSeen.UTC(), r.ex
	}
	drift := func(title string, target string) data.DataLink {
		return qc.link(title, model.Query{QueryType: model.DriftChanges, Filters: []model.Filter{eq(model.KeyTarget, target)}})
	}
	fields := []*data.Field{
		data.NewField("severity", nil, sev),
		data.NewField("status", nil, st),
		data.NewField("rule", nil, rule),
		data.NewField("title", nil, title),
		withLinks(data.NewField("target", nil, tgt), drift("Drift changes of this target", valueRaw)),
		data.NewField("product", nil, prod),
		withLinks(data.NewField("location", nil, loc), drift("Drift changes of this file's target", fieldRef("target"))),
		data.NewField("subject", nil, subj),
		data.NewField("key", nil, key),
		data.NewField("message", nil, msg),
		data.NewField("observed", nil, obs),
		data.NewField("remediation", nil, rem),
		data.NewField("waived", nil, waived),
		data.NewField("first_seen", nil, first),
		data.NewField("last_seen", nil, last),
	}
	if len(qc.ds.exporters) > 1 {
		fields = append(fields, data.NewField("exporter", nil, exs))
	}
	fr := data.NewFrame("findings", fields...)
	fr.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return fr
}

// driftFrame is a table of drift changes whose time, title, text and tags
// fields also make it an annotation query.
func (qc *queryCtx) driftFrame(cs []api.DriftChange) *data.Frame {
	n := len(cs)
	col := func() []string { return make([]string, n) }
	ts := make([]time.Time, n)
	title, text, tags, tgt, kind, path, subj, key, change, old, nw, note := col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col(), col()
	for i, c := range cs {
		ts[i] = c.Time.UTC()
		title[i] = fmt.Sprintf("%s: %s %s", c.Target, c.Key, c.Change)
		switch {
		case c.Secret:
			text[i] = fmt.Sprintf("%s: secret value of %s %s", c.Path, c.Key, c.Change)
		case c.Old != "" || c.New != "":
			text[i] = fmt.Sprintf("%s: %s: %q → %q", c.Path, c.Key, c.Old, c.New)
		default:
			text[i] = fmt.Sprintf("%s: %s %s", c.Path, c.Key, c.Change)
		}
		if c.Note != "" {
			text[i] += " (" + c.Note + ")"
		}
		tags[i] = strings.Join([]string{"drift", c.Target, c.Kind}, ",")
		tgt[i], kind[i], path[i], subj[i], key[i], change[i], old[i], nw[i], note[i] = c.Target, c.Kind, c.Path, c.Subject, c.Key, c.Change, c.Old, c.New, c.Note
	}
	fr := data.NewFrame("drift_changes",
		data.NewField("time", nil, ts),
		data.NewField("title", nil, title),
		data.NewField("text", nil, text),
		data.NewField("tags", nil, tags),
		withLinks(data.NewField("target", nil, tgt), qc.link("Findings of this target",
			model.Query{QueryType: model.Findings, Filters: []model.Filter{eq(model.KeyTarget, valueRaw)}})),
		data.NewField("product", nil, kind),
		data.NewField("path", nil, path),
		data.NewField("subject", nil, subj),
		data.NewField("key", nil, key),
		data.NewField("change", nil, change),
		data.NewField("old", nil, old),
		data.NewField("new", nil, nw),
		data.NewField("note", nil, note),
	)
	fr.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return fr
}

func breakSeq(r api.IntegrityReport) int64 {
	if r.FirstBreak != nil {
		return r.FirstBreak.Seq
	}
	return 0
}

// integrityFrame has one row per exporter: whether its hash chain
// verifies, over which sequence numbers, and where it first breaks.
func integrityFrame(rs []result[api.IntegrityReport]) *data.Frame {
	n := len(rs)
	ex, head, bid, reason := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ok := make([]bool, n)
	start, end, checked, bseq := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, r := range rs {
		v := r.val
		ex[i], ok[i], start[i], end[i], checked[i], head[i] = r.ex.url, v.OK, v.Start, v.End, v.Checked, v.Head
		if v.FirstBreak != nil {
			bseq[i], bid[i], reason[i] = v.FirstBreak.Seq, v.FirstBreak.ID, v.FirstBreak.Reason
		}
	}
	fr := data.NewFrame("integrity",
		data.NewField("exporter", nil, ex),
		data.NewField("ok", nil, ok),
		data.NewField("start_seq", nil, start),
		data.NewField("end_seq", nil, end),
		data.NewField("checked", nil, checked),
		data.NewField("first_break_seq", nil, bseq),
		data.NewField("first_break_id", nil, bid),
		data.NewField("first_break_reason", nil, reason),
		data.NewField("head", nil, head),
	)
	fr.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return fr
}

// statusFrames are two tables: one row per exporter (version and store)
// and one row per source of every exporter.
func statusFrames(rs []result[api.Status]) data.Frames {
	n := len(rs)
	ex, ver, lastErr := make([]string, n), make([]string, n), make([]string, n)
	at := make([]time.Time, n)
	events, bytes, stored, dropped, skipped, werr := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	oldest, newest := make([]*time.Time, n), make([]*time.Time, n)
	var sEx, sName, sFormat []string
	var sUp []bool
	var sEvents, sErrors, sLag []int64
	for i, r := range rs {
		s := r.val
		ex[i], ver[i], at[i] = r.ex.url, s.Version, s.Time.UTC()
		st := s.Store
		events[i], bytes[i], stored[i], dropped[i], skipped[i], werr[i], lastErr[i] = st.Events, st.Bytes, st.Stored, st.Dropped, st.Skipped, st.Errors, st.LastError
		if !st.Oldest.IsZero() {
			t := st.Oldest.UTC()
			oldest[i] = &t
		}
		if !st.Newest.IsZero() {
			t := st.Newest.UTC()
			newest[i] = &t
		}
		for _, src := range s.Sources {
			sEx = append(sEx, r.ex.url)
			sName = append(sName, src.Name)
			sFormat = append(sFormat, src.Format)
			sUp = append(sUp, src.Up)
			sEvents = append(sEvents, int64(src.Events))
			sErrors = append(sErrors, int64(src.Errors))
			sLag = append(sLag, src.LagBytes)
		}
	}
	exp := data.NewFrame("exporters",
		data.NewField("exporter", nil, ex),
		data.NewField("version", nil, ver),
		data.NewField("time", nil, at),
		data.NewField("events", nil, events),
		withUnit(data.NewField("bytes", nil, bytes), "bytes"),
		data.NewField("oldest", nil, oldest),
		data.NewField("newest", nil, newest),
		data.NewField("stored", nil, stored),
		data.NewField("dropped", nil, dropped),
		data.NewField("skipped", nil, skipped),
		data.NewField("write_errors", nil, werr),
		data.NewField("last_error", nil, lastErr),
	)
	exp.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	if sEx == nil {
		sEx, sName, sFormat, sUp, sEvents, sErrors, sLag = []string{}, []string{}, []string{}, []bool{}, []int64{}, []int64{}, []int64{}
	}
	srcs := data.NewFrame("sources",
		data.NewField("exporter", nil, sEx),
		data.NewField("source", nil, sName),
		data.NewField("format", nil, sFormat),
		data.NewField("up", nil, sUp),
		data.NewField("events", nil, sEvents),
		data.NewField("errors", nil, sErrors),
		withUnit(data.NewField("lag", nil, sLag), "bytes"),
	)
	srcs.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return data.Frames{exp, srcs}
}
