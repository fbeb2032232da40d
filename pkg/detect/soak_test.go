package detect

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
)

// vmHWM returns the peak resident set size of the process in bytes
// (Linux), or 0.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestSoakDistinctEntities streams events from N distinct users and client
// IPs (100 k; 1 M with DBSEC_SOAK=1) through the default rules and checks
// that the exact state stays within its caps, the series count within its
// bound, and (without -race) that peak RSS stays ≤ 128 MiB.
func TestSoakDistinctEntities(t *testing.T) {
	n := 100_000
	if os.Getenv("DBSEC_SOAK") == "1" {
		n = 1_000_000
	} else if testing.Short() {
		n = 20_000
	}
	r := DefaultRules()
	r.Settings.TopK = 20
	var nf int
	d, err := New(r, Options{OnFinding: func(*event.Detection) { nf++ }, IDGen: event.NewIDGen()})
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{
		"SELECT * FROM orders WHERE id = 1",
		"UPDATE orders SET state = 'x' WHERE id = 7",
		"SELECT name FROM users WHERE email = 'a@b.c'",
		"INSERT INTO audit_trail VALUES (1, 'x')",
	}
	var ev event.Event
	start := time.Now()
	for i := range n {
		ev.Reset()
		ev.Time = t0.Add(time.Duration(i) * 3600 * time.Millisecond / 1000) // 1000 events/s
		ev.Source, ev.System = "tidb1", event.SystemTiDB
		ev.User = "user" + strconv.Itoa(i)
		ev.ClientIP = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		ev.ID = ""
		switch i % 10 {
		case 0, 1, 2, 3, 4, 5:
			ev.Action, ev.Category, ev.Outcome = event.ActionConnect, event.CategoryLogin, event.OutcomeFailure
		case 6, 7:
			ev.Action, ev.Category, ev.Outcome = event.ActionConnect, event.CategoryLogin, event.OutcomeSuccess
		default:
			ev.Statement = stmts[i%len(stmts)]
			ev.Outcome, ev.HasRows, ev.Rows = event.OutcomeSuccess, true, 10
		}
		d.Consume(&ev)
	}
	elapsed := time.Since(start)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	hwm := vmHWM()

	maxEnt := r.Settings.MaxEntities
	for _, tr := range d.trackers {
		name, ev, rej := tr.stats()
		limit := maxEnt
		if name == "suppress" {
			limit = 4 * maxEnt
		}
		if tr.len() > limit {
			t.Errorf("tracker %s holds %d entities, cap %d", name, tr.len(), limit)
		}
		if tr.len() > 0 {
			t.Logf("tracker %-26s %6d entities, %7d evictions, %8d sketched", name, tr.len(), ev, rej)
		}
	}
	series := 0
	for _, ms := range gather(t, d) {
		series += len(ms)
	}
	// Bound: detections (≤3 severities × 37 rules) + learning (≤37) +
	// 3 per tracker + 2 cache + top-K (3 dimensions × K).
	bound := 3*37 + 37 + 3*len(d.trackers) + 2 + 3*r.Settings.TopK
	if series > bound {
		t.Errorf("%d series, bound %d", series, bound)
	}
	t.Logf("events=%d elapsed=%s (%.0f ev/s) findings=%d series=%d heap_inuse=%.1fMiB peak_rss=%.1fMiB race=%v",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), nf, series,
		float64(ms.HeapInuse)/(1<<20), float64(hwm)/(1<<20), raceEnabled)
	if !raceEnabled && hwm > 128<<20 {
		t.Errorf("peak RSS %.1f MiB > 128 MiB", float64(hwm)/(1<<20))
	}
}
