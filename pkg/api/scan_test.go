package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/sqlite"
	"github.com/dbsec/dbsec/pkg/store/storetest"
)

// scanEvents is the size of the store the scan test searches: enough that
// one free-text scan takes seconds on the build machine.
var scanEvents = map[bool]int{false: 150000, true: 40000}[raceEnabled]

// TestPageFastDuringScans runs six free-text searches that match nothing
// (each reads every event of the range) and, while they run, asks for a
// page of events: the page must not wait for the scans. It prints the
// latencies; the bound asserted is generous (machine load must not make
// the test fail), the measured numbers are in docs/BENCHMARKS.md.
func TestPageFastDuringScans(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a large store")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dbsec.db")
	st, err := sqlite.Open(sqlite.Options{Path: path, Policy: store.Policy{AllStatements: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	g := storetest.New(7, start, 24*time.Hour, scanEvents)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		if err := st.ConsumeWait(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	hh := NewHandler(st, Options{Now: func() time.Time { return start.Add(24 * time.Hour) }})
	h := hh.(*handler)
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(q string) (int, time.Duration) {
		t0 := time.Now()
		resp, err := http.Get(srv.URL + q)
		if err != nil {
			t.Error(err)
			return 0, 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(t0)
	}
	const page = "/api/v1/events?limit=50"
	_, idle := get(page)

	var wg sync.WaitGroup
	var mu sync.Mutex
	var scans []string
	for i := range 6 {
		wg.Go(func() {
			code, d := get(fmt.Sprintf("/api/v1/events?limit=50&q=no-such-text-%d", i))
			mu.Lock()
			scans = append(scans, fmt.Sprintf("%d in %v", code, d.Round(time.Millisecond)))
			mu.Unlock()
		})
	}
	// Wait until the scans hold their slots, then time pages.
	deadline := time.Now().Add(30 * time.Second)
	for len(h.scans) < cap(h.scans) {
		if time.Now().After(deadline) {
			t.Fatal("the scans did not start")
		}
		time.Sleep(time.Millisecond)
	}
	var lat []time.Duration
	for len(h.scans) == cap(h.scans) && len(lat) < 20 {
		code, d := get(page)
		if code != 200 {
			t.Fatalf("page during scans: %d", code)
		}
		lat = append(lat, d)
	}
	stillRunning := len(h.scans) == cap(h.scans)
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		t.Fatal("the scans ended before a page could be timed")
	}
	worst := lat[len(lat)-1]
	t.Logf("%d events; page alone %v; %d pages during 6 parallel scans: median %v, worst %v (scans still running after: %v); scans: %v",
		scanEvents, idle.Round(time.Millisecond), len(lat), lat[len(lat)/2].Round(time.Millisecond), worst.Round(time.Millisecond), stillRunning, scans)
	if worst > 3*time.Second {
		t.Errorf("a page took %v while scans ran", worst)
	}
}
