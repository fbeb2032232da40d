package grafana

// The data source is tested through its built binary against a real
// exporter in plugin/ (protocol level). These are the pure parts.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/dbsec/dbsec/pkg/grafana/model"
)

func TestExporterURLs(t *testing.T) {
	many := make([]string, MaxExporters)
	for i := range many {
		many[i] = fmt.Sprintf("http://h%d:9947", i)
	}
	manyJSON, _ := json.Marshal(model.Settings{URLs: many})
	for _, tc := range []struct {
		url, jsonData string
		want          []string
		err           string
	}{
		{"http://a:9947/", `{"urls":["https://b:9947"," http://a:9947 ",""]}`, []string{"http://a:9947", "https://b:9947"}, ""},
		{"", `{"urls":["http://b:9947"]}`, []string{"http://b:9947"}, ""},
		{"", `{}`, nil, "no exporter URL"},
		{"a:9947", ``, nil, "want http://host:port"},
		{"ftp://a", ``, nil, "want http://host:port"},
		{"http://u:p@a:9947", ``, nil, "put credentials in the basic auth settings"},
		{"http://first:1", string(manyJSON), nil, fmt.Sprintf("at most %d", MaxExporters)},
		{"http://a:1", `{"urls":"http://b"}`, nil, "jsonData"},
	} {
		got, err := exporterURLs(tc.url, json.RawMessage(tc.jsonData))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q %s: error %v, want %q", tc.url, tc.jsonData, err, tc.err)
			}
			if strings.Contains(fmt.Sprint(err), ":p@") {
				t.Errorf("the error repeats the password: %v", err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q %s: %v %v, want %v", tc.url, tc.jsonData, got, err, tc.want)
		}
	}
}

func TestSeriesStep(t *testing.T) {
	from := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		span     time.Duration
		step     string
		interval time.Duration
		mdp      int64
		want     time.Duration
		err      bool
	}{
		{time.Hour, "", 15 * time.Second, 0, 15 * time.Second, false},        // the panel's interval
		{time.Hour, "5m", 15 * time.Second, 10000, 5 * time.Minute, false},   // the query's own step wins
		{24 * time.Hour, "", 15 * time.Second, 1000, 2 * time.Minute, false}, // max data points, rounded up
		{time.Hour, "", 0, 0, time.Second, false},                            // never finer than 1s
		{30 * 24 * time.Hour, "1s", 0, 0, 5 * time.Minute, false},            // at most 11,000 points
		{time.Hour, "", 90 * time.Second, 0, 90 * time.Second, false},        // a panel interval is kept
		{40 * 365 * 24 * time.Hour, "", 0, 0, 2 * 24 * time.Hour, false},     // whole days beyond a day
		{time.Hour, "soon", 0, 0, 0, true},
		{time.Hour, "-1m", 0, 0, 0, true},
		{0, "", time.Second, 0, 0, true},
	} {
		qc := &queryCtx{m: model.Query{Step: tc.step}, q: backend.DataQuery{Interval: tc.interval, MaxDataPoints: tc.mdp},
			from: from, to: from.Add(tc.span)}
		got, err := qc.seriesStep()
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("span %v step %q interval %v mdp %d: %v %v, want %v (error %v)", tc.span, tc.step, tc.interval, tc.mdp, got, err, tc.want, tc.err)
		}
		if !tc.err && tc.span/got > maxSeriesPoints {
			t.Errorf("span %v: step %v gives %d points", tc.span, got, tc.span/got)
		}
	}
}

func TestParseFilters(t *testing.T) {
	f, err := parseFilters([]model.Filter{
		{Key: "user", Value: "alice"}, {Key: "user", Op: "=", Value: "bob"}, {Key: "user", Op: "!=", Value: "etl"},
		{Key: "client_ip", Value: " "}, {Key: "connection_id", Value: "42"}, {Key: "outcome", Value: "failure"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sf, err := f.eventFilter(time.Time{}, time.Time{}, " drop ")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sf.User, ",") != "alice,bob" || sf.Not == nil || strings.Join(sf.Not.User, ",") != "etl" ||
		len(sf.ClientIP) != 0 || strings.Join(sf.ConnectionID, ",") != "42" || len(sf.Outcome) != 1 || sf.Outcome[0].String() != "failure" || sf.Q != "drop" {
		t.Errorf("filter %+v not %+v", sf, sf.Not)
	}
	if ig := f.ignored(findingKeys); strings.Join(ig, ",") != "user,connection_id,outcome" {
		t.Errorf("ignored for findings: %v", ig)
	}
	for _, bad := range []model.Filter{{Key: "colour", Value: "x"}, {Key: "user", Op: "~", Value: "x"}} {
		if _, err := parseFilters([]model.Filter{bad}); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
