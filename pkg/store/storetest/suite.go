package storetest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/store"
)

// Flusher is what the suite needs beyond store.Engine: Flush returns once
// everything written before the call is visible to the engine's queries.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Options size the conformance suite.
type Options struct {
	// N is the number of generated events (default 20,000).
	N int
	// ApproxValues says that Values with a time range may return values
	// from just outside the range (engines that answer from rollups at
	// bucket precision); the values inside the range must always be there.
	ApproxValues bool
}

// SuiteStart is the start of the generated data set; its events span 26 h.
var SuiteStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const suiteSpan = 26 * time.Hour

// Run is the store contract's conformance suite. open returns an empty
// engine that stores every statement (store.Policy{AllStatements: true})
// and implements Flusher; the suite closes it. The same generated events
// and a few hand-made ones (whole detections, hostile values) go in, and
// every answer of the Querier is compared against a brute-force
// evaluation over the events that went in.
func Run(t *testing.T, open func(t *testing.T) store.Engine, opts Options) {
	if opts.N <= 0 {
		opts.N = 20000
	}
	e := open(t)
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	fl, ok := e.(Flusher)
	if !ok {
		t.Fatalf("engine %T does not implement storetest.Flusher", e)
	}
	d := load(t, e, fl, opts.N)
	t.Run("Events", func(t *testing.T) { testEvents(t, e, d) })
	t.Run("Event", func(t *testing.T) { testEvent(t, e, d) })
	t.Run("Hostile", func(t *testing.T) { testHostile(t, e, d) })
	t.Run("Aggregations", func(t *testing.T) { testAggregations(t, e, d, opts) })
	t.Run("SeriesTop", func(t *testing.T) { testSeriesTop(t, e, d) })
	t.Run("Detections", func(t *testing.T) { testDetections(t, e, d) })
	t.Run("Findings", func(t *testing.T) { testFindings(t, e) })
	t.Run("Drift", func(t *testing.T) { testDrift(t, e) })
	t.Run("Integrity", func(t *testing.T) { testIntegrity(t, e, d) })
	t.Run("BadParams", func(t *testing.T) { testBadParams(t, e) })
	t.Run("Stats", func(t *testing.T) {
		if st := e.Stats(); st.Stored != int64(len(d.events)) || st.Dropped != 0 {
			t.Fatalf("stats: stored %d, dropped %d; want %d stored, 0 dropped", st.Stored, st.Dropped, len(d.events))
		}
	})
}

// data is what went in.
type data struct {
	events []*event.Event
	dets   []store.Detection // every detection, as stored
	byID   map[string]*event.Event
}

// HostileUser and HostileStatement are values that try to change the
// structure of a query in any query language (quotes, backslashes,
// operators, pipes, comments, wildcards, newlines).
const (
	HostileUser      = `x" or user:* | delete ' OR 1=1 -- \" *`
	HostileStatement = "SELECT '\"); DROP TABLE events; --' AS `x` /* * | stats count() */ FROM t WHERE a = '\\' OR \"\n\" = 'é'"
)

// HandMade returns the hand-made events: one carrying two whole
// detections, one with hostile values, all inside the generated span.
func HandMade(ids *event.IDGen) []*event.Event {
	t0 := SuiteStart.Add(3*time.Hour + 17*time.Minute + 4*time.Second + 321*time.Millisecond)
	hits := &event.Event{
		Time: t0, Source: "mariadb-1", System: event.SystemMariaDB, Format: "mariadb-audit",
		Category: event.CategoryLogin, Action: event.ActionConnect, Outcome: event.OutcomeSuccess,
		User: "mallory", ClientIP: "192.0.2.7", ClientPort: 40001, ConnectionID: "77",
		Detections: []string{"brute_force_success", "new_client_ip"}, Raw: "CONNECT mallory@192.0.2.7",
	}
	hits.ID = ids.Next(hits.Time)
	hits.Hits = []event.Detection{
		{Time: t0, RuleID: "D05", Rule: "brute_force_success", Title: "Successful login after failures", Severity: "critical",
			Message: "mallory logged in after 12 failures", Source: "mariadb-1", User: "mallory", ClientIP: "192.0.2.7",
			Entity: "user mallory@192.0.2.7", EventID: hits.ID, Evidence: []string{hits.ID}},
		{Time: t0, RuleID: "D09", Rule: "new_client_ip", Title: "Login from a new client IP", Severity: "info",
			Message: "first login from 192.0.2.7", Source: "mariadb-1", User: "mallory", ClientIP: "192.0.2.7",
			Entity: "user mallory", EventID: hits.ID, Evidence: []string{hits.ID}},
	}
	hostile := &event.Event{
		Time: t0.Add(time.Minute), Source: "tidb-1-audit", System: event.SystemTiDB, Format: "tidb-audit",
		Category: event.CategoryDDL, Action: event.ActionDropTable, Outcome: event.OutcomeFailure,
		User: HostileUser, ClientIP: "10.9.9.9", Statement: HostileStatement, Digest: `d" | delete`,
		ConnectionID: `c"1`, Objects: []string{`shop."x"`}, Raw: HostileStatement, Reason: "denied \\ \"quoted\"",
	}
	hostile.ID = ids.Next(hostile.Time)
	return []*event.Event{hits, hostile}
}

