package victorialogs

import (
	"context"

	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/sqlite"
	"github.com/dbsec/dbsec/pkg/store/storetest"
	"github.com/dbsec/dbsec/pkg/store/victorialogs/vltest"
)

// TestBench is the scale-out benchmark (DBSEC_VLOGS_BENCH=1; size
// DBSEC_VLOGS_BENCH_N, default 2,000,000 events at the density of 10 M
// events per 7 days). It ingests the generated events from one engine
// into a local two-storage-node cluster, then into SQLite, and runs the
// same random queries against both. DBSEC_VLOGS_BENCH_SQLITE=0 skips
// SQLite.
func TestBench(t *testing.T) {
	if os.Getenv("DBSEC_VLOGS_BENCH") != "1" {
		t.Skip("set DBSEC_VLOGS_BENCH=1")
	}
	n := 2_000_000
	if v, err := strconv.Atoi(os.Getenv("DBSEC_VLOGS_BENCH_N")); err == nil {
		n = v
	}
	span := max(time.Duration(float64(7*24*time.Hour)*float64(n)/10e6), 26*time.Hour)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	t.Logf("%d events over %v; GOMAXPROCS %d", n, span, runtime.GOMAXPROCS(0))

	c := vltest.StartCluster(t, 2)
	s, err := Open(Options{InsertURL: c.URL(), Exporter: "bench", QueueDir: t.TempDir(), Policy: store.Policy{AllStatements: true},
		BatchSize: 20000, FlushInterval: time.Second, MaxQueueBytes: 8 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	g := storetest.New(1, start, span, n)
	t0 := time.Now()
	for ev := g.Next(); ev != nil; ev = g.Next() {
		s.Consume(ev)
	}
	consumed := time.Since(t0)
	fctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(t0)
	t.Logf("victorialogs ingest: %d events; Consume (generator, redaction, chain, on-disk queue) %v = %.0f events/s; until searchable in the cluster %v = %.0f events/s",
		n, consumed.Round(time.Millisecond), float64(n)/consumed.Seconds(), wall.Round(time.Millisecond), float64(n)/wall.Seconds())
	// VictoriaLogs writes in-memory parts to disk within seconds: wait
	// until the storage nodes' size has settled.
	var vbytes int64
	for i, prev := 0, int64(-1); i < 60; i++ {
		vbytes = 0
		for _, node := range c.Storage {
			vbytes += dirSize(node.Dir)
		}
		if vbytes == prev && vbytes > int64(n)*10 {
			break
		}
		prev = vbytes
		time.Sleep(2 * time.Second)
	}
	t.Logf("victorialogs disk (both storage nodes, after the flush): %d bytes = %.1f bytes/event", vbytes, float64(vbytes)/float64(n))
	// After VictoriaLogs' background merges (forced here), as it settles
	// in a running cluster.
	for _, node := range c.Storage {
		if resp, err := http.Get(node.URL() + "/internal/force_merge"); err == nil {
			resp.Body.Close()
		}
	}
	stable := 0
	for i, prev := 0, int64(-1); i < 120 && stable < 3; i++ {
		time.Sleep(2 * time.Second)
		vbytes = 0
		for _, node := range c.Storage {
			vbytes += dirSize(node.Dir)
		}
		if vbytes == prev {
			stable++
		} else {
			stable = 0
		}
		prev = vbytes
	}
	t.Logf("victorialogs disk after a forced merge: %d bytes = %.1f bytes/event", vbytes, float64(vbytes)/float64(n))
	benchQueries(t, "victorialogs", s, start, span)

	if os.Getenv("DBSEC_VLOGS_BENCH_SQLITE") == "0" {
		return
	}
	path := filepath.Join(t.TempDir(), "bench.db")
	q, err := sqlite.Open(sqlite.Options{Path: path, Policy: store.Policy{AllStatements: true}, QueueSize: 200000, BlockWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	g = storetest.New(1, start, span, n)
	t0 = time.Now()
	for ev := g.Next(); ev != nil; ev = g.Next() {
		q.Consume(ev)
	}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wall = time.Since(t0)
	t.Logf("sqlite ingest: %d events in %v = %.0f events/s", n, wall.Round(time.Millisecond), float64(n)/wall.Seconds())
	st := q.Stats()
	t.Logf("sqlite disk: %d bytes = %.1f bytes/event", st.Bytes, float64(st.Bytes)/float64(n))
	benchQueries(t, "sqlite", q, start, span)
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// benchQueries runs the same random queries (same seed) against e.
func benchQueries(t *testing.T, engine string, e store.Engine, start time.Time, span time.Duration) {
	ctx := context.Background()
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
				t.Fatalf("%s %s: %v", engine, name, err)
			}
			rows += k
		}
		slices.Sort(d)
		t.Logf("%-13s %-40s runs=%d p50=%v p99=%v max=%v (avg rows %d)", engine, name, runs, d[len(d)/2].Round(100*time.Microsecond),
			d[len(d)*99/100].Round(100*time.Microsecond), d[len(d)-1].Round(100*time.Microsecond), rows/runs)
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
	measure("events: 1h page of 100, filtered", 200, func() (int, error) {
		f := filters[rng.IntN(len(filters))]()
		f.From = randTime(time.Hour)
		f.To = f.From.Add(time.Hour)
		p, err := e.Events(ctx, store.EventQuery{Filter: f, Limit: 100})
		return len(p.Events), err
	})
	measure("events: next page (cursor)", 100, func() (int, error) {
		f := store.Filter{Category: []event.Category{event.CategoryRead}}
		f.From = randTime(time.Hour)
		f.To = f.From.Add(time.Hour)
		p, err := e.Events(ctx, store.EventQuery{Filter: f, Limit: 100})
		if err != nil {
			return 0, err
		}
		p, err = e.Events(ctx, store.EventQuery{Filter: f, Limit: 100, Cursor: p.Next})
		return len(p.Events), err
	})
	measure("series: 24h by category, step 1m", 100, func() (int, error) {
		from := randTime(24 * time.Hour)
		r, err := e.Series(ctx, store.SeriesQuery{Filter: store.Filter{From: from, To: from.Add(24 * time.Hour)}, Step: time.Minute, By: store.DimCategory})
		return len(r.Series), err
	})
	measure("top: 24h users, limit 10", 100, func() (int, error) {
		from := randTime(24 * time.Hour)
		r, err := e.Top(ctx, store.TopQuery{Filter: store.Filter{From: from, To: from.Add(24 * time.Hour)}, By: store.DimUser, Limit: 10})
		return len(r.Items), err
	})
	measure("series: 24h by user top 5, step 5m", 50, func() (int, error) {
		from := randTime(24 * time.Hour)
		r, err := e.Series(ctx, store.SeriesQuery{Filter: store.Filter{From: from, To: from.Add(24 * time.Hour)}, Step: 5 * time.Minute, By: store.DimUser, Top: 5})
		return len(r.Series), err
	})
	measure("event by id", 100, func() (int, error) {
		f := store.Filter{From: randTime(time.Hour)}
		f.To = f.From.Add(time.Minute)
		p, err := e.Events(ctx, store.EventQuery{Filter: f, Limit: 1})
		if err != nil || len(p.Events) == 0 {
			return 0, err
		}
		_, err = e.Event(ctx, p.Events[0].ID)
		return 1, err
	})
	t0 := time.Now()
	rep, err := e.Integrity(ctx, store.IntegrityQuery{Start: 1, End: 100000})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%-13s integrity: first 100k events verified in %v ok=%v", engine, time.Since(t0).Round(time.Millisecond), rep.OK)

}
