package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/storetest"
)

// TestStoreBench is the acceptance benchmark (DBSEC_STORE_BENCH=1; size
// DBSEC_STORE_BENCH_N, default 10,000,000 events over 7 days; the database
// goes to DBSEC_STORE_BENCH_DIR or a temporary directory).
func TestStoreBench(t *testing.T) {
	if os.Getenv("DBSEC_STORE_BENCH") != "1" {
		t.Skip("set DBSEC_STORE_BENCH=1")
	}
	n := 10_000_000
	if v := os.Getenv("DBSEC_STORE_BENCH_N"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	dir := os.Getenv("DBSEC_STORE_BENCH_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "bench.db")
	for _, suf := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suf)
	}
	// The density of the acceptance run (10 M events in 7 days) at any n.
	span := max(time.Duration(float64(7*24*time.Hour)*float64(n)/10e6), 26*time.Hour)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	s, err := Open(Options{Path: path, Policy: store.Policy{AllStatements: true}, QueueSize: 200000, BlockWait: time.Minute, BatchSize: benchBatch()})
	if err != nil {
		t.Fatal(err)
	}
	g := storetest.New(1, start, span, n)
	t0 := time.Now()
	for ev := g.Next(); ev != nil; ev = g.Next() {
		s.Consume(ev)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(t0)
	st := s.Stats()
	writeTime := time.Duration(s.writeNanos.Load())
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ingest: %d events, %d dropped, wall %v = %.0f events/s (generator and store on 2 shared cores); writer transactions %v = %.0f events/s",
		st.Stored, st.Dropped, wall.Round(time.Millisecond), float64(st.Stored)/wall.Seconds(), writeTime.Round(time.Millisecond), float64(st.Stored)/writeTime.Seconds())
	t.Logf("disk: %d bytes = %.1f bytes/event", fi.Size(), float64(fi.Size())/float64(st.Stored))

	s, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	rng := rand.New(rand.NewPCG(7, 7))
	randTime := func(width time.Duration) time.Time {
		return start.Add(time.Duration(rng.Int64N(int64(span - width)))).Truncate(time.Second)
	}
	measure := func(name string, runs int, fn func() (int, error)) {
		var d []time.Duration
		rows := 0
		for range runs {
			t0 := time.Now()
			k, err := fn()
			d = append(d, time.Since(t0))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			rows += k
		}
		slices.Sort(d)
		t.Logf("%-44s runs=%d p50=%v p99=%v max=%v (avg rows %d)", name, runs, d[len(d)/2].Round(10*time.Microsecond),
			d[len(d)*99/100].Round(10*time.Microsecond), d[len(d)-1].Round(10*time.Microsecond), rows/runs)
	}
	filters := []func() store.Filter{
		func() store.Filter { return store.Filter{Category: []event.Category{event.CategoryLogin}} },
		func() store.Filter { return store.Filter{User: []string{storetest.User(rng.IntN(20))}} },
		func() store.Filter { return store.Filter{ClientIP: []string{storetest.IP(rng.IntN(100))}} },
		func() store.Filter {
			return store.Filter{Category: []event.Category{event.CategoryLogin}, Outcome: []event.Outcome{event.OutcomeFailure}}
		},
		func() store.Filter {
			return store.Filter{Source: []string{"tidb-1-audit"}, Action: []event.Action{event.ActionUpdate}}
		},
		func() store.Filter { return store.Filter{Digest: []string{storetest.Digest(rng.IntN(500))}} },
	}
	measure("events: 1h page of 100, filtered", 300, func() (int, error) {
		f := filters[rng.IntN(len(filters))]()
		f.From = randTime(time.Hour)
		f.To = f.From.Add(time.Hour)
		p, err := s.Events(ctx, store.EventQuery{Filter: f, Limit: 100})
		return len(p.Events), err
	})
	measure("events: next page (cursor)", 100, func() (int, error) {
		f := store.Filter{Category: []event.Category{event.CategoryRead}}
		f.From = randTime(time.Hour)
		f.To = f.From.Add(time.Hour)
		p, err := s.Events(ctx, store.EventQuery{Filter: f, Limit: 100})
		if err != nil {
			return 0, err
		}
		p, err = s.Events(ctx, store.EventQuery{Filter: f, Limit: 100, Cursor: p.Next})
		return len(p.Events), err
	})
	for _, step := range []time.Duration{time.Minute, 5 * time.Minute} {
		measure(fmt.Sprintf("series: 24h by category, step %v", step), 100, func() (int, error) {
			from := randTime(24 * time.Hour)
			r, err := s.Series(ctx, store.SeriesQuery{Filter: store.Filter{From: from, To: from.Add(24 * time.Hour)}, Step: step, By: store.DimCategory})
			return len(r.Series), err
		})
	}
	measure("series: 24h by outcome, login, step 5m", 100, func() (int, error) {
		from := randTime(24 * time.Hour)
		r, err := s.Series(ctx, store.SeriesQuery{Filter: store.Filter{From: from, To: from.Add(24 * time.Hour), Category: []event.Category{event.CategoryLogin}}, Step: 5 * time.Minute, By: store.DimOutcome})
		return len(r.Series), err
	})
	measure("top: 24h users, limit 10", 100, func() (int, error) {
		from := randTime(24 * time.Hour)
		r, err := s.Top(ctx, store.TopQuery{Filter: store.Filter{From: from, To: from.Add(24 * time.Hour)}, By: store.DimUser, Limit: 10})
		return len(r.Items), err
	})
	measure("series: 24h by user top 5, step 5m", 50, func() (int, error) {
		from := randTime(24 * time.Hour)
		r, err := s.Series(ctx, store.SeriesQuery{Filter: store.Filter{From: from, To: from.Add(24 * time.Hour)}, Step: 5 * time.Minute, By: store.DimUser, Top: 5})
		return len(r.Series), err
	})
	measure("values: user, 24h", 50, func() (int, error) {
		from := randTime(24 * time.Hour)
		v, err := s.Values(ctx, store.ValuesQuery{Filter: store.Filter{From: from, To: from.Add(24 * time.Hour)}, Field: store.DimUser})
		return len(v), err
	})
	measure("event by id", 100, func() (int, error) {
		f := store.Filter{From: randTime(time.Hour)}
		f.To = f.From.Add(time.Minute)
		p, err := s.Events(ctx, store.EventQuery{Filter: f, Limit: 1})
		if err != nil || len(p.Events) == 0 {
			return 0, err
		}
		_, err = s.Event(ctx, p.Events[0].ID)
		return 1, err
	})
	t0 = time.Now()
	rep, err := s.Integrity(ctx, store.IntegrityQuery{Start: 1, End: 100000})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("integrity: first 100k events verified in %v ok=%v", time.Since(t0).Round(time.Millisecond), rep.OK)
}

func benchBatch() int {
	if v, err := strconv.Atoi(os.Getenv("DBSEC_STORE_BENCH_BATCH")); err == nil {
		return v
	}
	return 0 // the default
}