func load(t *testing.T, e store.Engine, fl Flusher, n int) *data {
	t.Helper()
	ctx := context.Background()
	d := &data{byID: map[string]*event.Event{}}
	g := New(42, SuiteStart, suiteSpan, n)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		d.events = append(d.events, ev.Clone())
		e.Consume(ev)
	}
	for _, ev := range HandMade(event.NewIDGen()) {
		d.events = append(d.events, ev.Clone())
		e.Consume(ev)
	}
	for _, ev := range d.events {
		d.byID[ev.ID] = ev
		if len(ev.Hits) > 0 {
			d.dets = append(d.dets, ev.Hits...)
			continue
		}
		for _, r := range ev.Detections {
			d.dets = append(d.dets, store.Detection{Time: ev.Time, Rule: r, Source: ev.Source, User: ev.User, ClientIP: ev.ClientIP, EventID: ev.ID})
		}
	}
	var ds []store.Detection
	sev := store.DetectionSeverities()
	for i := range 25 {
		ds = append(ds, store.Detection{Time: SuiteStart.Add(time.Duration(i)*time.Hour + 5*time.Second), RuleID: fmt.Sprintf("D%02d", 20+i%3),
			Rule: fmt.Sprintf("rule_%d", i%3), Severity: sev[i%3], Source: "tidb-2-audit", User: User(i % 4), ClientIP: IP(i % 2),
			Message: fmt.Sprintf("burst %d", i), Entity: "user " + User(i%4)})
	}
	if err := e.AddDetections(ctx, ds); err != nil {
		t.Fatal(err)
	}
	d.dets = append(d.dets, ds...)
	if err := fl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Stats().Stored; got != int64(len(d.events)) {
		t.Fatalf("stored %d events, want %d", got, len(d.events))
	}
	return d
}

// Matches is the brute-force evaluation of a filter.
func Matches(f *store.Filter, ev *event.Event) bool {
	if !f.From.IsZero() && ev.Time.Before(f.From) || !f.To.IsZero() && !ev.Time.Before(f.To) {
		return false
	}
	in := func(vs []string, v string) bool { return len(vs) == 0 || slices.Contains(vs, v) }
	if !in(f.Source, ev.Source) || !in(f.User, ev.User) || !in(f.ClientIP, ev.ClientIP) || !in(f.Digest, ev.Digest) || !in(f.ConnectionID, ev.ConnectionID) {
		return false
	}
	if len(f.Category) > 0 && !slices.Contains(f.Category, ev.Category) || len(f.Outcome) > 0 && !slices.Contains(f.Outcome, ev.Outcome) ||
		len(f.Action) > 0 && !slices.Contains(f.Action, ev.Action) || len(f.System) > 0 && !slices.Contains(f.System, ev.System) {
		return false
	}
	if len(f.Rule) > 0 && !slices.ContainsFunc(f.Rule, func(r string) bool { return slices.Contains(ev.Detections, r) }) {
		return false
	}
	if f.Q != "" && !strings.Contains(strings.ToLower(ev.Statement), strings.ToLower(f.Q)) && !strings.Contains(strings.ToLower(ev.Raw), strings.ToLower(f.Q)) {
		return false
	}
	if n := f.Not; n != nil {
		has := func(vs []string, v string) bool { return slices.Contains(vs, v) }
		if has(n.Source, ev.Source) || has(n.User, ev.User) || has(n.ClientIP, ev.ClientIP) || has(n.Digest, ev.Digest) || has(n.ConnectionID, ev.ConnectionID) ||
			slices.Contains(n.Category, ev.Category) || slices.Contains(n.Outcome, ev.Outcome) || slices.Contains(n.Action, ev.Action) || slices.Contains(n.System, ev.System) ||
			slices.ContainsFunc(n.Rule, func(r string) bool { return slices.Contains(ev.Detections, r) }) {
			return false
		}
	}
	return true
}

