package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// These tests run the exporter as a real process, stop it with SIGTERM or
// SIGKILL while a writer appends to the followed file, start it again and
// account for every line. Each line carries its sequence number
// ("SELECT <n>"), and the SIEM export records every event, so besides the
// counts the test knows exactly which lines each run read.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// exporterBinary builds the exporter once per test binary.
func exporterBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dbsec-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "dbsec")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// seqWriter appends MariaDB server_audit QUERY records numbered from 1, in
// batches, at about rate lines/s, until paused or stopped.
type seqWriter struct {
	path    string
	rate    int
	n       atomic.Int64 // lines written
	paused  atomic.Bool
	stop    chan struct{}
	stopped chan struct{}
}

func startWriter(t *testing.T, path string, rate int) *seqWriter {
	w := &seqWriter{path: path, rate: rate, stop: make(chan struct{}), stopped: make(chan struct{})}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.stopped)
		defer f.Close()
		const tick = 10 * time.Millisecond
		per := max(rate/100, 1)
		buf := make([]byte, 0, per*100)
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tk.C:
			}
			if w.paused.Load() {
				continue
			}
			buf = buf[:0]
			base := w.n.Load()
			for i := int64(1); i <= int64(per); i++ {
				buf = fmt.Appendf(buf, "20261203 10:00:00,vm,app,10.0.0.5,7,%d,QUERY,shop,'SELECT %d',0\n", base+i, base+i)
			}
			if _, err := f.Write(buf); err != nil {
				panic(err)
			}
			w.n.Add(int64(per))
		}
	}()
	return w
}

func (w *seqWriter) halt() int64 {
	close(w.stop)
	<-w.stopped
	return w.n.Load()
}

type proc struct {
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
	done   chan error
}

