package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"

	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/grafana/model"
)

// TestHealth is "Save & test" with good settings and each kind of mistake.
func TestHealth(t *testing.T) {
	noCA := good()
	noCA.ID, noCA.UID = 11, "no-ca"
	noCA.JSONData = map[string]any{}
	noCA.Secure = map[string]string{"basicAuthPassword": basicPass}

	wrongPass := good()
	wrongPass.ID, wrongPass.UID = 12, "wrong-pass"
	wrongPass.Secure = map[string]string{"basicAuthPassword": "guess", "tlsCACert": env.caPEM}

	noAuth := good()
	noAuth.ID, noAuth.UID, noAuth.BasicUser = 13, "no-auth", ""

	down := good()
	down.ID, down.UID, down.URL = 14, "down", env.downURL

	wrongName := good()
	wrongName.ID, wrongName.UID = 15, "wrong-name"
	wrongName.JSONData = map[string]any{"tlsAuthWithCACert": true, "serverName": "db.example.com"}

	plain := good()
	plain.ID, plain.UID, plain.URL = 16, "plain", strings.Replace(env.httpsURL, "https://", "http://", 1)

	for _, tc := range []struct {
		name string
		c    dsConfig
		ok   bool
		want []string
	}{
		{"ok", good(), true, []string{"Data source is working", env.httpsURL, fmt.Sprintf("%d events stored", env.wantEvts)}},
		{"exporter down", down, false, []string{env.downURL, "connection refused", "is dbsec_exporter running"}},
		{"wrong password", wrongPass, false, []string{"401 Unauthorized", "refused the user name or password"}},
		{"no basic auth", noAuth, false, []string{"401 Unauthorized", "enable Basic auth"}},
		{"unknown CA", noCA, false, []string{"TLS verification failed", "unknown authority", "CA certificate"}},
		{"server name", wrongName, false, []string{"TLS verification failed", "not valid for this host name", "db.example.com"}},
		{"http to https", plain, false, []string{"speaks HTTPS", "https:// URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := env.plugin.health(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if (res.Status == backend.HealthStatusOk) != tc.ok {
				t.Errorf("status %v, want ok=%v: %s", res.Status, tc.ok, res.Message)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q lacks %q", res.Message, w)
				}
			}
		})
	}
}

func fanOutConfig() dsConfig {
	c := good()
	c.ID, c.UID = 21, "fan-out"
	// The same exporter under a second name, and one that is down.
	second := strings.Replace(env.httpsURL, "127.0.0.1", "localhost", 1)
	c.JSONData = map[string]any{"tlsAuthWithCACert": true, "urls": []string{second, env.downURL}}
	return c
}

// TestFanOut queries two live exporters (the test exporter under two
// names) and one that is down: the data is merged (counts summed, events
// interleaved by time), and the panel gets a warning notice naming the
// exporter that failed instead of an error.
func TestFanOut(t *testing.T) {
	fan := fanOutConfig()
	check := func(dr backend.DataResponse) {
		t.Helper()
		if dr.Error != nil {
			t.Fatalf("error: %v", dr.Error)
		}
		ns := notices(dr)
		if !slices.ContainsFunc(ns, func(s string) bool {
			return strings.HasPrefix(s, "warning: 1 of 3 exporters did not answer") && strings.Contains(s, env.downURL) && strings.Contains(s, "connection refused")
		}) {
			t.Errorf("notices %v lack the warning about %s", ns, env.downURL)
		}
	}
	sum := func(dr backend.DataResponse, field string) float64 {
		var s float64
		for _, fr := range dr.Frames {
			f, _ := fr.FieldByName(field)
			for i := 0; f != nil && i < f.Len(); i++ {
				switch v := f.At(i).(type) {
				case int64:
					s += float64(v)
				case float64:
					s += v
				}
			}
		}
		return s
	}

	top := model.Query{QueryType: model.Top, By: "user", Limit: 100}
	one, many := mustQuery(t, good(), top, nil), mustQuery(t, fan, top, nil)
	check(many)
	if sum(many, "count") != 2*sum(one, "count") || sum(one, "count") != float64(env.wantEvts) {
		t.Errorf("top: fan-out %v, one exporter %v, stored %d", sum(many, "count"), sum(one, "count"), env.wantEvts)
	}
	maskResponse(&many)
	experimental.CheckGoldenJSONResponse(t, "testdata", "fanout_top", &many, *update)

	series := model.Query{QueryType: model.Series, By: "user", Step: "1m"}
	one, many = mustQuery(t, good(), series, nil), mustQuery(t, fan, series, nil)
	check(many)
	if sum(many, "count") != 2*sum(one, "count") || len(many.Frames) != len(one.Frames) {
		t.Errorf("series: fan-out %v in %d frames, one exporter %v in %d", sum(many, "count"), len(many.Frames), sum(one, "count"), len(one.Frames))
	}

	events := model.Query{QueryType: model.Events, Format: model.FormatTable}
	one, many = mustQuery(t, good(), events, nil), mustQuery(t, fan, events, nil)
	check(many)
	ids := column(t, many, "id")
	if len(ids) != 2*int(env.wantEvts) {
		t.Errorf("events: %d rows from two exporters, want %d", len(ids), 2*env.wantEvts)
	}
	tf, _ := many.Frames[0].FieldByName("time")
	for i := 1; i < tf.Len(); i++ {
		if tf.At(i).(time.Time).After(tf.At(i - 1).(time.Time)) {
			t.Errorf("events: row %d is newer than row %d", i, i-1)
			break
		}
	}
	exs := column(t, many, "exporter")
	if !slices.Contains(exs, env.httpsURL) || !slices.Contains(exs, strings.Replace(env.httpsURL, "127.0.0.1", "localhost", 1)) {
		t.Errorf("exporter column %v", exs)
	}

	// All exporters down: now the query fails, and says why.
	allDown := good()
	allDown.ID, allDown.UID, allDown.URL = 22, "all-down", env.downURL
	dr := mustQuery(t, allDown, events, nil)
	if dr.Error == nil || dr.Status != backend.StatusBadGateway || !strings.Contains(dr.Error.Error(), "connection refused") {
		t.Errorf("all down: status %d, error %v", dr.Status, dr.Error)
	}
}