// tr returns millisecond-aligned bounds (engines may filter at
// millisecond precision).
func tr(h0, m0, h1, m1 int) (time.Time, time.Time) {
	return SuiteStart.Add(time.Duration(h0)*time.Hour + time.Duration(m0)*time.Minute + 1234*time.Millisecond),
		SuiteStart.Add(time.Duration(h1)*time.Hour + time.Duration(m1)*time.Minute + 777*time.Millisecond)
}

// Filters are the filters every engine must answer exactly, one of each kind.
func Filters(d *data) map[string]store.Filter {
	from, to := tr(1, 7, 20, 33)
	conn := ""
	for _, ev := range d.events {
		if ev.ConnectionID != "" && ev.User == User(0) && ev.Time.After(from) && ev.Time.Before(to) {
			conn = ev.ConnectionID
			break
		}
	}
	return map[string]store.Filter{
		"all":              {},
		"range":            {From: from, To: to},
		"login failures":   {From: from, To: to, Category: []event.Category{event.CategoryLogin}, Outcome: []event.Outcome{event.OutcomeFailure}},
		"user":             {From: from, To: to, User: []string{User(0), User(3)}},
		"client_ip":        {ClientIP: []string{IP(2)}},
		"digest":           {Digest: []string{Digest(7)}},
		"source+action":    {From: from, To: to, Source: []string{"tidb-1-audit"}, Action: []event.Action{event.ActionUpdate}},
		"system":           {System: []event.System{event.SystemTDengine}, Category: []event.Category{event.CategoryDDL}},
		"rule":             {Rule: []string{"D01"}},
		"rules":            {Rule: []string{"brute_force_success", "D01"}},
		"q":                {From: from, To: from.Add(2 * time.Hour), Q: "FROM payments"},
		"q case":           {Q: "sEt SeSsIoN sql_mode"},
		"unknown user":     {User: []string{"nobody"}},
		"user and unknown": {User: []string{User(1), "nobody"}},
		"connection":       {ConnectionID: []string{conn}},
		"not user":         {From: from, To: to, Not: &store.Filter{User: []string{User(0)}}},
		"not outcome":      {Category: []event.Category{event.CategoryLogin, event.CategoryRead}, Not: &store.Filter{Outcome: []event.Outcome{event.OutcomeFailure}}},
		"not connection":   {User: []string{User(0)}, Not: &store.Filter{ConnectionID: []string{conn}}},
		"not rule":         {Category: []event.Category{event.CategoryLogin}, Not: &store.Filter{Rule: []string{"D01"}, Source: []string{"mariadb-1"}}},
		"not unknown":      {Not: &store.Filter{User: []string{"nobody-ever"}}},
	}
}

func allEvents(t *testing.T, e store.Engine, f store.Filter, limit int) []*event.Event {
	t.Helper()
	var got []*event.Event
	q := store.EventQuery{Filter: f, Limit: limit}
	for pages := 0; ; pages++ {
		p, err := e.Events(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) > max(limit, 1) {
			t.Fatalf("page of %d events, limit %d", len(p.Events), limit)
		}
		got = append(got, p.Events...)
		if p.Next == "" {
			return got
		}
		if pages > 10000 {
			t.Fatal("too many pages")
		}
		q.Cursor = p.Next
	}
}

func testEvents(t *testing.T, e store.Engine, d *data) {
	for name, f := range Filters(d) {
		t.Run(name, func(t *testing.T) {
			var want []string
			for _, ev := range d.events {
				if Matches(&f, ev) {
					want = append(want, ev.ID)
				}
			}
			if len(want) == 0 && !strings.Contains(name, "unknown") {
				t.Fatalf("filter %q selects no generated event: the test data is wrong", name)
			}
			limit := 997
			if len(want) < 3000 {
				limit = 61
			}
			got := allEvents(t, e, f, limit)
			var gotIDs []string
			for i, ev := range got {
				if i > 0 && ev.Time.After(got[i-1].Time) {
					t.Fatalf("not newest first at %d: %v after %v", i, ev.Time, got[i-1].Time)
				}
				if !Matches(&f, ev) {
					t.Fatalf("event %s does not match: %+v", ev.ID, ev)
				}
				gotIDs = append(gotIDs, ev.ID)
			}
			slices.Sort(want)
			slices.Sort(gotIDs)
			if !slices.Equal(want, gotIDs) {
				t.Fatalf("want %d events, got %d (distinct %d)", len(want), len(gotIDs), len(slices.Compact(slices.Clone(gotIDs))))
			}
		})
	}
}