func startProc(t *testing.T, cfg string) *proc {
	t.Helper()
	addr := freeAddr(t)
	p := &proc{stderr: &syncBuffer{}, done: make(chan error, 1), base: "http://" + addr}
	p.cmd = exec.Command(exporterBinary(t), "--config.file", cfg, "--web.listen-address", addr)
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

// linesRead scrapes dbsec_lines_read_total of source "a".
func (p *proc) linesRead(t *testing.T) int64 {
	s, err := httpGet(p.base + "/metrics")
	if err != nil {
		return -1
	}
	return int64(value(parseExposition(t, s), "dbsec_lines_read_total", "source", "a"))
}

var stoppedRE = regexp.MustCompile(`msg="source stopped" source_name=a events=(\d+)`)

// term sends SIGTERM and returns the events the run reports in its
// "source stopped" line.
func (p *proc) term(t *testing.T) int64 {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit 30 s after SIGTERM\n%s", p.stderr.String())
	}
	m := stoppedRE.FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("no \"source stopped\" line\n%s", p.stderr.String())
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

func processConfig(t *testing.T, dir, logFile, export string) string {
	t.Helper()
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf(`[server]
state_dir = %q

[store]
enabled = false

[export]
path = %q
max_size = "1GiB"

[detect]
enabled = false

[[source]]
name = "a"
format = "mariadb-audit"
path = %q
start_at = "beginning"
`, dir, filepath.Join(dir, export), logFile)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

var seqRE = regexp.MustCompile(`SELECT (\d+)`)

// exportedSeqs counts how often each sequence number was exported.
func exportedSeqs(t *testing.T, path string) map[int64]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[int64]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := seqRE.FindSubmatch(sc.Bytes()); m != nil {
			n, _ := strconv.ParseInt(string(m[1]), 10, 64)
			seen[n]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return seen
}

func waitCaughtUp(t *testing.T, p *proc, want int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.linesRead(t) < want {
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d lines after 30 s\n%s", p.linesRead(t), want, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProcessSIGTERM stops the exporter with SIGTERM while the writer
// appends 10,000 lines/s, keeps writing while it is down, and starts it
// again: the two runs together read every line exactly once.
func TestProcessSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds and runs the exporter binary")
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "audit.log")
	cfg := processConfig(t, dir, logFile, "export.jsonl")
	w := startWriter(t, logFile, 10000)

	p1 := startProc(t, cfg)
	time.Sleep(1500 * time.Millisecond)
	n1 := p1.term(t) // in mid-stream: the writer does not pause
	time.Sleep(500 * time.Millisecond)
	p2 := startProc(t, cfg)
	time.Sleep(1500 * time.Millisecond)
	total := w.halt()
	waitCaughtUp(t, p2, total-n1)
	time.Sleep(300 * time.Millisecond) // a duplicate gets the chance to show
	n2 := p2.term(t)

	seen := exportedSeqs(t, filepath.Join(dir, "export.jsonl"))
	lost, dup := int64(0), int64(0)
	for i := int64(1); i <= total; i++ {
		switch c := seen[i]; {
		case c == 0:
			lost++
		case c > 1:
			dup += int64(c - 1)
		}
	}
	t.Logf("SIGTERM: %d lines written at 10,000 lines/s; run 1 read %d, run 2 read %d; lost %d, duplicated %d", total, n1, n2, lost, dup)
	if n1 == 0 || n1 >= total {
		t.Errorf("run 1 read %d of %d: the stop was not in mid-stream", n1, total)
	}
	if n1+n2 != total || lost != 0 || dup != 0 || int64(len(seen)) != total {
		t.Errorf("want every line once: %d+%d of %d, lost %d, duplicated %d, %d distinct exported", n1, n2, total, lost, dup, len(seen))
	}
}

// TestProcessSIGKILL kills the exporter with SIGKILL and starts it again.
// Nothing may be lost; the lines read after the last checkpoint are read
// again, and the test reports how many. The durable checkpoint is written
// every 5 s, the fast one (no fsync, survives a killed process) every
// 250 ms tick. The writer is paused just before the kill so that the first
// run's count is exact.
func TestProcessSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds and runs the exporter binary")
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "audit.log")
	cfg := processConfig(t, dir, logFile, "export-1.jsonl")
	w := startWriter(t, logFile, 10000)

	p1 := startProc(t, cfg)
	time.Sleep(7 * time.Second) // past one checkpoint interval
	w.paused.Store(true)
	time.Sleep(50 * time.Millisecond) // let a batch in progress land
	w1 := w.n.Load()
	waitCaughtUp(t, p1, w1)
	n1 := p1.linesRead(t)
	p1.kill(t)
	w.paused.Store(false)
	time.Sleep(500 * time.Millisecond)
	cfg = processConfig(t, dir, logFile, "export-2.jsonl") // run 2 exports to its own file
	p2 := startProc(t, cfg)
	time.Sleep(1000 * time.Millisecond)
	total := w.halt()
	// Run 2 re-reads from the checkpoint, so it reads at least total-n1.
	waitCaughtUp(t, p2, total-n1)
	time.Sleep(300 * time.Millisecond)
	n2 := p2.term(t)

	// Run 1's export may have lost its last second (the export flushes
	// every second, and SIGKILL gives it no chance), so the accounting
	// uses run 1's scraped count and run 2's export: run 2 must have read
	// a contiguous range ending at the last line and starting at or before
	// n1+1.
	seen := exportedSeqs(t, filepath.Join(dir, "export-2.jsonl"))
	first := int64(-1)
	for i := total; i >= 1 && seen[i] > 0; i-- {
		first = i
	}
	dup := n1 + n2 - total
	t.Logf("SIGKILL: %d lines written at 10,000 lines/s; run 1 read %d before the kill, run 2 read %d from line %d; lost 0 (contiguous), duplicated %d (%.2f s of writing)",
		total, n1, n2, first, dup, float64(dup)/10000)
	if n1 != w1 {
		t.Errorf("run 1 read %d of the %d lines written before the kill", n1, w1)
	}
	if first < 1 || first > n1+1 {
		t.Errorf("run 2 starts at line %d, after run 1's last line %d: lines lost", first, n1)
	}
	// The fast checkpoint follows every tick (250 ms): at 10,000 lines/s
	// at most about 2,500 lines are read again; 1 s of lines leaves room
	// for a loaded machine.
	if dup < 0 || dup > 10000 {
		t.Errorf("duplicated %d lines, want 0 ≤ dup ≤ 10,000 (1 s of writing)", dup)
	}
	if n2 != total-first+1 || int64(len(seen)) != n2 {
		t.Errorf("run 2 read %d lines, but its export covers %d..%d (%d distinct)", n2, first, total, len(seen))
	}
}

