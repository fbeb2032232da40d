package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"

	"github.com/dbsec/dbsec/dashboards"
	"github.com/dbsec/dbsec/pkg/grafana/model"
)

// maskResponse makes a response comparable across runs (see mask): string
// values, notices and, in the status and integrity frames, the values
// that depend on the wall clock or the random event ids.
func maskResponse(dr *backend.DataResponse) {
	for _, fr := range dr.Frames {
		if fr.Meta != nil {
			fr.Meta.ExecutedQueryString = mask(fr.Meta.ExecutedQueryString)
			for i := range fr.Meta.Notices {
				fr.Meta.Notices[i].Text = mask(fr.Meta.Notices[i].Text)
			}
		}
		for _, f := range fr.Fields {
			for i := 0; i < f.Len(); i++ {
				switch v := f.At(i).(type) {
				case string:
					f.Set(i, mask(v))
				case *string:
					if v != nil {
						s := mask(*v)
						f.Set(i, &s)
					}
				case json.RawMessage:
					f.Set(i, json.RawMessage(mask(string(v))))
				}
				switch {
				case fr.Name == "exporters" && f.Name == "time":
					f.Set(i, time.Unix(0, 0).UTC())
				case fr.Name == "exporters" && f.Name == "bytes":
					f.Set(i, int64(0))
				case fr.Name == "integrity" && f.Name == "head" && f.At(i).(string) != "":
					f.Set(i, "<sha256 of the last event>")
				}
			}
		}
	}
}

func mustQuery(t *testing.T, c dsConfig, q model.Query, headers map[string]string) backend.DataResponse {
	t.Helper()
	dr, err := env.plugin.query(c, q, rangeFrom, rangeTo, headers)
	if err != nil {
		t.Fatalf("query %+v: %v", q, err)
	}
	return dr
}

// TestGoldenFrames runs every query type through the plugin binary against
// the exporter and compares the frames with testdata/<name>.jsonc.
func TestGoldenFrames(t *testing.T) {
	f := func(key, op, value string) model.Filter { return model.Filter{Key: key, Op: op, Value: value} }
	cases := []struct {
		name string
		q    model.Query
	}{
		{"events_logs", model.Query{QueryType: model.Events}},
		{"events_table", model.Query{QueryType: model.Events, Format: model.FormatTable}},
		{"events_limit", model.Query{QueryType: model.Events, Limit: 5}},
		{"events_failed_logins", model.Query{QueryType: model.Events, Format: model.FormatTable,
			Filters: []model.Filter{f("category", "=", "login"), f("outcome", "=", "failure")}}},
		{"events_free_text", model.Query{QueryType: model.Events, Q: "orders"}},
		{"series_by_user", model.Query{QueryType: model.Series, By: "user", Step: "1m"}},
		{"series_total", model.Query{QueryType: model.Series}},
		{"top_user", model.Query{QueryType: model.Top, By: "user"}},
		{"top_action", model.Query{QueryType: model.Top, By: "action", Limit: 5}},
		{"detections", model.Query{QueryType: model.Detections}},
		{"findings_failing", model.Query{QueryType: model.Findings, Filters: []model.Filter{f("status", "=", "fail")}}},
		{"drift_changes", model.Query{QueryType: model.DriftChanges}},
		{"integrity", model.Query{QueryType: model.Integrity}},
		{"status", model.Query{QueryType: model.Status}},
		{"values_user", model.Query{QueryType: model.Values, Field: "user"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dr := mustQuery(t, good(), tc.q, nil)
			if dr.Error != nil {
				t.Fatalf("error: %v", dr.Error)
			}
			if len(dr.Frames) == 0 || dr.Frames[0].Rows() == 0 {
				t.Fatalf("no rows: %+v", dr.Frames)
			}
			maskResponse(&dr)
			experimental.CheckGoldenJSONResponse(t, "testdata", tc.name, &dr, *update)
		})
	}
}