// sameEvent compares a stored event with the one that went in.
func sameEvent(want, got *event.Event) error {
	w := want.Clone()
	w.Hits = nil
	g := got.Clone()
	if !w.Time.Equal(g.Time) {
		return fmt.Errorf("time %v, want %v", g.Time, w.Time)
	}
	w.Time, g.Time = time.Time{}, time.Time{}
	ws, gs := fmt.Sprintf("%+v", *w), fmt.Sprintf("%+v", *g)
	if ws != gs {
		return fmt.Errorf("\nwant %s\ngot  %s", ws, gs)
	}
	return nil
}

func testEvent(t *testing.T, e store.Engine, d *data) {
	ctx := context.Background()
	n := len(d.events)
	for _, i := range []int{0, 1, 777 % n, n / 2, n - 3, n - 2, n - 1} {
		want := d.events[i]
		got, err := e.Event(ctx, want.ID)
		if err != nil {
			t.Fatalf("event %d (%s): %v", i, want.ID, err)
		}
		if err := sameEvent(want, got); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
	for _, id := range []string{"019b7726e3a0ed3600001385", "' OR 1=1 --", `" or * | limit 1`, "", "*"} {
		if _, err := e.Event(ctx, id); err != store.ErrNotFound {
			t.Errorf("id %q: want ErrNotFound, got %v", id, err)
		}
	}
}

// testHostile: values that are meant to change the query find exactly
// what they equal, and hostile values that match nothing find nothing.
func testHostile(t *testing.T, e store.Engine, d *data) {
	var hostile *event.Event
	for _, ev := range d.events {
		if ev.User == HostileUser {
			hostile = ev
		}
	}
	for name, f := range map[string]store.Filter{
		"user":       {User: []string{HostileUser}},
		"digest":     {Digest: []string{`d" | delete`}},
		"connection": {ConnectionID: []string{`c"1`}},
		"q":          {Q: `'"); DROP TABLE events; --'`},
		"q star":     {Q: "/* * | stats count() */"},
		"q newline":  {Q: "\"\n\""},
	} {
		got := allEvents(t, e, f, 10)
		if len(got) != 1 || got[0].ID != hostile.ID {
			t.Errorf("%s: want the hostile event only, got %d events", name, len(got))
			continue
		}
		if err := sameEvent(hostile, got[0]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Bounded in time: some engines scan for Q and ConnectionID.
	from, to := tr(5, 0, 6, 0)
	for _, v := range []string{`*`, `" or *`, `nobody") or user:*`, `\`, `"`, `'`, `a\" | limit 1`, "|", "x\ny", `.*`, `(?i).`} {
		for name, f := range map[string]store.Filter{
			"user": {User: []string{v}}, "source": {Source: []string{v}}, "rule": {Rule: []string{v}}, "connection": {From: from, To: to, ConnectionID: []string{v}},
			"q": {From: from, To: to, Q: v + "no-such-text-anywhere"}, "not": {User: []string{v}, Not: &store.Filter{User: []string{v}}},
		} {
			if got := allEvents(t, e, f, 10); len(got) != 0 {
				t.Errorf("%s %q matched %d events", name, v, len(got))
			}
			top, err := e.Top(context.Background(), store.TopQuery{Filter: f, By: store.DimUser, Limit: 5})
			if err != nil || len(top.Items) != 0 {
				t.Errorf("top with %s %q: %+v %v", name, v, top, err)
			}
		}
		// An exclusion of a hostile value excludes nothing.
		f := store.Filter{Category: []event.Category{event.CategoryDDL}, Not: &store.Filter{User: []string{v}, Rule: []string{v}}}
		want := 0
		for _, ev := range d.events {
			if Matches(&f, ev) {
				want++
			}
		}
		if got := allEvents(t, e, f, 1000); len(got) != want {
			t.Errorf("not %q: %d events, want %d", v, len(got), want)
		}
	}
}

// DimValues are the values of dimension dim of ev.
func DimValues(ev *event.Event, dim store.Dimension) []string {
	switch dim {
	case store.DimSource:
		return []string{ev.Source}
	case store.DimSystem:
		return []string{ev.System.String()}
	case store.DimCategory:
		return []string{ev.Category.String()}
	case store.DimOutcome:
		return []string{ev.Outcome.String()}
	case store.DimAction:
		return []string{ev.Action.String()}
	case store.DimUser:
		return []string{ev.User}
	case store.DimClientIP:
		return []string{ev.ClientIP}
	case store.DimDigest:
		return []string{ev.Digest}
	case store.DimRule:
		return ev.Detections
	}
	return nil
}

func testAggregations(t *testing.T, e store.Engine, d *data, opts Options) {
	ctx := context.Background()
	everything := map[store.Dimension]map[string]bool{}
	for _, dim := range store.Dimensions() {
		everything[dim] = map[string]bool{}
		for _, ev := range d.events {
			for _, v := range DimValues(ev, dim) {
				everything[dim][v] = true
			}
		}
	}
	if opts.ApproxValues {
		// Engines that keep one dictionary for events and detections may
		// list the values of detections too.
		for _, x := range d.dets {
			everything[store.DimRule][x.Rule] = true
			everything[store.DimUser][x.User] = true
			everything[store.DimSource][x.Source] = true
			everything[store.DimClientIP][x.ClientIP] = true
		}
	}
	for fname, f := range Filters(d) {
		// Q and ConnectionID may be evaluated by scanning records: fewer
		// groupings for them keep the suite fast.
		scan := f.Q != "" || len(f.ConnectionID) > 0 || f.Not != nil && len(f.Not.ConnectionID) > 0
		for _, by := range []store.Dimension{store.DimCategory, store.DimUser, store.DimRule, store.DimDigest, ""} {
			for _, step := range []time.Duration{time.Minute, 90 * time.Second, time.Hour} {
				if by == store.DimUser && step == 90*time.Second || scan && (step != time.Minute || by == store.DimDigest || by == store.DimRule) {
					continue
				}
				want := map[string]map[int64]int64{}
				for _, ev := range d.events {
					if !Matches(&f, ev) {
						continue
					}
					vals := []string{""}
					if by != "" {
						vals = DimValues(ev, by)
					}
					for _, v := range vals {
						if by == store.DimRule && len(f.Rule) > 0 && !slices.Contains(f.Rule, v) {
							continue // grouped by rule, only the rules asked for
						}
						if want[v] == nil {
							want[v] = map[int64]int64{}
						}
						ms := ev.Time.UnixMilli()
						want[v][ms-ms%step.Milliseconds()]++
					}
				}
				res, err := e.Series(ctx, store.SeriesQuery{Filter: f, Step: step, By: by})
				if err != nil {
					t.Fatalf("%s by %s step %v: %v", fname, by, step, err)
				}
				got := map[string]map[int64]int64{}
				for i, sr := range res.Series {
					got[sr.Value] = map[int64]int64{}
					var total int64
					for j, p := range sr.Points {
						got[sr.Value][p.Time.UnixMilli()] = p.Count
						total += p.Count
						if j > 0 && !p.Time.After(sr.Points[j-1].Time) {
							t.Fatalf("%s by %q step %v: points of %q not in time order", fname, by, step, sr.Value)
						}
					}
					if total != sr.Total {
						t.Fatalf("%s by %q: series %q total %d, points sum to %d", fname, by, sr.Value, sr.Total, total)
					}
					if i > 0 && sr.Total > res.Series[i-1].Total {
						t.Fatalf("%s by %q: series not ordered by total", fname, by)
					}
				}
				if fmt.Sprint(want) != fmt.Sprint(got) {
					t.Fatalf("%s by %q step %v: series differ\nwant %d series %v\ngot  %d series %v", fname, by, step, len(want), clip(want), len(got), clip(got))
				}
				if by == "" || step != time.Minute {
					continue
				}
				type vc struct {
					v string
					n int64
				}
				var tw []vc
				for v, m := range want {
					var n int64
					for _, c := range m {
						n += c
					}
					tw = append(tw, vc{v, n})
				}
				sort.Slice(tw, func(i, j int) bool { return tw[i].n > tw[j].n || tw[i].n == tw[j].n && tw[i].v < tw[j].v })
				top, err := e.Top(ctx, store.TopQuery{Filter: f, By: by, Limit: 5})
				if err != nil {
					t.Fatal(err)
				}
				if top.By != by || len(top.Items) != min(5, len(tw)) {
					t.Fatalf("%s top %s: want %d items, got %+v", fname, by, min(5, len(tw)), top)
				}
				for i, it := range top.Items {
					if it.Count != tw[i].n || want[it.Value] == nil {
						t.Fatalf("%s top %s #%d: got %+v, want count %d (want %v)", fname, by, i, it, tw[i].n, tw[:min(5, len(tw))])
					}
				}
				vals, err := e.Values(ctx, store.ValuesQuery{Filter: f, Field: by, Limit: 10000})
				if err != nil {
					t.Fatal(err)
				}
				for v := range want {
					if v != "" && !slices.Contains(vals, v) {
						t.Fatalf("%s values %s: %q missing", fname, by, v)
					}
				}
				for _, v := range vals {
					if v == "" || !everything[by][v] || !opts.ApproxValues && want[v] == nil {
						t.Fatalf("%s values %s: %q was not asked for", fname, by, v)
					}
				}
				if !slices.IsSorted(vals) {
					t.Fatalf("%s values %s: not sorted", fname, by)
				}
			}
		}
	}
	// Values with a limit.
	vals, err := e.Values(ctx, store.ValuesQuery{Field: store.DimUser, Limit: 7})
	if err != nil || len(vals) != 7 {
		t.Fatalf("values limit 7: %v %v", vals, err)
	}
}

func clip(m map[string]map[int64]int64) string {
	s := fmt.Sprint(m)
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

func testSeriesTop(t *testing.T, e store.Engine, d *data) {
	totals := map[string]int64{}
	for _, ev := range d.events {
		totals[ev.User]++
	}
	res, err := e.Series(context.Background(), store.SeriesQuery{Step: time.Hour, By: store.DimUser, Top: 3})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, n := range totals {
		want = append(want, n)
	}
	slices.Sort(want)
	slices.Reverse(want)
	if len(res.Series) != 3 {
		t.Fatalf("want the 3 busiest users, got %d series", len(res.Series))
	}
	for i, sr := range res.Series {
		if sr.Total != totals[sr.Value] || sr.Total != want[i] {
			t.Errorf("series %d: user %q total %d; want the user's total %d and the %d. highest total %d", i, sr.Value, sr.Total, totals[sr.Value], i+1, want[i])
		}
	}
}

func detKey(x store.Detection) string {
	return fmt.Sprintf("%d|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%v", x.Time.UnixMilli(), x.Rule, x.RuleID, x.Title, x.Severity, x.Message, x.Source, x.User, x.ClientIP, x.Entity, x.EventID, x.Evidence)
}

func testDetections(t *testing.T, e store.Engine, d *data) {
	ctx := context.Background()
	from, to := tr(2, 0, 14, 0)
	for name, q := range map[string]store.DetectionQuery{
		"all":          {},
		"rule":         {Rule: []string{"D01"}},
		"rules":        {Rule: []string{"rule_1", "brute_force_success"}},
		"severity":     {Severity: []string{"critical"}},
		"severities":   {Severity: []string{"info", "warning"}, From: from, To: to},
		"source":       {Source: []string{"tidb-2-audit"}},
		"user":         {User: []string{User(1), "mallory"}},
		"client_ip":    {ClientIP: []string{IP(1)}, Rule: []string{"rule_1", "rule_2"}},
		"range":        {From: from, To: to},
		"unknown rule": {Rule: []string{`nope" or *`}},
	} {
		t.Run(name, func(t *testing.T) {
			in := func(vs []string, v string) bool { return len(vs) == 0 || slices.Contains(vs, v) }
			var want []string
			for _, x := range d.dets {
				if (q.From.IsZero() || !x.Time.Before(q.From)) && (q.To.IsZero() || x.Time.Before(q.To)) && in(q.Rule, x.Rule) &&
					in(q.Severity, x.Severity) && in(q.Source, x.Source) && in(q.User, x.User) && in(q.ClientIP, x.ClientIP) {
					want = append(want, detKey(x))
				}
			}
			var got []string
			var prev time.Time
			seen := map[string]bool{}
			q.Limit = 7
			for pages := 0; ; pages++ {
				p, err := e.Detections(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range p.Detections {
					if !prev.IsZero() && x.Time.After(prev) {
						t.Fatalf("not newest first")
					}
					prev = x.Time
					if x.ID == "" || seen[x.ID] {
						t.Fatalf("detection id %q empty or seen before", x.ID)
					}
					seen[x.ID] = true
					x.ID = ""
					got = append(got, detKey(x))
				}
				if p.Next == "" || pages > 1000 {
					break
				}
				q.Cursor = p.Next
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				t.Fatalf("want %d detections, got %d\nwant %.600v\ngot  %.600v", len(want), len(got), want, got)
			}
			if len(want) == 0 && name != "unknown rule" {
				t.Fatal("the filter selects no detection: the test data is wrong")
			}
		})
	}
	// Evidence resolves.
	p, err := e.Detections(ctx, store.DetectionQuery{Rule: []string{"brute_force_success"}})
	if err != nil || len(p.Detections) != 1 {
		t.Fatalf("brute_force_success: %+v %v", p, err)
	}
	for _, id := range p.Detections[0].Evidence {
		if _, err := e.Event(ctx, id); err != nil {
			t.Errorf("evidence %s: %v", id, err)
		}
	}
}

func testFindings(t *testing.T, e store.Engine) {
	ctx := context.Background()
	at := SuiteStart.Add(time.Hour)
	fs := []finding.Finding{
		{RuleID: "TIDB-001", Severity: finding.High, Status: finding.Fail, Message: "tls off"},
		{RuleID: "TIDB-002", Severity: finding.Low, Status: finding.Pass, Message: "ok"},
		{RuleID: "TIDB-003", Severity: finding.Medium, Status: finding.Fail, Message: "audit log \"off\""},
	}
	if err := e.PutFindings(ctx, "tidb-1", at, fs); err != nil {
		t.Fatal(err)
	}
	if err := e.PutFindings(ctx, "tidb-1", at, []finding.Finding{fs[0], fs[2]}); err != nil { // replaces
		t.Fatal(err)
	}
	rd := []finding.Finding{
		{RuleID: "REDASH-001", Severity: finding.Critical, Status: finding.Fail, Message: "secret key default"},
		{RuleID: "REDASH-002", Severity: finding.Info, Status: finding.Unknown, Message: "?"},
	}
	if err := e.PutFindings(ctx, "redash", at, rd); err != nil {
		t.Fatal(err)
	}
	if err := e.PutFindings(ctx, "taos", at, rd[:1]); err != nil {
		t.Fatal(err)
	}
	if err := e.PutFindings(ctx, "taos", at.Add(time.Minute), nil); err != nil { // all clear
		t.Fatal(err)
	}
	if fl, ok := e.(Flusher); ok {
		if err := fl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	all := func(q store.FindingQuery) []string {
		var out []string
		q.Limit = 2
		for pages := 0; ; pages++ {
			p, err := e.Findings(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Findings) > 2 {
				t.Fatalf("page of %d", len(p.Findings))
			}
			for _, f := range p.Findings {
				out = append(out, f.Target+"/"+f.RuleID+"/"+string(f.Status)+"/"+f.Message)
			}
			if p.Next == "" || pages > 100 {
				break
			}
			q.Cursor = p.Next
		}
		slices.Sort(out)
		return out
	}
	for name, tc := range map[string]struct {
		q    store.FindingQuery
		want []string
	}{
		"all":      {store.FindingQuery{}, []string{"redash/REDASH-001/fail/secret key default", "redash/REDASH-002/unknown/?", "tidb-1/TIDB-001/fail/tls off", "tidb-1/TIDB-003/fail/audit log \"off\""}},
		"target":   {store.FindingQuery{Target: []string{"tidb-1"}}, []string{"tidb-1/TIDB-001/fail/tls off", "tidb-1/TIDB-003/fail/audit log \"off\""}},
		"replaced": {store.FindingQuery{Severity: []finding.Severity{finding.Low}}, nil},
		"cleared":  {store.FindingQuery{Target: []string{"taos"}}, nil},
		"status":   {store.FindingQuery{Status: []finding.Status{finding.Unknown}}, []string{"redash/REDASH-002/unknown/?"}},
		"severity": {store.FindingQuery{Severity: []finding.Severity{finding.Critical, finding.Medium}}, []string{"redash/REDASH-001/fail/secret key default", "tidb-1/TIDB-003/fail/audit log \"off\""}},
		"rule":     {store.FindingQuery{Rule: []string{"TIDB-001"}}, []string{"tidb-1/TIDB-001/fail/tls off"}},
		"hostile":  {store.FindingQuery{Target: []string{`tidb-1" or *`}}, nil},
	} {
		if got := all(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", name, got, tc.want)
		}
	}
}

func testDrift(t *testing.T, e store.Engine) {
	ctx := context.Background()
	var cs []store.DriftChange
	for i := range 5 {
		cs = append(cs, store.DriftChange{Target: "tidb-1", Kind: "tidb", Path: "/etc/tidb.toml", Key: fmt.Sprintf("k%d", i), Change: "changed", Old: "a", New: "b",
			Time: SuiteStart.Add(time.Duration(i) * time.Second)})
	}
	cs = append(cs, store.DriftChange{Target: "redash", Key: "REDASH_SECRET_KEY", Change: "changed", Secret: true, Old: "s1", New: "s2", OldHMAC: "aa", NewHMAC: "bb"})
	if err := e.AddDriftChanges(ctx, SuiteStart.Add(time.Hour), cs); err != nil {
		t.Fatal(err)
	}
	if fl, ok := e.(Flusher); ok {
		if err := fl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	q := store.DriftQuery{Target: []string{"tidb-1"}, Limit: 2}
	for pages := 0; ; pages++ {
		dp, err := e.DriftChanges(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(dp.Changes) > 2 {
			t.Fatalf("page of %d", len(dp.Changes))
		}
		for _, c := range dp.Changes {
			if c.Target != "tidb-1" || c.Old != "a" || c.New != "b" || c.Path != "/etc/tidb.toml" {
				t.Fatalf("change: %+v", c)
			}
			keys = append(keys, c.Key)
		}
		if dp.Next == "" || pages > 10 {
			break
		}
		q.Cursor = dp.Next
	}
	if strings.Join(keys, ",") != "k4,k3,k2,k1,k0" {
		t.Fatalf("drift changes newest first: got %v", keys)
	}
	dp, err := e.DriftChanges(ctx, store.DriftQuery{Target: []string{"redash"}})
	if err != nil || len(dp.Changes) != 1 || dp.Changes[0].Old != "" || dp.Changes[0].New != "" || dp.Changes[0].NewHMAC != "bb" ||
		!dp.Changes[0].Time.Equal(SuiteStart.Add(time.Hour)) {
		t.Fatalf("secret drift change: %+v %v", dp, err)
	}
	from := SuiteStart.Add(1500 * time.Millisecond)
	dp, err = e.DriftChanges(ctx, store.DriftQuery{From: from, To: from.Add(2 * time.Second)})
	if err != nil || len(dp.Changes) != 2 || dp.Changes[0].Key != "k3" || dp.Changes[1].Key != "k2" {
		t.Fatalf("drift changes in a range: %+v %v", dp, err)
	}
}

func testIntegrity(t *testing.T, e store.Engine, d *data) {
	ctx := context.Background()
	n := int64(len(d.events))
	rep, err := e.Integrity(ctx, store.IntegrityQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Checked != n || rep.Start != 1 || rep.End != n || rep.Head == "" {
		t.Fatalf("want a verified chain of %d, got %+v %+v", n, rep, rep.FirstBreak)
	}
	part, err := e.Integrity(ctx, store.IntegrityQuery{Start: 100, End: 1099})
	if err != nil || !part.OK || part.Checked != 1000 || part.Start != 100 || part.End != 1099 {
		t.Fatalf("range: %+v %v", part, err)
	}
	tail, err := e.Integrity(ctx, store.IntegrityQuery{Start: n - 9})
	if err != nil || !tail.OK || tail.Checked != 10 || tail.Head != rep.Head {
		t.Fatalf("tail: %+v %v (head %s)", tail, err, rep.Head)
	}
}

func testBadParams(t *testing.T, e store.Engine) {
	ctx := context.Background()
	var pe *store.ParamError
	check := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if !asParamError(err, &pe) {
			t.Errorf("%s: want a *store.ParamError, got %T %v", name, err, err)
		}
	}
	_, err := e.Events(ctx, store.EventQuery{Cursor: "garbage"})
	check("events cursor", err)
	_, err = e.Events(ctx, store.EventQuery{Cursor: `" or * | limit 1`})
	check("events hostile cursor", err)
	_, err = e.Detections(ctx, store.DetectionQuery{Cursor: "garbage"})
	check("detections cursor", err)
	_, err = e.Findings(ctx, store.FindingQuery{Cursor: "garbage"})
	check("findings cursor", err)
	_, err = e.DriftChanges(ctx, store.DriftQuery{Cursor: "garbage"})
	check("drift cursor", err)
	_, err = e.Series(ctx, store.SeriesQuery{Step: 0})
	check("series step", err)
	_, err = e.Series(ctx, store.SeriesQuery{Step: time.Minute, By: "password"})
	check("series by", err)
	_, err = e.Top(ctx, store.TopQuery{By: "password"})
	check("top by", err)
	_, err = e.Values(ctx, store.ValuesQuery{Field: `user) | delete`})
	check("values field", err)
}

func asParamError(err error, pe **store.ParamError) bool {
	for err != nil {
		if p, ok := err.(*store.ParamError); ok {
			*pe = p
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
