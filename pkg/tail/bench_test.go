package tail

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/input"
)

// countHandler counts lines and bytes without keeping them.
type countHandler struct {
	input.LinesOnly
	lines, bytes int64
}

func (c *countHandler) HandleLine(l input.Line) { c.lines++; c.bytes += int64(len(l.Text)) }
func (c *countHandler) Idle()                   {}

// writeLines writes n audit-like lines to path and returns the file size.
func writeLines(tb testing.TB, path string, n int) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		fmt.Fprintf(w, "20240101 00:00:00,db1,user%d,10.0.0.%d,%d,%d,QUERY,mysql,'SELECT * FROM t WHERE id = %d',0\n", i%97, i%251, i, i*7, i)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	fi, _ := f.Stat()
	f.Close()
	return fi.Size()
}

func onceRun(tb testing.TB, path string, h input.Handler) {
	f, err := New(Config{Paths: []string{path}, Once: true})
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.Run(context.Background(), h); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkFollowerOnce reads a generated 100 MB file in Once mode.
func BenchmarkFollowerOnce(b *testing.B) {
	path := join(b.TempDir(), "bench.log")
	size := writeLines(b, path, 1)
	perLine := size
	size = writeLines(b, path, int(100<<20/perLine))
	b.SetBytes(size)
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	var lines int64
	b.ResetTimer()
	for range b.N {
		var h countHandler
		onceRun(b, path, &h)
		lines += h.lines
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(lines), "allocs/line")
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}

// TestNoAllocsPerLine checks that the per-line path does not allocate: a
// file 100 times longer costs (almost) no more allocations.
func TestNoAllocsPerLine(t *testing.T) {
	dir := t.TempDir()
	small, big := join(dir, "small.log"), join(dir, "big.log")
	writeLines(t, small, 1000)
	writeLines(t, big, 100000)
	var h countHandler
	a1 := testing.AllocsPerRun(3, func() { onceRun(t, small, &h) })
	a2 := testing.AllocsPerRun(3, func() { onceRun(t, big, &h) })
	t.Logf("allocations per Once run: %v for 1,000 lines, %v for 100,000 lines", a1, a2)
	if a2-a1 > 100 {
		t.Errorf("%v extra allocations for 99,000 extra lines, want ~0 per line", a2-a1)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIdleCPU follows 1,000 idle files and measures the process CPU.
func TestIdleCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("measures CPU over 2s; skipped with -short")
	}
	for _, mode := range []string{"inotify", "poll"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			for i := range 1000 {
				writeFile(t, join(dir, fmt.Sprintf("f%04d.log", i)), "x\n")
			}
			var opts []func(*Follower)
			if mode == "poll" {
				opts = append(opts, polling)
			}
			var rec recorder
			r := start(t, Config{Paths: []string{join(dir, "*.log")}}, &rec, opts...)
			waitFor(t, 10*time.Second, "1000 lines", func() bool { return rec.n.Load() == 1000 })
			waitFor(t, 10*time.Second, "idle", func() bool { return rec.idles.Load() > 0 })
			if n := r.f.Stats().Files; n != 1000 {
				t.Fatalf("Files = %d, want 1000", n)
			}
			runtime.GC()
			c0, t0 := cpuTime(), time.Now()
			time.Sleep(3 * time.Second) // measuring an interval, not waiting for a condition
			pct := 100 * float64(cpuTime()-c0) / float64(time.Since(t0))
			t.Logf("%s: idle CPU with 1,000 files: %.3f%% of a core (race=%v)", mode, pct, raceEnabled)
			limit := 1.0
			if mode == "poll" {
				limit = 5
			}
			if raceEnabled {
				limit *= 5
			}
			if pct > limit {
				t.Errorf("idle CPU %.2f%%, want < %.1f%%", pct, limit)
			}
		})
	}
}