func frameRows(dr backend.DataResponse) int {
	n := 0
	for _, f := range dr.Frames {
		n += f.Rows()
	}
	return n
}

func notices(dr backend.DataResponse) []string {
	var out []string
	for _, f := range dr.Frames {
		if f.Meta != nil {
			for _, n := range f.Meta.Notices {
				out = append(out, n.Severity.String()+": "+n.Text)
			}
		}
	}
	return out
}

// column returns a string column of the first frame.
func column(t *testing.T, dr backend.DataResponse, name string) []string {
	t.Helper()
	if dr.Error != nil || len(dr.Frames) == 0 {
		t.Fatalf("no frames: %v", dr.Error)
	}
	f, _ := dr.Frames[0].FieldByName(name)
	if f == nil {
		t.Fatalf("frame %s has no field %s", dr.Frames[0].Name, name)
	}
	out := make([]string, f.Len())
	for i := range out {
		out[i] = f.At(i).(string)
	}
	return out
}

// TestFilters checks exclusions, connection filters and the notices of
// filters that do not apply, against counts the exporter reports itself.
func TestFilters(t *testing.T) {
	all := mustQuery(t, good(), model.Query{QueryType: model.Events, Format: model.FormatTable}, nil)
	users := column(t, all, "user")
	if int64(len(users)) != env.wantEvts {
		t.Fatalf("events: %d rows, the exporter stored %d", len(users), env.wantEvts)
	}
	root := 0
	for _, u := range users {
		if u == "root" {
			root++
		}
	}
	if root == 0 || root == len(users) {
		t.Fatalf("the sample should have root and other users: %v", users)
	}
	not := mustQuery(t, good(), model.Query{QueryType: model.Events, Format: model.FormatTable,
		Filters: []model.Filter{{Key: "user", Op: "!=", Value: "root"}}}, nil)
	got := column(t, not, "user")
	if len(got) != len(users)-root || slices.Contains(got, "root") {
		t.Errorf("user != root: %d rows (%v), want %d without root", len(got), got, len(users)-root)
	}

	conns := column(t, all, "connection_id")
	conn := conns[0]
	want := 0
	for _, c := range conns {
		if c == conn {
			want++
		}
	}
	one := mustQuery(t, good(), model.Query{QueryType: model.Events, Format: model.FormatTable,
		Filters: []model.Filter{{Key: "connection_id", Value: conn}, {Key: "source", Value: "tidb-1-audit"}}}, nil)
	if got := column(t, one, "connection_id"); len(got) != want || slices.ContainsFunc(got, func(s string) bool { return s != conn }) {
		t.Errorf("connection_id=%s: %v, want %d rows", conn, got, want)
	}

	// A filter that does not apply to the query type is a notice, not an
	// error (ad hoc filters apply to every panel of a dashboard).
	ign := mustQuery(t, good(), model.Query{QueryType: model.Events, Filters: []model.Filter{{Key: "severity", Value: "critical"}}}, nil)
	if frameRows(ign) != len(users) || !slices.ContainsFunc(notices(ign), func(s string) bool { return strings.Contains(s, "filter severity does not apply") }) {
		t.Errorf("ignored filter: %d rows, notices %v", frameRows(ign), notices(ign))
	}
	// An empty value (a drill-down link on an empty cell) drops the filter.
	empty := mustQuery(t, good(), model.Query{QueryType: model.Events, Filters: []model.Filter{{Key: "user", Value: ""}}}, nil)
	if frameRows(empty) != len(users) {
		t.Errorf("empty filter value: %d rows, want %d", frameRows(empty), len(users))
	}
}

