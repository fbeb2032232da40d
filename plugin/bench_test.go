package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/grafana/model"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/sqlite"
	"github.com/dbsec/dbsec/pkg/store/storetest"
)

// TestPluginBench measures the latency a Grafana user sees: queries sent
// to the plugin binary over gRPC (as Grafana sends them), answered through
// a real exporter from a large store. Opt-in:
//
//	DBSEC_PLUGIN_BENCH=1 [DBSEC_PLUGIN_BENCH_N=10000000] [DBSEC_PLUGIN_BENCH_DIR=/tmp/pbench] \
//	  go test -run TestPluginBench -v -timeout 90m ./plugin/
//
// The store holds N generated events (pkg/store/storetest) at the density
// of 10 M events in 7 days; it is kept in DBSEC_PLUGIN_BENCH_DIR and reused
// when it already has N events.
func TestPluginBench(t *testing.T) {
	if os.Getenv("DBSEC_PLUGIN_BENCH") != "1" {
		t.Skip("set DBSEC_PLUGIN_BENCH=1")
	}
	n := 1_000_000
	if v := os.Getenv("DBSEC_PLUGIN_BENCH_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			t.Fatalf("DBSEC_PLUGIN_BENCH_N=%q", v)
		}
	}
	dir := os.Getenv("DBSEC_PLUGIN_BENCH_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	span := max(time.Duration(float64(7*24*time.Hour)*float64(n)/10e6), 26*time.Hour)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	path := filepath.Join(dir, fmt.Sprintf("plugin-bench-%d.db", n))
	ctx := context.Background()

	// 1. The store (reused when complete).
	s, err := sqlite.Open(sqlite.Options{Path: path, Policy: store.Policy{AllStatements: true}, QueueSize: 200000, BlockWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if have := s.Stats().Events; have != int64(n) {
		if have != 0 {
			t.Fatalf("%s holds %d events, not %d: remove it", path, have, n)
		}
		t0 := time.Now()
		g := storetest.New(1, start, span, n)
		for ev := g.Next(); ev != nil; ev = g.Next() {
			s.Consume(ev)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("store: wrote %d events in %v", s.Stats().Stored, time.Since(t0).Round(time.Second))
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// 2. An exporter serving it (plain HTTP, no sources beyond an empty
	// file), built by TestMain.
	empty := filepath.Join(t.TempDir(), "empty.log")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "bench.toml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "[server]\nstate_dir = %q\n\n[store]\npath = %q\nall_statements = true\nretention = \"36500d\"\n\n"+
		"[[source]]\nname = \"idle\"\nformat = \"tidb-audit-plugin\"\npath = %q\n", t.TempDir(), path, empty), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	exp := exec.Command(filepath.Join(env.dir, "dbsec_exporter"), "--config.file", cfg, "--web.listen-address", addr, "--log.level", "warn")
	exp.Stdout, exp.Stderr = env.logs, env.logs
	if err := exp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exp.Process.Kill(); _ = exp.Wait() })
	base := "http://" + addr
	c := api.NewClient(base, nil)
	for i := 0; ; i++ {
		st, err := c.Status(ctx)
		if err == nil && st.Store.Events == int64(n) {
			break
		}
		if i > 300 {
			t.Fatalf("exporter not ready: %v %+v", err, st.Store)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ds := dsConfig{ID: 100, UID: "bench", URL: base}

	// 3. Queries through the plugin binary, random windows.
	rng := rand.New(rand.NewPCG(7, 7))
	window := func(w time.Duration) (time.Time, time.Time) {
		from := start.Add(time.Duration(rng.Int64N(int64(span - w)))).Truncate(time.Second)
		return from, from.Add(w)
	}
	// Each run also times the same request made directly with the typed
	// client (what the plugin sends the exporter), interleaved, so that the
	// plugin's own share stays visible on a busy machine.
	pct := func(d []time.Duration, p int) time.Duration {
		slices.Sort(d)
		return d[len(d)*p/100].Round(100 * time.Microsecond)
	}
	measure := func(name string, runs int, w time.Duration, q model.Query, direct func(from, to time.Time) error, check func(int) bool) {
		var d, a []time.Duration
		total := 0
		for range runs {
			from, to := window(w)
			t0 := time.Now()
			dr, err := env.plugin.query(ds, q, from, to, nil)
			d = append(d, time.Since(t0))
			if err != nil || dr.Error != nil {
				t.Fatalf("%s: %v %v", name, err, dr.Error)
			}
			rows := frameRows(dr)
			if !check(rows) {
				t.Fatalf("%s: %d rows", name, rows)
			}
			total += rows
			t0 = time.Now()
			if err := direct(from, to); err != nil {
				t.Fatal(err)
			}
			a = append(a, time.Since(t0))
		}
		t.Logf("%-42s runs=%d plugin p50=%v p99=%v | API alone p50=%v p99=%v (avg rows %d)", name, runs,
			pct(d, 50), pct(d, 99), pct(a, 50), pct(a, 99), total/runs)
	}
	events := func(f store.Filter) func(from, to time.Time) error {
		return func(from, to time.Time) error {
			f.From, f.To = from, to
			_, err := c.Events(ctx, store.EventQuery{Filter: f, Limit: 1000})
			return err
		}
	}
	series := func(by store.Dimension, step time.Duration) func(from, to time.Time) error {
		return func(from, to time.Time) error {
			_, err := c.Series(ctx, store.SeriesQuery{Filter: store.Filter{From: from, To: to}, By: by, Step: step, Top: 10})
			return err
		}
	}
	runs := 50
	if v, err := strconv.Atoi(os.Getenv("DBSEC_PLUGIN_BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	measure("logs: 1,000 events of a 1h window", runs, time.Hour,
		model.Query{QueryType: model.Events, Limit: 1000}, events(store.Filter{}), func(r int) bool { return r == 1000 })
	measure("logs: 1,000 failed logins of a 24h window", runs, 24*time.Hour,
		model.Query{QueryType: model.Events, Limit: 1000, Filters: []model.Filter{{Key: "category", Value: "login"}, {Key: "outcome", Value: "failure"}}},
		events(store.Filter{Category: []event.Category{event.CategoryLogin}, Outcome: []event.Outcome{event.OutcomeFailure}}), func(r int) bool { return r > 0 })
	measure("series: 24h by category (step 2m)", runs, 24*time.Hour,
		model.Query{QueryType: model.Series, By: "category"}, series(store.DimCategory, 2*time.Minute), func(r int) bool { return r > 0 })
	measure("series: 24h total, step 5m", runs, 24*time.Hour,
		model.Query{QueryType: model.Series, Step: "5m"}, series("", 5*time.Minute), func(r int) bool { return r >= 288 && r <= 289 })
	measure("top: 24h users, 10", runs, 24*time.Hour,
		model.Query{QueryType: model.Top, By: "user"}, func(from, to time.Time) error {
			_, err := c.Top(ctx, store.TopQuery{Filter: store.Filter{From: from, To: to}, By: store.DimUser, Limit: 10})
			return err
		}, func(r int) bool { return r == 10 })
}
