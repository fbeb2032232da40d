package sqlite

import (
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/storetest"
)

var (
	testStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	testSpan  = 26 * time.Hour
)

// testN is the size of the shared data set: 30,000 events, or 3,000 under
// the race detector.
var testN = map[bool]int64{false: 30000, true: 3000}[raceEnabled]

func openTest(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "dbsec.db")
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// loaded returns a store with testN generated events and the events
// themselves (for brute-force expectations).
func loaded(t *testing.T) (*Store, []*event.Event) {
	t.Helper()
	s := openTest(t, Options{Policy: store.Policy{AllStatements: true}})
	g := storetest.New(42, testStart, testSpan, int(testN))
	var all []*event.Event
	for ev := g.Next(); ev != nil; ev = g.Next() {
		all = append(all, ev.Clone())
		s.Consume(ev)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Stored; got != testN {
		t.Fatalf("stored %d events, want %d", got, testN)
	}
	return s, all
}

func matches(f *store.Filter, ev *event.Event) bool {
	if !f.From.IsZero() && ev.Time.Before(f.From) || !f.To.IsZero() && !ev.Time.Before(f.To) {
		return false
	}
	in := func(vs []string, v string) bool { return len(vs) == 0 || slices.Contains(vs, v) }
	if !in(f.Source, ev.Source) || !in(f.User, ev.User) || !in(f.ClientIP, ev.ClientIP) || !in(f.Digest, ev.Digest) {
		return false
	}
	if len(f.Category) > 0 && !slices.Contains(f.Category, ev.Category) || len(f.Outcome) > 0 && !slices.Contains(f.Outcome, ev.Outcome) ||
		len(f.Action) > 0 && !slices.Contains(f.Action, ev.Action) || len(f.System) > 0 && !slices.Contains(f.System, ev.System) {
		return false
	}
	if len(f.Rule) > 0 {
		ok := false
		for _, r := range f.Rule {
			ok = ok || slices.Contains(ev.Detections, r)
		}
		if !ok {
			return false
		}
	}
	if f.Q != "" && !strings.Contains(strings.ToLower(ev.Statement), strings.ToLower(f.Q)) && !strings.Contains(strings.ToLower(ev.Raw), strings.ToLower(f.Q)) {
		return false
	}
	return true
}

// Millisecond-aligned bounds, because the store filters at millisecond
// precision.
func tr(h0, m0, h1, m1 int) (time.Time, time.Time) {
	return testStart.Add(time.Duration(h0)*time.Hour + time.Duration(m0)*time.Minute + 1234*time.Millisecond),
		testStart.Add(time.Duration(h1)*time.Hour + time.Duration(m1)*time.Minute + 777*time.Millisecond)
}

func testFilters() map[string]store.Filter {
	from, to := tr(1, 7, 20, 33)
	return map[string]store.Filter{
		"all":              {},
		"range":            {From: from, To: to},
		"login failures":   {From: from, To: to, Category: []event.Category{event.CategoryLogin}, Outcome: []event.Outcome{event.OutcomeFailure}},
		"user":             {From: from, To: to, User: []string{storetest.User(0), storetest.User(3)}},
		"client_ip":        {ClientIP: []string{storetest.IP(2)}},
		"digest":           {Digest: []string{storetest.Digest(7)}},
		"source+action":    {From: from, To: to, Source: []string{"tidb-1-audit"}, Action: []event.Action{event.ActionUpdate}},
		"system":           {System: []event.System{event.SystemTDengine}, Category: []event.Category{event.CategoryDDL}},
		"rule":             {Rule: []string{"D01"}},
		"q":                {From: from, To: from.Add(2 * time.Hour), Q: "FROM payments"},
		"unknown user":     {User: []string{"nobody"}},
		"user and unknown": {User: []string{storetest.User(1), "nobody"}},
	}
}

func TestEventsFiltersAndPaging(t *testing.T) {
	s, all := loaded(t)
	ctx := context.Background()
	for name, f := range testFilters() {
		t.Run(name, func(t *testing.T) {
			want := 0
			for _, ev := range all {
				if matches(&f, ev) {
					want++
				}
			}
			var got []*event.Event
			q := store.EventQuery{Filter: f, Limit: 997}
			for pages := 0; ; pages++ {
				p, err := s.Events(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, p.Events...)
				if p.Next == "" {
					break
				}
				if pages > 100 {
					t.Fatal("too many pages")
				}
				q.Cursor = p.Next
			}
			if len(got) != want {
				t.Fatalf("want %d events, got %d", want, len(got))
			}
			seen := map[string]bool{}
			for i, ev := range got {
				if seen[ev.ID] {
					t.Fatalf("event %s twice", ev.ID)
				}
				seen[ev.ID] = true
				if i > 0 && ev.Time.After(got[i-1].Time) {
					t.Fatalf("not newest first at %d", i)
				}
				if !matches(&f, ev) {
					t.Fatalf("event %s does not match", ev.ID)
				}
			}
		})
	}
}

func TestEventRoundTrip(t *testing.T) {
	s, all := loaded(t)
	ctx := context.Background()
	for _, i := range []int{0, 1, 777, int(testN) - 1} {
		want := all[i]
		got, err := s.Event(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		want.HasRows, want.HasDuration = got.HasRows, got.HasDuration
		wj, gj := fmt.Sprintf("%+v", *want), fmt.Sprintf("%+v", *got)
		if !want.Time.Equal(got.Time) || strings.Replace(wj, want.Time.String(), "", 1) != strings.Replace(gj, got.Time.String(), "", 1) {
			t.Errorf("event %d:\nwant %s\ngot  %s", i, wj, gj)
		}
	}
	if _, err := s.Event(ctx, "019b7726e3a0ed3600001385"); err != store.ErrNotFound {
		t.Errorf("unknown id: want ErrNotFound, got %v", err)
	}
	if _, err := s.Event(ctx, "' OR 1=1 --"); err != store.ErrNotFound {
		t.Errorf("bad id: want ErrNotFound, got %v", err)
	}
}

func dimValue(ev *event.Event, d store.Dimension) []string {
	switch d {
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

// TestAggregationsMatchBruteForce checks series, top and values (rollups
// plus raw edges, and the raw fallback) against counts over all events.
func TestAggregationsMatchBruteForce(t *testing.T) {
	s, all := loaded(t)
	ctx := context.Background()
	for fname, f := range testFilters() {
		for _, by := range []store.Dimension{store.DimCategory, store.DimUser, store.DimAction, store.DimRule, store.DimDigest, ""} {
			for _, step := range []time.Duration{time.Minute, 10 * time.Minute, 90 * time.Second} {
				want := map[string]map[int64]int64{}
				for _, ev := range all {
					if !matches(&f, ev) {
						continue
					}
					vals := []string{""}
					if by != "" {
						vals = dimValue(ev, by)
					}
					for _, v := range vals {
						if want[v] == nil {
							want[v] = map[int64]int64{}
						}
						ms := ev.Time.UnixMilli()
						want[v][ms-ms%step.Milliseconds()]++
					}
				}
				res, err := s.Series(ctx, store.SeriesQuery{Filter: f, Step: step, By: by})
				if err != nil {
					t.Fatalf("%s by %s step %v: %v", fname, by, step, err)
				}
				got := map[string]map[int64]int64{}
				for _, sr := range res.Series {
					got[sr.Value] = map[int64]int64{}
					for _, p := range sr.Points {
						got[sr.Value][p.Time.UnixMilli()] = p.Count
					}
				}
				if fmt.Sprint(want) != fmt.Sprint(got) {
					t.Fatalf("%s by %q step %v: series differ\nwant %d series %v\ngot  %d series %v", fname, by, step, len(want), clipS(want), len(got), clipS(got))
				}
				if by == "" || step != time.Minute {
					continue
				}
				// top
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
				top, err := s.Top(ctx, store.TopQuery{Filter: f, By: by, Limit: 5})
				if err != nil {
					t.Fatal(err)
				}
				for i, it := range top.Items {
					if it.Count != tw[i].n {
						t.Fatalf("%s top %s #%d: want count %d, got %+v (want %v)", fname, by, i, tw[i].n, it, tw[:min(5, len(tw))])
					}
				}
				if len(top.Items) != min(5, len(tw)) {
					t.Fatalf("%s top %s: want %d items, got %d", fname, by, min(5, len(tw)), len(top.Items))
				}
				// values: a superset at bucket precision, exact without range
				vals, err := s.Values(ctx, store.ValuesQuery{Filter: f, Field: by, Limit: 10000})
				if err != nil {
					t.Fatal(err)
				}
				for v := range want {
					if v != "" && !slices.Contains(vals, v) {
						t.Fatalf("%s values %s: %q missing", fname, by, v)
					}
				}
			}
		}
	}
}

func clipS(m map[string]map[int64]int64) string {
	s := fmt.Sprint(m)
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

func TestSeriesTop(t *testing.T) {
	s, _ := loaded(t)
	res, err := s.Series(context.Background(), store.SeriesQuery{Step: time.Hour, By: store.DimUser, Top: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Series) != 3 || res.Series[0].Value != storetest.User(0) {
		t.Fatalf("want the 3 busiest users, app_user_000 first, got %d series, first %q", len(res.Series), res.Series[0].Value)
	}
}

func tamper(t *testing.T, path, stmt string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt, args...); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrity(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, stmt string
		seq        int64
	}{
		{"none", "", 0},
		{"row field", "UPDATE events SET cat = 0 WHERE seq = 1234", 1234},
		{"user", "UPDATE events SET usr = (SELECT MAX(id) FROM dict WHERE k = 2) WHERE seq = 2000 AND usr <> (SELECT MAX(id) FROM dict WHERE k = 2)", 2000},
		{"hash", "UPDATE events SET h = zeroblob(32) WHERE seq = 3000", 3000},
		{"deleted", "DELETE FROM events WHERE seq = 4000", 4000},
		// A dictionary value is shared: the break is at the first event
		// that names the changed user, found below (-1).
		{"dictionary", "UPDATE dict SET v = 'mallory' WHERE id = (SELECT usr FROM events WHERE seq = 100)", -1},
		{"block", "UPDATE blocks SET data = (SELECT data FROM blocks WHERE id = 3) WHERE id = 2", 129},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			s := openTest(t, Options{Path: path, Policy: store.Policy{AllStatements: true}})
			g := storetest.New(1, testStart, time.Hour, 5000)
			for ev := g.Next(); ev != nil; ev = g.Next() {
				s.Consume(ev)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if tc.seq == -1 {
				if err := s.rdb.QueryRow(`SELECT MIN(seq) FROM events WHERE usr = (SELECT usr FROM events WHERE seq = 100)`).Scan(&tc.seq); err != nil {
					t.Fatal(err)
				}
				if tc.seq < 1 || tc.seq > 100 {
					t.Fatalf("first user of seq 100's user: %d", tc.seq)
				}
			}
			if tc.stmt != "" {
				tamper(t, path, tc.stmt)
			}
			rep, err := s.Integrity(ctx, store.IntegrityQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.seq == 0 {
				if !rep.OK || rep.Checked != 5000 {
					t.Fatalf("want a verified chain of 5000, got %+v", rep)
				}
				part, _ := s.Integrity(ctx, store.IntegrityQuery{Start: 100, End: 199})
				if !part.OK || part.Checked != 100 {
					t.Fatalf("range: %+v", part)
				}
				return
			}
			if rep.OK || rep.FirstBreak == nil || rep.FirstBreak.Seq != tc.seq {
				t.Fatalf("want a break at %d, got %+v %+v", tc.seq, rep, rep.FirstBreak)
			}
			// A range before the change still verifies.
			part, _ := s.Integrity(ctx, store.IntegrityQuery{Start: 1, End: tc.seq - 1})
			if !part.OK {
				t.Fatalf("range before the break: %+v", part.FirstBreak)
			}
		})
	}
}

// TestCrashRecovery kills a writing child process with SIGKILL; the store
// then opens and the chain verifies up to the last committed event.
func TestCrashRecovery(t *testing.T) {
	if path := os.Getenv("DBSEC_STORE_CRASH_CHILD"); path != "" {
		s, err := Open(Options{Path: path, Policy: store.Policy{AllStatements: true}, BatchSize: 500, FlushInterval: 10 * time.Millisecond})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(3)
		}
		g := storetest.New(9, testStart, 24*time.Hour, 1<<30)
		for i := 0; ; i++ {
			s.Consume(g.Next())
			if i == 2000 {
				_ = s.Flush(context.Background())
				fmt.Println("ready")
			}
		}
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$")
	cmd.Env = append(os.Environ(), "DBSEC_STORE_CRASH_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !bytes.Contains(buf[:n], []byte("ready")) {
		_ = cmd.Process.Kill()
		t.Fatalf("child: %q", buf[:n])
	}
	time.Sleep(300 * time.Millisecond) // let it write more batches
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	s := openTest(t, Options{Path: path, Policy: store.Policy{AllStatements: true}})
	ctx := context.Background()
	rep, err := s.Integrity(ctx, store.IntegrityQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Checked < 2000 {
		t.Fatalf("after SIGKILL: %+v %+v", rep, rep.FirstBreak)
	}
	// The chain continues across the restart.
	g := storetest.New(10, testStart, time.Hour, 100)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		s.Consume(ev)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rep2, err := s.Integrity(ctx, store.IntegrityQuery{})
	if err != nil || !rep2.OK || rep2.Checked != rep.Checked+100 {
		t.Fatalf("after restart: %+v %v", rep2, err)
	}
	t.Logf("recovered %d committed events", rep.Checked)
}

func TestPolicy(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	base := testStart
	evs := []*event.Event{
		{Time: base, Category: event.CategoryRead, Action: event.ActionSelect, Statement: "select 1"},
		{Time: base, Category: event.CategoryDMLWrite, Action: event.ActionUpdate},
		{Time: base, Category: event.CategoryLogin, Action: event.ActionConnect},
		{Time: base, Category: event.CategoryPrivilegeChange, Action: event.ActionGrant},
		{Time: base, Category: event.CategoryRead, Action: event.ActionSelect, Detections: []string{"D05"}},
	}
	for _, ev := range evs {
		s.Consume(ev)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Stored != 3 || st.Skipped != 2 {
		t.Fatalf("want 3 stored and 2 skipped, got %+v", st)
	}
	d, err := s.Detections(ctx, store.DetectionQuery{Rule: []string{"D05"}})
	if err != nil || len(d.Detections) != 1 || d.Detections[0].EventID == "" {
		t.Fatalf("detections: %+v %v", d, err)
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	now := testStart.Add(testSpan)
	// 20,000 events, or 5,000 under the race detector.
	n := map[bool]int{false: 20000, true: 5000}[raceEnabled]
	limit := map[bool]int64{false: 2 << 20, true: 1 << 20}[raceEnabled]
	t.Run("age", func(t *testing.T) {
		s := openTest(t, Options{Policy: store.Policy{AllStatements: true}, Retention: 10 * time.Hour, Now: func() time.Time { return now }})
		g := storetest.New(3, testStart, testSpan, n)
		for ev := g.Next(); ev != nil; ev = g.Next() {
			s.Consume(ev)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Retain(ctx); err != nil {
			t.Fatal(err)
		}
		st := s.Stats()
		if st.Oldest.Before(now.Add(-10*time.Hour-time.Second)) || st.Events < int64(n)*35/100 || st.Events > int64(n)*425/1000 {
			t.Fatalf("after retention: %+v", st)
		}
		rep, err := s.Integrity(ctx, store.IntegrityQuery{})
		if err != nil || !rep.OK {
			t.Fatalf("chain after retention: %+v %v", rep, err)
		}
		sr, err := s.Series(ctx, store.SeriesQuery{Step: time.Hour})
		if err != nil || len(sr.Series) != 1 || sr.Series[0].Total != st.Events {
			t.Fatalf("rollups after retention: %+v, want total %d", sr, st.Events)
		}
	})
	t.Run("size", func(t *testing.T) {
		s := openTest(t, Options{Policy: store.Policy{AllStatements: true}, MaxBytes: limit})
		g := storetest.New(4, testStart, testSpan, n)
		for ev := g.Next(); ev != nil; ev = g.Next() {
			s.Consume(ev)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Retain(ctx); err != nil {
			t.Fatal(err)
		}
		used, _ := s.usedBytes(ctx)
		st := s.Stats()
		if used > limit || st.Events == 0 || st.Events >= int64(n) {
			t.Fatalf("after size retention: used %d, %+v", used, st)
		}
		rep, err := s.Integrity(ctx, store.IntegrityQuery{})
		if err != nil || !rep.OK {
			t.Fatalf("chain after retention: %+v %v", rep, err)
		}
	})
}

// Secrets planted in the input.
var secrets = []string{"Sup3rS3cretPw!", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "rd_apikey_9f8e7d6c5b4a"}

// SecretEvents returns events that carry the planted secrets.
func secretEvents() []*event.Event {
	return []*event.Event{
		{Time: testStart, Category: event.CategoryPrivilegeChange, Action: event.ActionCreateUser, User: "root",
			Statement: "CREATE USER 'bob'@'%' IDENTIFIED BY 'Sup3rS3cretPw!'",
			Raw:       `[SQL_TEXT="CREATE USER 'bob'@'%' IDENTIFIED BY 'Sup3rS3cretPw!'"]`},
		{Time: testStart, Category: event.CategoryPrivilegeChange, Action: event.ActionSetPassword,
			Statement: "SET PASSWORD FOR 'bob'@'%' = 'Sup3rS3cretPw!'", Raw: "SET PASSWORD FOR 'bob'@'%' = 'Sup3rS3cretPw!'"},
		{Time: testStart, Category: event.CategoryAdmin, Action: event.ActionBackup,
			Statement: "BACKUP DATABASE * TO 's3://bucket/b?access-key=AKIAIOSFODNN7EXAMPLE&secret-access-key=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY'",
			Raw:       "BACKUP DATABASE * TO 's3://bucket/b?access-key=AKIAIOSFODNN7EXAMPLE&secret-access-key=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY'"},
		{Time: testStart, Category: event.CategoryRead, Action: event.ActionSelect, Detections: []string{"D36"},
			Raw: `10.0.0.1 - - "GET /api/queries/5/results.csv?api_key=rd_apikey_9f8e7d6c5b4a HTTP/1.1" 200 12`},
		{Time: testStart, Category: event.CategoryLogin, Action: event.ActionConnect, Outcome: event.OutcomeFailure,
			Reason: "login failed: password=Sup3rS3cretPw!"},
	}
}

func TestSecretsNeverStored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s := openTest(t, Options{Path: path})
	ctx := context.Background()
	for _, ev := range secretEvents() {
		s.Consume(ev)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := s.Events(ctx, store.EventQuery{})
	if err != nil || len(p.Events) != 5 {
		t.Fatalf("events: %d %v", len(p.Events), err)
	}
	var text strings.Builder
	for _, ev := range p.Events {
		fmt.Fprintf(&text, "%+v\n", *ev)
	}
	// Blocks are compressed, so grep them decompressed as well as the files.
	rows, err := s.rdb.Query(`SELECT data FROM blocks`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var data []byte
		_ = rows.Scan(&data)
		recs, err := decompressBlock(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			text.Write(r)
		}
	}
	rows.Close()
	if !strings.Contains(text.String(), "IDENTIFIED BY '<redacted>'") {
		t.Errorf("redaction marker missing:\n%s", text.String())
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, suf := range []string{"", "-wal"} {
		b, _ := os.ReadFile(path + suf)
		text.Write(b)
	}
	for _, sec := range secrets {
		if strings.Contains(text.String(), sec) {
			t.Errorf("secret %q found in the store", sec)
		}
	}
}

func TestDetectionsFindingsDrift(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	var ds []store.Detection
	for i := range 25 {
		ds = append(ds, store.Detection{Time: testStart.Add(time.Duration(i) * time.Minute), Rule: fmt.Sprintf("D%02d", i%3), Severity: "warning",
			User: "alice", Message: "burst token=abc123"})
	}
	if err := s.AddDetections(ctx, ds); err != nil {
		t.Fatal(err)
	}
	var got []store.Detection
	q := store.DetectionQuery{Rule: []string{"D01"}, Limit: 3}
	for {
		p, err := s.Detections(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Detections...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if len(got) != 8 || got[0].Rule != "D01" || strings.Contains(got[0].Message, "abc123") {
		t.Fatalf("detections: %d %+v", len(got), got)
	}

	fs := []finding.Finding{
		{RuleID: "TIDB-001", Severity: finding.High, Status: finding.Fail, Message: "tls off"},
		{RuleID: "TIDB-002", Severity: finding.Low, Status: finding.Pass, Message: "ok"},
	}
	if err := s.PutFindings(ctx, "tidb-1", testStart, fs); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFindings(ctx, "tidb-1", testStart, fs[:1]); err != nil { // replaces
		t.Fatal(err)
	}
	fp, err := s.Findings(ctx, store.FindingQuery{Target: []string{"tidb-1"}, Status: []finding.Status{finding.Fail}})
	if err != nil || len(fp.Findings) != 1 || fp.Findings[0].Target != "tidb-1" {
		t.Fatalf("findings: %+v %v", fp, err)
	}
	if fp, _ := s.Findings(ctx, store.FindingQuery{Target: []string{"tidb-1"}, Severity: []finding.Severity{finding.Low}}); len(fp.Findings) != 0 {
		t.Fatalf("replaced findings still there: %+v", fp)
	}

	var cs []store.DriftChange
	for i := range 5 {
		cs = append(cs, store.DriftChange{Target: "tidb-1", Key: fmt.Sprintf("k%d", i), Change: "changed", Old: "a", New: "b", Time: testStart.Add(time.Duration(i) * time.Second)})
	}
	cs = append(cs, store.DriftChange{Target: "redash", Key: "REDASH_SECRET_KEY", Change: "changed", Secret: true, Old: "s1", New: "s2"})
	if err := s.AddDriftChanges(ctx, testStart, cs); err != nil {
		t.Fatal(err)
	}
	dp, err := s.DriftChanges(ctx, store.DriftQuery{Target: []string{"tidb-1"}, Limit: 2})
	if err != nil || len(dp.Changes) != 2 || dp.Changes[0].Key != "k4" || dp.Next == "" {
		t.Fatalf("drift: %+v %v", dp, err)
	}
	dp, _ = s.DriftChanges(ctx, store.DriftQuery{Target: []string{"redash"}})
	if len(dp.Changes) != 1 || dp.Changes[0].Old != "" {
		t.Fatalf("secret drift change keeps values: %+v", dp)
	}
	if _, err := s.DriftChanges(ctx, store.DriftQuery{Cursor: "garbage"}); err == nil {
		t.Fatal("bad cursor accepted")
	}
	// The same changes reported again (a later check, or a restart) are
	// recorded once; a new value of a known key is a new change.
	again := append(slices.Clone(cs), store.DriftChange{Target: "tidb-1", Key: "k0", Change: "changed", Old: "b", New: "c"})
	if err := s.AddDriftChanges(ctx, testStart.Add(time.Hour), again); err != nil {
		t.Fatal(err)
	}
	dp, err = s.DriftChanges(ctx, store.DriftQuery{Limit: 100})
	if err != nil || len(dp.Changes) != len(cs)+1 {
		t.Fatalf("after a repeated report: %d changes (%v), want %d", len(dp.Changes), err, len(cs)+1)
	}
}

func TestConsumeAfterCloseAndQueueFull(t *testing.T) {
	s := openTest(t, Options{QueueSize: 1, BlockWait: time.Millisecond, Policy: store.Policy{AllStatements: true}})
	for range 2000 {
		s.Consume(&event.Event{Time: testStart, Category: event.CategoryLogin})
	}
	ctx := context.Background()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s.Consume(&event.Event{Time: testStart, Category: event.CategoryLogin})
	st := s.stored.Load() + s.dropped.Load()
	if st != 2001 {
		t.Fatalf("stored+dropped = %d, want 2001", st)
	}
}

// TestFlateBlocksStillRead: blocks of earlier builds are flate streams
// without the zstd magic number; they decode as before.
func TestFlateBlocksStillRead(t *testing.T) {
	recs := [][]byte{[]byte("first record"), []byte("second, longer record with a statement")}
	var raw []byte
	raw = binary.AppendUvarint(raw, uint64(len(recs)))
	for _, r := range recs {
		raw = binary.AppendUvarint(raw, uint64(len(r)))
		raw = append(raw, r...)
	}
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	w.Write(raw)
	w.Close()
	for name, data := range map[string][]byte{"flate": buf.Bytes(), "zstd": compressBlock(recs)} {
		got, err := decompressBlock(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 2 || string(got[0]) != string(recs[0]) || string(got[1]) != string(recs[1]) {
			t.Fatalf("%s: got %q", name, got)
		}
	}
	if _, err := decompressBlock(append(append([]byte(nil), zstdMagic...), 1, 2, 3)); err == nil {
		t.Fatal("a corrupt zstd block decoded")
	}
}

// TestConnectionAndExclusions checks the ConnectionID and Not filters
// against a brute-force evaluation, on events and through series and top
// (which must then bypass the rollups).
func TestConnectionAndExclusions(t *testing.T) {
	s, evs := loaded(t)
	ctx := context.Background()
	conn := ""
	for _, ev := range evs {
		if ev.ConnectionID != "" {
			conn = ev.ConnectionID
			break
		}
	}
	if conn == "" {
		t.Fatal("generated events carry no connection ids")
	}
	user := evs[0].User
	cases := map[string]store.Filter{
		"connection":     {ConnectionID: []string{conn}},
		"not user":       {Not: &store.Filter{User: []string{user}}},
		"not category":   {Category: []event.Category{event.CategoryLogin, event.CategoryRead}, Not: &store.Filter{Outcome: []event.Outcome{event.OutcomeFailure}}},
		"not connection": {User: []string{user}, Not: &store.Filter{ConnectionID: []string{conn}}},
		"not unknown":    {Not: &store.Filter{User: []string{"nobody-ever"}}},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			want := 0
			byCat := map[string]int64{}
			for _, ev := range evs {
				if matchesAll(&f, ev) {
					want++
					byCat[ev.Category.String()]++
				}
			}
			got := 0
			for cursor := ""; ; {
				p, err := s.Events(ctx, store.EventQuery{Filter: f, Limit: 1000, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range p.Events {
					if !matchesAll(&f, ev) {
						t.Fatalf("event %s does not match", ev.ID)
					}
				}
				got += len(p.Events)
				if p.Next == "" {
					break
				}
				cursor = p.Next
			}
			if got != want || want == 0 {
				t.Fatalf("events: got %d, want %d (must be > 0)", got, want)
			}
			top, err := s.Top(ctx, store.TopQuery{Filter: f, By: store.DimCategory, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range top.Items {
				if byCat[it.Value] != it.Count {
					t.Errorf("top %s: %d, want %d", it.Value, it.Count, byCat[it.Value])
				}
			}
			if len(top.Items) != len(byCat) {
				t.Errorf("top has %d categories, want %d", len(top.Items), len(byCat))
			}
		})
	}
}

func matchesAll(f *store.Filter, ev *event.Event) bool {
	if !matches(f, ev) {
		return false
	}
	if len(f.ConnectionID) > 0 && !slices.Contains(f.ConnectionID, ev.ConnectionID) {
		return false
	}
	if n := f.Not; n != nil {
		if slices.Contains(n.User, ev.User) || slices.Contains(n.Outcome, ev.Outcome) || slices.Contains(n.ConnectionID, ev.ConnectionID) {
			return false
		}
	}
	return true
}
