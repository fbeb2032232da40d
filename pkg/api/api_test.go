package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/sqlite"
	"github.com/dbsec/dbsec/pkg/store/storetest"
)

var (
	testStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	testEnd   = testStart.Add(2 * time.Hour)
	// A range that holds every test event.
	all = url.Values{"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-02T00:00:00Z"}}
)

const nEvents = 1500

// Secrets planted in the input; none may come out of the API.
var secrets = []string{"Sup3rS3cretPw!", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "rd_apikey_9f8e7d6c5b4a", "taosPassw0rd"}

func secretEvents() []*event.Event {
	t := testStart.Add(time.Minute)
	return []*event.Event{
		{Time: t, Source: "tidb-1-audit", System: event.SystemTiDB, Category: event.CategoryPrivilegeChange, Action: event.ActionCreateUser,
			User: "root", Statement: "CREATE USER 'bob'@'%' IDENTIFIED BY 'Sup3rS3cretPw!'",
			Raw: `[SQL_TEXT="CREATE USER 'bob'@'%' IDENTIFIED BY 'Sup3rS3cretPw!'"]`},
		{Time: t, Source: "tidb-1-audit", System: event.SystemTiDB, Category: event.CategoryAdmin, Action: event.ActionBackup, User: "root",
			Statement: "BACKUP DATABASE * TO 's3://bucket/b?access-key=AKIAIOSFODNN7EXAMPLE&secret-access-key=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY'"},
		{Time: t, Source: "redash-nginx", System: event.SystemRedash, Category: event.CategoryRead, Action: event.ActionSelect, Detections: []string{"D36"},
			Raw: `10.0.0.1 - - "GET /api/queries/5/results.csv?api_key=rd_apikey_9f8e7d6c5b4a HTTP/1.1" 200 12`},
		{Time: t, Source: "tdengine-1", System: event.SystemTDengine, Category: event.CategoryLogin, Action: event.ActionConnect, Outcome: event.OutcomeFailure,
			User: "root", Reason: "invalid pass, input:taosPassw0rd"},
	}
}