// TestBacklogRSS (DBSEC_BACKLOG=1; size DBSEC_BACKLOG_MB, default 1024)
// writes a backlog of MariaDB audit records, starts the exporter on it with
// the default store policy (DBSEC_BACKLOG_STORE=0: no store), and samples
// its RSS until it has caught up.
// Acceptance: the peak stays flat (bounded queues), whatever the backlog.
func TestBacklogRSS(t *testing.T) {
	if os.Getenv("DBSEC_BACKLOG") != "1" {
		t.Skip("set DBSEC_BACKLOG=1 (DBSEC_BACKLOG_MB, default 1024)")
	}
	mb := 1024
	if v, err := strconv.Atoi(os.Getenv("DBSEC_BACKLOG_MB")); err == nil && v > 0 {
		mb = v
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "audit.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var lines, size int64
	var buf []byte
	for size < int64(mb)<<20 {
		lines++
		buf = fmt.Appendf(buf[:0], "20261203 10:00:00,vm,app%d,10.0.%d.%d,%d,%d,QUERY,shop,'SELECT * FROM orders WHERE id = %d',0\n",
			lines%50, lines%7, lines%250, lines%1000, lines, lines)
		if lines%100 == 0 { // some security events for the store and the detectors
			buf = fmt.Appendf(buf[:0], "20261203 10:00:00,vm,app%d,10.0.0.9,%d,0,FAILED_CONNECT,,,1045\n", lines%50, lines%1000)
		}
		bw.Write(buf)
		size += int64(len(buf))
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf("[server]\nstate_dir = %q\n\n[[source]]\nname = \"a\"\nformat = \"mariadb-audit\"\npath = %q\nstart_at = \"beginning\"\n", dir, logFile)
	if os.Getenv("DBSEC_BACKLOG_STORE") == "0" { // the pipeline alone, without the store's page cache
		conf += "\n[store]\nenabled = false\n"
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	p := startProc(t, cfg)
	pid := p.cmd.Process.Pid
	var peak, samples int64
	rssAt := map[int]int64{} // by quarter of the backlog read
	deadline := time.Now().Add(30 * time.Minute)
	for {
		rss := vmRSS(t, pid)
		peak = max(peak, rss)
		samples++
		n := p.linesRead(t)
		if n >= 0 {
			q := int(4 * n / lines)
			if _, ok := rssAt[q]; !ok {
				rssAt[q] = rss
			}
		}
		if n >= lines {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d lines in 30 min", n, lines)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wall := time.Since(t0)
	hwm := vmHWM(t, pid)
	p.term(t)
	t.Logf("backlog %d MiB, %d lines: caught up in %v (%.0f lines/s, %.0f MB/s); RSS at 0/25/50/75 %% read: %d/%d/%d/%d MiB; sampled peak %d MiB, VmHWM %d MiB (%d samples)",
		mb, lines, wall.Round(time.Millisecond), float64(lines)/wall.Seconds(), float64(size)/1e6/wall.Seconds(),
		rssAt[0]>>10, rssAt[1]>>10, rssAt[2]>>10, rssAt[3]>>10, peak>>10, hwm>>10, samples)
	if hwm > 512<<10 {
		t.Errorf("peak RSS %d MiB for a %d MiB backlog: memory grows with the backlog", hwm>>10, mb)
	}
}

// vmRSS and vmHWM read /proc/<pid>/status, in KiB.
func vmRSS(t *testing.T, pid int) int64 { return procStatus(t, pid, "VmRSS:") }
func vmHWM(t *testing.T, pid int) int64 { return procStatus(t, pid, "VmHWM:") }

func procStatus(t *testing.T, pid int, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(regexp.QuoteMeta(key) + `\s+(\d+) kB`)
	m := re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s in /proc/%d/status", key, pid)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// TestMain removes the exporter binary built for the process tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