// TestBadQueries: mistakes in a query are a clear per-query 400.
func TestBadQueries(t *testing.T) {
	for _, tc := range []struct {
		q    any
		want string
	}{
		{map[string]any{"queryType": "nope"}, `unknown queryType "nope"`},
		{model.Query{QueryType: model.Events, Filters: []model.Filter{{Key: "outcome", Value: "maybe"}}}, `filter outcome: unknown value "maybe"`},
		{model.Query{QueryType: model.Events, Filters: []model.Filter{{Key: "colour", Value: "red"}}}, `unknown filter key "colour"`},
		{model.Query{QueryType: model.Top}, "top queries need by"},
		{model.Query{QueryType: model.Series, Step: "often"}, `invalid step "often"`},
		{map[string]any{"queryType": "events", "limit": "many"}, "malformed query JSON"},
	} {
		dr, err := env.plugin.query(good(), tc.q, rangeFrom, rangeTo, nil)
		if err != nil {
			t.Fatal(err)
		}
		if dr.Status != backend.StatusBadRequest || dr.Error == nil || !strings.Contains(dr.Error.Error(), tc.want) {
			t.Errorf("%+v: status %d, error %v; want 400 with %q", tc.q, dr.Status, dr.Error, tc.want)
		}
	}
}

// TestAlerting: queries from Grafana's alert engine (FromAlert header).
func TestAlerting(t *testing.T) {
	hdr := map[string]string{backend.FromAlertHeaderName: "true"}
	dr := mustQuery(t, good(), model.Query{QueryType: model.Series, By: "outcome", Step: "1m"}, hdr)
	if dr.Error != nil || len(dr.Frames) < 2 {
		t.Fatalf("series from alert: %v, %d frames", dr.Error, len(dr.Frames))
	}
	var total float64
	for _, fr := range dr.Frames {
		if fr.Meta == nil || fr.Meta.Type != data.FrameTypeTimeSeriesMulti || len(fr.Fields) != 2 {
			t.Fatalf("frame %s: %+v", fr.Name, fr.Meta)
		}
		if fr.Fields[0].Type() != data.FieldTypeTime || fr.Fields[1].Type() != data.FieldTypeFloat64 || fr.Fields[1].Labels["outcome"] == "" {
			t.Errorf("frame %s: fields %s %s labels %v", fr.Name, fr.Fields[0].Type(), fr.Fields[1].Type(), fr.Fields[1].Labels)
		}
		for i := 0; i < fr.Rows(); i++ {
			total += fr.Fields[1].At(i).(float64)
		}
	}
	if int64(total) != env.wantEvts {
		t.Errorf("series total %v, want %d events", total, env.wantEvts)
	}
	top := mustQuery(t, good(), model.Query{QueryType: model.Top, By: "user"}, hdr)
	if top.Error != nil || top.Frames[0].Meta.Type != data.FrameTypeNumericLong {
		t.Errorf("top from alert: %v", top.Error)
	}
	for _, q := range []model.Query{{QueryType: model.Events}, {QueryType: model.Events, Format: model.FormatTable}, {QueryType: model.Detections}} {
		dr := mustQuery(t, good(), q, hdr)
		if dr.Status != backend.StatusBadRequest || dr.Error == nil || !strings.Contains(dr.Error.Error(), "Grafana alerting cannot evaluate") {
			t.Errorf("%s from alert: status %d, error %v", q.QueryType, dr.Status, dr.Error)
		}
	}
}

// TestDashboardQueries runs every dbsec query of the shipped dashboards,
// interpolated with their default variables, through the plugin binary:
// each must be accepted (the test exporter holds only TiDB samples, so
// queries of other products may find nothing).
func TestDashboardQueries(t *testing.T) {
	qs, err := dashboards.DBSecQueries()
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 10 {
		t.Fatalf("only %d dashboard queries", len(qs))
	}
	withData := 0
	for _, pq := range qs {
		dr := mustQuery(t, good(), pq.Query, nil)
		if dr.Error != nil {
			t.Errorf("%s: %s: %+v: %v", pq.File, pq.Where, pq.Query, dr.Error)
			continue
		}
		if frameRows(dr) > 0 {
			withData++
		}
	}
	t.Logf("%d dashboard queries answered, %d with data", len(qs), withData)
	if withData == 0 {
		t.Error("no dashboard query found data")
	}
}