type fixture struct {
	st   *sqlite.Store
	path string
	srv  *httptest.Server
	evs  []*event.Event
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dbsec.db")
	st, err := sqlite.Open(sqlite.Options{Path: path, Policy: store.Policy{AllStatements: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	f := &fixture{st: st, path: path}
	g := storetest.New(5, testStart, 2*time.Hour, nEvents)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		f.evs = append(f.evs, ev)
		st.Consume(ev)
	}
	for _, ev := range secretEvents() {
		st.Consume(ev)
	}
	ctx := context.Background()
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.AddDetections(ctx, []store.Detection{{Time: testStart.Add(time.Hour), Rule: "brute_force_user", Severity: "warning", User: "app_user_001", ClientIP: "10.0.0.5", Message: "12 failures"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutFindings(ctx, "tidb-1", testStart, []finding.Finding{{RuleID: "TIDB-001", Target: "tidb-1", Severity: finding.High, Status: finding.Fail, Title: "security.skip-grant-table is on"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddDriftChanges(ctx, testStart, []store.DriftChange{{Target: "tidb-1", Kind: "tidb", Path: "/etc/tidb/tidb.toml", Key: "security.ssl-key", Change: "changed", Secret: true, OldHMAC: "aa", NewHMAC: "bb"}}); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(st, Options{Version: "test", Now: func() time.Time { return testEnd }})
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) get(t *testing.T, path string, v url.Values) (int, []byte) {
	t.Helper()
	u := f.srv.URL + path
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// listKeys are the keys of the result lists of each route.
var listKeys = []string{"events", "series", "items", "values", "detections", "findings", "changes"}

func rows(t *testing.T, body []byte) int {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not a JSON object: %s", body)
	}
	n := 0
	for _, k := range listKeys {
		if raw, ok := m[k]; ok {
			var xs []json.RawMessage
			if err := json.Unmarshal(raw, &xs); err != nil {
				t.Fatalf("%s is not a list: %s", k, raw)
			}
			n += len(xs)
		}
	}
	return n
}

// A real value for each parameter, so that the injection attempts go
// through every parameter of every route while the others stay valid.
var required = map[string]url.Values{
	"/api/v1/top": {"by": {"user"}},
}

var injections = []string{
	`' OR '1'='1`,
	`' OR 1=1 --`,
	`1; DROP TABLE events; --`,
	`") UNION SELECT v, v, v FROM dict --`,
	`app_user_001' --`,
	`%' OR seq > 0 OR '%' = '`,
	`1 OR 1=1`,
	`0x27`,
	`../../../etc/passwd`,
	"a\x00b",
	`category); DELETE FROM events; --`,
	strings.Repeat("A", 3000),
}

// TestInjectionThroughEveryFilter sends SQL injection attempts through
// every parameter of every route: each answer is a 400 that names the
// parameter, a 404 for a path value, or a 200 with no rows; never a 500.
// Afterwards the store still holds every event and its chain verifies.
func TestInjectionThroughEveryFilter(t *testing.T) {
	f := newFixture(t)
	routes := Routes()
	var paths []string
	for p := range routes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	tried := 0
	for _, route := range paths {
		for _, param := range append(routes[route], pathParams(route)...) {
			for _, inj := range injections {
				base := with(all)
				for k, vs := range required[route] {
					base[k] = vs
				}
				path := route
				switch {
				case strings.Contains(route, "{"+param+"}"):
					path = strings.Replace(route, "{"+param+"}", url.PathEscape(inj), 1)
				case strings.Contains(route, "{"):
					path = strings.NewReplacer("{id}", f.evs[0].ID, "{field}", "user").Replace(route)
				}
				if !strings.Contains(route, "{"+param+"}") {
					base.Set(param, inj)
				}
				if route == "/api/v1/findings" || route == "/api/v1/integrity" || route == "/api/v1/status" || route == "/api/v1/events/{id}" {
					base.Del("from")
					base.Del("to")
					if param == "from" || param == "to" {
						base.Set(param, inj)
					}
				}
				// An exclusion of a value nothing has excludes nothing: its
				// answer must equal the answer without it.
				var unfiltered int
				if strings.HasPrefix(param, notPrefix) {
					b := url.Values{}
					for k, vs := range base {
						if k != param {
							b[k] = vs
						}
					}
					_, ub := f.get(t, path, b)
					unfiltered = rows(t, ub)
				}
				code, body := f.get(t, path, base)
				tried++
				switch code {
				case http.StatusBadRequest:
					var e Error
					if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
						t.Errorf("%s %s=%.30q: 400 without a message: %s", route, param, inj, body)
					}
					if e.Param != "" && e.Param != param {
						t.Errorf("%s %s=%.30q: 400 names parameter %q", route, param, inj, e.Param)
					}
				case http.StatusNotFound:
					if !strings.Contains(route, "{"+param+"}") {
						t.Errorf("%s %s=%.30q: 404: %s", route, param, inj, body)
					}
				case http.StatusOK:
					if route == "/api/v1/status" || route == "/api/v1/integrity" || route == "/api/v1/events/{id}" {
						t.Errorf("%s accepted %s=%.30q: %s", route, param, inj, body)
					} else if n := rows(t, body); strings.HasPrefix(param, notPrefix) && n != unfiltered {
						t.Errorf("%s %s=%.30q: %d rows, want the %d rows without the exclusion", route, param, inj, n, unfiltered)
					} else if n := rows(t, body); !strings.HasPrefix(param, notPrefix) && n != 0 {
						t.Errorf("%s %s=%.30q: %d rows, want none", route, param, inj, n)
					}
				default:
					t.Errorf("%s %s=%.30q: HTTP %d: %s", route, param, inj, code, body)
				}
				if strings.Contains(strings.ToLower(string(body)), "sqlite") || strings.Contains(string(body), "SQL logic") {
					t.Errorf("%s %s: a database error reached the client: %s", route, param, body)
				}
			}
		}
	}
	if tried < 500 {
		t.Fatalf("only %d requests tried", tried)
	}
	// Nothing was changed by the attempts.
	code, body := f.get(t, "/api/v1/events", with(all, "limit", "10000"))
	if code != 200 || rows(t, body) != nEvents+len(secretEvents()) {
		t.Fatalf("after the attempts: HTTP %d, %d events, want %d", code, rows(t, body), nEvents+len(secretEvents()))
	}
	code, body = f.get(t, "/api/v1/integrity", nil)
	var rep store.IntegrityReport
	if code != 200 || json.Unmarshal(body, &rep) != nil || !rep.OK || rep.Checked != nEvents+int64(len(secretEvents())) {
		t.Fatalf("integrity after the attempts: HTTP %d %s", code, body)
	}
	t.Logf("%d injection requests, all refused or empty", tried)
}

func pathParams(route string) []string {
	var out []string
	for _, p := range []string{"id", "field"} {
		if strings.Contains(route, "{"+p+"}") {
			out = append(out, p)
		}
	}
	return out
}

// TestBadInput checks the message and the parameter of typical mistakes.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path  string
		v     url.Values
		param string
		msg   string
	}{
		{"/api/v1/events", url.Values{"from": {"yesterday"}}, "from", "RFC 3339 or Unix seconds"},
		{"/api/v1/events", url.Values{"from": {"2026-03-02T00:00:00Z"}, "to": {"2026-03-01T00:00:00Z"}}, "from", "before to"},
		{"/api/v1/events", url.Values{"limit": {"0"}}, "limit", "from 1 to 10000"},
		{"/api/v1/events", url.Values{"limit": {"1", "2"}}, "limit", "given 2 times"},
		{"/api/v1/events", url.Values{"category": {"logins"}}, "category", "one of: "},
		{"/api/v1/events", url.Values{"outcome": {"ok"}}, "outcome", "success"},
		{"/api/v1/events", url.Values{"cursor": {"not/a/cursor"}}, "cursor", "next_cursor"},
		{"/api/v1/events", url.Values{"cursor": {"AAAA"}}, "cursor", ""},
		{"/api/v1/events", url.Values{"usr": {"bob"}}, "usr", "unknown parameter"},
		{"/api/v1/series", url.Values{"step": {"0.1"}}, "step", "at least 1s"},
		{"/api/v1/series", url.Values{"step": {"1s"}, "from": {"2026-01-01T00:00:00Z"}}, "step", "too small"},
		{"/api/v1/series", url.Values{"by": {"password"}}, "by", "unknown dimension"},
		{"/api/v1/top", nil, "by", "is required"},
		{"/api/v1/values/statement", nil, "field", "unknown field"},
		{"/api/v1/findings", url.Values{"severity": {"urgent"}}, "severity", "critical"},
		{"/api/v1/integrity", url.Values{"start": {"10"}, "end": {"5"}}, "start", "after end"},
		{"/api/v1/events/" + url.PathEscape("x y"), nil, "id", "invalid event id"},
	} {
		code, body := f.get(t, tc.path, tc.v)
		var e Error
		_ = json.Unmarshal(body, &e)
		if code != 400 || e.Param != tc.param || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s?%s: HTTP %d %s, want 400 on %s with %q", tc.path, tc.v.Encode(), code, body, tc.param, tc.msg)
		}
	}
	if code, _ := f.get(t, "/api/v1/events/0000000000000000000000ff", nil); code != 404 {
		t.Errorf("unknown id: HTTP %d, want 404", code)
	}
	if code, _ := f.get(t, "/api/v1/nope", nil); code != 404 {
		t.Errorf("unknown route: HTTP %d, want 404", code)
	}
	resp, err := http.Post(f.srv.URL+"/api/v1/events", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: HTTP %d, want 405", resp.StatusCode)
	}
}

// TestCursorPaging walks every page of a filtered query: the pages hold
// each matching event exactly once, newest first, and match a brute-force
// filter over the generated events.
func TestCursorPaging(t *testing.T) {
	f := newFixture(t)
	c := NewClient(f.srv.URL, nil)
	ctx := context.Background()
	filter := store.Filter{From: testStart, To: testEnd, Category: []event.Category{event.CategoryRead, event.CategoryLogin}, Source: []string{"tidb-1-audit", "mariadb-1"}}
	var want []string
	for _, ev := range f.evs {
		if slices.Contains(filter.Category, ev.Category) && slices.Contains(filter.Source, ev.Source) {
			want = append(want, ev.ID)
		}
	}
	if len(want) < 300 {
		t.Fatalf("fixture too small: %d matching events", len(want))
	}
	var got []string
	var last time.Time
	pages := 0
	for cursor := ""; ; {
		p, err := c.Events(ctx, store.EventQuery{Filter: filter, Limit: 37, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, ev := range p.Events {
			if !last.IsZero() && ev.Time.After(last) {
				t.Fatalf("page %d: %s after %s: not newest first", pages, ev.Time, last)
			}
			last = ev.Time
			got = append(got, ev.ID)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d events (%d pages), want %d", len(got), pages, len(want))
	}
	t.Logf("%d events in %d pages of 37", len(got), pages)
}

// TestClientRoundTrip checks that the typed client returns what the store
// returns for every query type.
func TestClientRoundTrip(t *testing.T) {
	f := newFixture(t)
	c := NewClient(f.srv.URL+"/", nil)
	ctx := context.Background()
	fl := store.Filter{From: testStart, To: testEnd, Category: []event.Category{event.CategoryLogin}}
	same := func(name string, viaAPI, direct any) {
		t.Helper()
		a, _ := json.Marshal(viaAPI)
		b, _ := json.Marshal(direct)
		if string(a) != string(b) {
			t.Errorf("%s differs:\napi:    %.400s\ndirect: %.400s", name, a, b)
		}
		if len(a) < 20 {
			t.Errorf("%s is empty: %s", name, a)
		}
	}
	// The API redacts again on the way out; the store already did, so the
	// answers are equal.
	ap, err := c.Events(ctx, store.EventQuery{Filter: fl, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	dp, _ := f.st.Events(ctx, store.EventQuery{Filter: fl, Limit: 50})
	same("events", ap, dp)
	ae, err := c.Event(ctx, dp.Events[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	same("event", ae, dp.Events[3])
	sq := store.SeriesQuery{Filter: fl, Step: 10 * time.Minute, By: store.DimOutcome}
	as, err := c.Series(ctx, sq)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := f.st.Series(ctx, sq)
	same("series", as, ds)
	tq := store.TopQuery{Filter: store.Filter{From: testStart, To: testEnd}, By: store.DimUser, Limit: 5}
	at, err := c.Top(ctx, tq)
	if err != nil {
		t.Fatal(err)
	}
	dt, _ := f.st.Top(ctx, tq)
	same("top", at, dt)
	vq := store.ValuesQuery{Filter: store.Filter{From: testStart, To: testEnd}, Field: store.DimSource}
	av, err := c.Values(ctx, vq)
	if err != nil {
		t.Fatal(err)
	}
	dv, _ := f.st.Values(ctx, vq)
	same("values", av, dv)
	if len(av) != 5 {
		t.Errorf("values of source: %v", av)
	}
	dq := store.DetectionQuery{From: testStart, To: testEnd.Add(time.Hour)}
	ad, err := c.Detections(ctx, dq)
	if err != nil {
		t.Fatal(err)
	}
	dd, _ := f.st.Detections(ctx, dq)
	same("detections", ad, dd)
	af, err := c.Findings(ctx, store.FindingQuery{Target: []string{"tidb-1"}})
	if err != nil {
		t.Fatal(err)
	}
	df, _ := f.st.Findings(ctx, store.FindingQuery{Target: []string{"tidb-1"}})
	same("findings", af, df)
	ac, err := c.DriftChanges(ctx, store.DriftQuery{Target: []string{"tidb-1"}})
	if err != nil {
		t.Fatal(err)
	}
	dc, _ := f.st.DriftChanges(ctx, store.DriftQuery{Target: []string{"tidb-1"}})
	same("drift changes", ac, dc)
	ai, err := c.Integrity(ctx, store.IntegrityQuery{Start: 10, End: 20})
	if err != nil || !ai.OK || ai.Checked != 11 {
		t.Fatalf("integrity 10..20: %+v %v", ai, err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.Version != "test" || st.Store.Stored != nEvents+int64(len(secretEvents())) {
		t.Fatalf("status: %+v %v", st, err)
	}
	// Errors come back typed.
	_, err = c.Top(ctx, store.TopQuery{Filter: fl})
	var ae2 *Error
	if !errors.As(err, &ae2) || ae2.Status != 400 || ae2.Param != "by" {
		t.Fatalf("top without by: %v", err)
	}
}

// TestSecretsNotServed greps every answer for the planted secrets,
// including a search for them with q.
func TestSecretsNotServed(t *testing.T) {
	f := newFixture(t)
	var text strings.Builder
	for _, v := range []url.Values{with(all, "limit", "10000"), with(all, "user", "root"), with(all, "source", "redash-nginx")} {
		_, b := f.get(t, "/api/v1/events", v)
		text.Write(b)
	}
	for _, sec := range secrets {
		code, b := f.get(t, "/api/v1/events", with(all, "q", sec))
		if code != 200 || rows(t, b) != 0 {
			t.Errorf("q=%s found %d events: the secret was stored", sec, rows(t, b))
		}
	}
	_, b := f.get(t, "/api/v1/events", with(all, "q", "redacted"))
	// q searches statement and raw: three of the planted events carry a
	// secret there.
	if n := rows(t, b); n != 3 {
		t.Errorf("%d redacted events, want 3", n)
	}
	var page store.EventPage
	_, b = f.get(t, "/api/v1/events", with(all, "user", "root"))
	if err := json.Unmarshal(b, &page); err != nil || len(page.Events) == 0 {
		t.Fatalf("events of root: %s", b)
	}
	for _, ev := range page.Events {
		_, b := f.get(t, "/api/v1/events/"+ev.ID, nil)
		text.Write(b)
	}
	for _, p := range []string{"/api/v1/detections", "/api/v1/findings", "/api/v1/drift/changes", "/api/v1/values/user"} {
		_, b := f.get(t, p, nil)
		text.Write(b)
	}
	if !strings.Contains(text.String(), "IDENTIFIED BY '<redacted>'") {
		t.Fatalf("the redacted CREATE USER is missing:\n%.2000s", text.String())
	}
	for _, sec := range secrets {
		if strings.Contains(text.String(), sec) {
			t.Errorf("secret %q served by the API", sec)
		}
	}
}

// TestTamperDetected modifies a stored row by hand with SQLite and expects
// /api/v1/integrity to report the first break there.
func TestTamperDetected(t *testing.T) {
	f := newFixture(t)
	code, body := f.get(t, "/api/v1/integrity", nil)
	var rep store.IntegrityReport
	if code != 200 || json.Unmarshal(body, &rep) != nil || !rep.OK {
		t.Fatalf("before: HTTP %d %s", code, body)
	}
	db, err := sql.Open("sqlite", "file:"+f.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	// Turn a failed login into a successful one (outcome is a column).
	var seq int64
	if err := db.QueryRow(`SELECT seq FROM events WHERE seq > 700 ORDER BY seq LIMIT 1`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE events SET outc = outc + 1 WHERE seq = ?`, seq); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, body = f.get(t, "/api/v1/integrity", nil)
	rep = store.IntegrityReport{}
	if code != 200 || json.Unmarshal(body, &rep) != nil {
		t.Fatalf("after: HTTP %d %s", code, body)
	}
	if rep.OK || rep.FirstBreak == nil || rep.FirstBreak.Seq != seq {
		t.Fatalf("want a break at seq %d, got %s", seq, body)
	}
	code, body = f.get(t, "/api/v1/integrity", url.Values{"start": {"1"}, "end": {fmt.Sprint(seq - 1)}})
	rep = store.IntegrityReport{}
	if code != 200 || json.Unmarshal(body, &rep) != nil || !rep.OK {
		t.Fatalf("the range before the break: HTTP %d %s", code, body)
	}
}

// TestOpenAPIMatchesHandler checks openapi.yaml against the handler: the
// same paths, and for each the same parameters as the handler accepts.
func TestOpenAPIMatchesHandler(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Ref  string `yaml:"$ref"`
				Name string `yaml:"name"`
				In   string `yaml:"in"`
			} `yaml:"parameters"`
		} `yaml:"paths"`
		Components struct {
			Parameters map[string]struct {
				Name string `yaml:"name"`
				In   string `yaml:"in"`
			} `yaml:"parameters"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	routes := Routes()
	for p := range doc.Paths {
		if _, ok := routes[p]; !ok {
			t.Errorf("openapi.yaml describes %s, which the handler does not serve", p)
		}
	}
	for route, params := range routes {
		ops, ok := doc.Paths[route]
		if !ok {
			t.Errorf("openapi.yaml does not describe %s", route)
			continue
		}
		get, ok := ops["get"]
		if !ok || len(ops) != 1 {
			t.Errorf("%s: want exactly a get operation, have %v", route, reflect.ValueOf(ops).MapKeys())
		}
		var query, path []string
		for _, p := range get.Parameters {
			name, in := p.Name, p.In
			if p.Ref != "" {
				c, ok := doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
				if !ok {
					t.Errorf("%s: dangling %s", route, p.Ref)
					continue
				}
				name, in = c.Name, c.In
			}
			if in == "path" {
				path = append(path, name)
			} else {
				query = append(query, name)
			}
		}
		slices.Sort(query)
		want := slices.Clone(params)
		slices.Sort(want)
		if !slices.Equal(query, want) {
			t.Errorf("%s: openapi.yaml has query parameters %v, the handler accepts %v", route, query, want)
		}
		if !slices.Equal(path, pathParams(route)) {
			t.Errorf("%s: path parameters %v", route, path)
		}
	}
	// The description is served.
	f := newFixture(t)
	code, body := f.get(t, "/api/v1/openapi.yaml", nil)
	if code != 200 || string(body) != string(OpenAPI) {
		t.Fatalf("GET /api/v1/openapi.yaml: HTTP %d", code)
	}
}

// TestFilterCodecRoundTrip sends every filter field, and its exclusion,
// through the typed client and checks that the handler decodes the same
// filter (the answers equal the store's for the filter itself).
func TestFilterCodecRoundTrip(t *testing.T) {
	f := newFixture(t)
	c := NewClient(f.srv.URL, nil)
	ctx := context.Background()
	ev := f.evs[0]
	for i := range f.evs {
		if f.evs[i].ConnectionID != "" && f.evs[i].User != "" {
			ev = f.evs[i]
			break
		}
	}
	filters := []store.Filter{
		{From: testStart, To: testEnd, ConnectionID: []string{ev.ConnectionID}},
		{From: testStart, To: testEnd, User: []string{ev.User}, Not: &store.Filter{Category: []event.Category{event.CategoryRead}}},
		{From: testStart, To: testEnd, Not: &store.Filter{User: []string{ev.User}, ClientIP: []string{ev.ClientIP}, System: []event.System{ev.System}}},
		{From: testStart, To: testEnd, Source: []string{ev.Source}, System: []event.System{ev.System}, Outcome: []event.Outcome{ev.Outcome},
			Action: []event.Action{ev.Action}, Q: "a", Not: &store.Filter{ConnectionID: []string{"none"}, Rule: []string{"none"}, Digest: []string{"none"}}},
	}
	for i, fl := range filters {
		got, err := c.Events(ctx, store.EventQuery{Filter: fl, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		want, err := f.st.Events(ctx, store.EventQuery{Filter: fl, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Events) != len(want.Events) || len(want.Events) == 0 {
			t.Errorf("filter %d: client %d events, store %d (must be > 0)", i, len(got.Events), len(want.Events))
		}
		for j := range min(len(got.Events), len(want.Events)) {
			if got.Events[j].ID != want.Events[j].ID {
				t.Errorf("filter %d: event %d is %s, store says %s", i, j, got.Events[j].ID, want.Events[j].ID)
				break
			}
		}
	}
}

// TestDetectionSeverityFilter checks that the severity filter of
// /detections selects and that an unknown severity is a 400 naming it.
func TestDetectionSeverityFilter(t *testing.T) {
	f := newFixture(t)
	code, body := f.get(t, "/api/v1/detections", with(all, "severity", "medium"))
	var e Error
	if code != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || e.Param != "severity" {
		t.Fatalf("severity=medium: HTTP %d %s, want 400 naming severity", code, body)
	}
	for _, sev := range []string{"warning", "critical"} {
		code, body = f.get(t, "/api/v1/detections", with(all, "severity", sev))
		var p DetectionPage
		if code != http.StatusOK || json.Unmarshal(body, &p) != nil {
			t.Fatalf("severity=%s: HTTP %d %s", sev, code, body)
		}
		for _, d := range p.Detections {
			if d.Severity != sev {
				t.Errorf("severity=%s returned %+v", sev, d)
			}
		}
		if sev == "warning" && len(p.Detections) == 0 {
			t.Errorf("severity=warning returned nothing; the fixture has a warning detection")
		}
	}
}