// TestResources calls the resource routes the editors use.
func TestResources(t *testing.T) {
	get := func(path string, out any) int {
		t.Helper()
		code, body, err := env.plugin.resource(good(), path)
		if err != nil {
			t.Fatal(err)
		}
		if out != nil && code == 200 {
			if err := json.Unmarshal(body, out); err != nil {
				t.Fatalf("%s: %v: %s", path, err, body)
			}
		}
		return code
	}
	var keys []string
	if code := get("keys", &keys); code != 200 || !slices.Equal(keys, model.FilterKeys()) {
		t.Errorf("keys: %d %v", code, keys)
	}
	var rules []struct{ ID, Name, Severity, Title string }
	if code := get("rules", &rules); code != 200 || len(rules) != len(detect.Catalog()) {
		t.Errorf("rules: %d, %d rules, catalogue has %d", code, len(rules), len(detect.Catalog()))
	}
	for i, r := range detect.Catalog() {
		if i < len(rules) && (rules[i].ID != r.ID || rules[i].Name != r.Name || rules[i].Severity != r.Severity || rules[i].Title != r.Title) {
			t.Errorf("rule %d: %+v, want %+v", i, rules[i], r)
		}
	}

	// The values of a field agree with the events' column.
	all := mustQuery(t, good(), model.Query{QueryType: model.Events, Format: model.FormatTable}, nil)
	want := map[string]bool{}
	for _, u := range column(t, all, "user") {
		if u != "" {
			want[u] = true
		}
	}
	rng := fmt.Sprintf("from=%d&to=%d", rangeFrom.UnixMilli(), rangeTo.UnixMilli())
	var users []string
	if code := get("values/user?"+rng, &users); code != 200 || len(users) != len(want) || len(users) < 2 {
		t.Fatalf("values/user: %d %v, want %v", code, users, want)
	}
	for _, u := range users {
		if !want[u] {
			t.Errorf("values/user: %q is not a user of the events", u)
		}
	}
	var notFirst []string
	if code := get("values/user?"+rng+"&not_user="+url.QueryEscape(users[0]), &notFirst); code != 200 || slices.Contains(notFirst, users[0]) || len(notFirst) != len(users)-1 {
		t.Errorf("values/user without %s: %d %v", users[0], code, notFirst)
	}
	var some []string
	if code := get("values/client_ip?"+rng+"&user="+url.QueryEscape(users[0]), &some); code != 200 || len(some) == 0 {
		t.Errorf("values/client_ip for %s: %d %v", users[0], code, some)
	}
	if code := get("values/colour?"+rng, nil); code != 400 {
		t.Errorf("values/colour: %d, want 400", code)
	}
	if code := get("values/user?when=now", nil); code != 400 {
		t.Errorf("values/user?when=now: %d, want 400", code)
	}

	// The raw record of an event, through the data source.
	id := column(t, all, "id")[0]
	var ev struct {
		ID, Raw string
	}
	if code := get("events/"+id, &ev); code != 200 || ev.ID != id || !strings.Contains(ev.Raw, "[EVENT_CLASS=") {
		t.Errorf("events/%s: %d %+v", id, code, ev)
	}
	if code := get("events/000000000000000000000000", nil); code != 404 {
		t.Errorf("unknown event: %d, want 404", code)
	}
	// A detection's evidence, as its evidence link opens it.
	dets := mustQuery(t, good(), model.Query{QueryType: model.Detections}, nil)
	evidence := column(t, dets, "evidence")
	var idsOf string
	for _, e := range evidence {
		if strings.Count(e, ",") > strings.Count(idsOf, ",") {
			idsOf = e
		}
	}
	if idsOf == "" {
		t.Fatal("no detection has evidence")
	}
	var ans struct {
		Events  []struct{ ID string }
		Missing []string
	}
	wantIDs := strings.Split(idsOf, ",")
	if code := get("evidence?ids="+url.QueryEscape(idsOf+",000000000000000000000000"), &ans); code != 200 ||
		len(ans.Events) != len(wantIDs) || !slices.Equal(ans.Missing, []string{"000000000000000000000000"}) {
		t.Fatalf("evidence of %s: %d %+v", idsOf, code, ans)
	}
	for i, e := range ans.Events {
		if e.ID != wantIDs[i] {
			t.Errorf("evidence %d: %s, want %s", i, e.ID, wantIDs[i])
		}
	}
	if code := get("evidence", nil); code != 400 {
		t.Errorf("evidence without ids: %d, want 400", code)
	}
	if code := get("nope", nil); code != 404 {
		t.Errorf("unknown resource: %d, want 404", code)
	}
}
