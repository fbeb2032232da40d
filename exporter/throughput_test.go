package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/bench"
)

// TestDaemonThroughput is issue 16's daemon measurement: the real exporter
// with the default store and the default detections follows a generated
// tidb-audit-plugin file (pkg/bench's issue-16 corpus, every statement with
// its own literals) from the beginning; the test reports wall lines/s until
// dbsec_lines_read_total reaches the file's lines, the time until the store
// has written or set aside every event, the exporter's CPU time and its peak
// RSS (VmHWM of the process). Opt-in: DBSEC_DAEMON_BENCH=1.
// DBSEC_DAEMON_LINES sets the size (1 M; 10000000 is the backlog),
// DBSEC_DAEMON_BIN runs a prebuilt exporter instead of building this one,
// DBSEC_DAEMON_PROFILE=<file> writes the exporter's CPU profile
// (DBSEC_CPUPROFILE of the exporter process) for `go tool pprof`.
func TestDaemonThroughput(t *testing.T) {
	if os.Getenv("DBSEC_DAEMON_BENCH") != "1" {
		t.Skip("set DBSEC_DAEMON_BENCH=1 (DBSEC_DAEMON_LINES, default 1000000)")
	}
	lines := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("DBSEC_DAEMON_LINES")); err == nil && v > 0 {
		lines = v
	}
	log, err := bench.RealisticPath("tidb-audit-plugin", lines)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	bin := os.Getenv("DBSEC_DAEMON_BIN")
	if bin == "" {
		bin = exporterBinary(t)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dbsec.toml")
	// The defaults: the SQLite store in state_dir and the built-in
	// detections; the file is read from its beginning.
	conf := fmt.Sprintf("[server]\nstate_dir = %q\n\n[[source]]\nname = \"a\"\nformat = \"tidb-audit-plugin\"\npath = %q\nstart_at = \"beginning\"\n", dir, log)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("DBSEC_DAEMON_PROFILE"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("DBSEC_CPUPROFILE", abs)
	}
	load0, _ := os.ReadFile("/proc/loadavg")
	t0 := time.Now()
	p := startProcWith(t, bin, cfg)
	pid := p.cmd.Process.Pid
	var peakRSS int64
	deadline := time.Now().Add(30 * time.Minute)
	var n int64
	for {
		peakRSS = max(peakRSS, vmRSS(t, pid))
		n = p.linesRead(t)
		if n >= int64(lines) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d lines in 30 min", n, lines)
		}
		time.Sleep(250 * time.Millisecond) // a scrape costs the exporter a store query: not too often
	}
	read := time.Since(t0)
	cpuRead := procCPU(t, pid)
	// The store writes behind the pipeline: wait until it has dealt with
	// every event it was given (written, skipped by the policy or dropped).
	var stored float64
	waitFor(t, 10*time.Minute, func() bool {
		mfs := scrape(t, p.base+"/metrics")
		in := value(mfs, "dbsec_store_events_written_total") + value(mfs, "dbsec_store_events_skipped_total") + value(mfs, "dbsec_store_events_dropped_total")
		done := in > 0 && in == stored
		stored = in
		peakRSS = max(peakRSS, vmRSS(t, pid))
		if !done {
			time.Sleep(500 * time.Millisecond)
		}
		return done
	})
	drained := time.Since(t0)
	mfs := scrape(t, p.base+"/metrics")
	hwm := vmHWM(t, pid)
	cpu := procCPU(t, pid)
	p.term(t)
	load1, _ := os.ReadFile("/proc/loadavg")
	t.Logf("daemon, default store and detections, tidb-audit-plugin %d lines (%.0f MB): read in %v = %.0f lines/s wall (%.0f lines per CPU-second, %.2f cores busy); "+
		"store caught up at %v (written %.0f, skipped %.0f, dropped %.0f); CPU %v in all; peak RSS (VmHWM) %d MiB, Go heap in use at the end %.0f MiB (next GC at %.0f MiB); load average before %s, after %s",
		lines, float64(st.Size())/1e6, read.Round(time.Millisecond), float64(lines)/read.Seconds(), float64(lines)/cpuRead.Seconds(), cpuRead.Seconds()/read.Seconds(),
		drained.Round(time.Millisecond), value(mfs, "dbsec_store_events_written_total"), value(mfs, "dbsec_store_events_skipped_total"),
		value(mfs, "dbsec_store_events_dropped_total"), cpu.Round(time.Millisecond), hwm>>10,
		value(mfs, "go_memstats_heap_inuse_bytes")/(1<<20), value(mfs, "go_memstats_next_gc_bytes")/(1<<20),
		strings.TrimSpace(string(load0)), strings.TrimSpace(string(load1)))
}

// startProcWith is startProc with a given exporter binary.
func startProcWith(t *testing.T, bin, cfg string) *proc {
	t.Helper()
	addr := freeAddr(t)
	p := &proc{stderr: &syncBuffer{}, done: make(chan error, 1), base: "http://" + addr}
	p.cmd = exec.Command(bin, "--config.file", cfg, "--web.listen-address", addr)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	waitFor(t, 20*time.Second, func() bool {
		_, err := httpGet(p.base + "/-/healthy")
		return err == nil
	})
	return p
}

// procCPU is the user + system CPU time of a running process
// (/proc/<pid>/stat, clock ticks of 10 ms).
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100
}
