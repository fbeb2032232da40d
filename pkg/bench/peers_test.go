package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/input/replay"
	"github.com/dbsec/dbsec/pkg/parse/formats"
	"github.com/dbsec/dbsec/pkg/pipeline"
)

// sharedMetrics are the counters both dbsec and the mtail programs in
// mtail/ produce, with the same names and labels (dbsec's source and system
// labels left out).
var sharedMetrics = []string{
	"dbsec_lines_read_total",
	"dbsec_events_total",
	"dbsec_login_attempts_total",
	"dbsec_ddl_statements_total",
	"dbsec_privilege_changes_total",
	"dbsec_statements_total",
	"dbsec_access_denied_total",
}

// mtailBinary returns the path of Debian's mtail. Without it the test
// fails when CI is set and is skipped otherwise.
func mtailBinary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("mtail")
	if err != nil {
		msg := "mtail missing: install the Debian package mtail"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// counts maps "name{label=value,…}" to the value of every non-zero series
// of the shared metrics.
type counts map[string]float64

func addFamilies(c counts, mfs []*dto.MetricFamily) {
	for _, mf := range mfs {
		if !slices.Contains(sharedMetrics, mf.GetName()) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "source", "system", "prog":
					continue
				}
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			v := m.GetCounter().GetValue()
			if m.GetCounter() == nil {
				v = m.GetUntyped().GetValue()
			}
			if v != 0 {
				c[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] += v
			}
		}
	}
}

// parseExposition reads a Prometheus text exposition.
func parseExposition(t testing.TB, b []byte) []*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("exposition: %v\n%s", err, b)
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		out = append(out, f)
	}
	return out
}

// runMtail runs mtail once over a log with the program of its format and
// returns its exposition and its CPU time (user + system of the child).
func runMtail(t testing.TB, mtail, format, log string) ([]byte, time.Duration, time.Duration) {
	t.Helper()
	prog, err := filepath.Abs(filepath.Join("mtail", format+".mtail"))
	if err != nil {
		t.Fatal(err)
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(mtail, "--one_shot", "--one_shot_format=prometheus", "--emit_prog_label=false",
		"--logtostderr", "--address", "127.0.0.1", "--port", "0", "--progs", prog, "--logs", log)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("mtail: %v\n%s", err, stderr.String())
	}
	return out.Bytes(), time.Since(t0), cpuOf(cmd.ProcessState)
}

func cpuOf(ps *os.ProcessState) time.Duration {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return ps.UserTime() + ps.SystemTime()
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// dbsecCounts runs the metrics path of dbsec (parser, classifier,
// counters) over a log in this process.
func dbsecCounts(t *testing.T, format, log string) counts {
	t.Helper()
	f, ok := formats.Lookup(format)
	if !ok {
		t.Fatalf("format %s not registered", format)
	}
	sources := collector.NewRegistry()
	src := sources.Configure([]collector.SourceSpec{{Name: "s", System: f.System}})[0]
	pl := pipeline.New(pipeline.Config{Name: "s", Format: f, Metrics: src})
	if err := pl.Run(context.Background(), replay.New(log)); err != nil {
		t.Fatal(err)
	}
	if pl.Errors() != 0 {
		t.Fatalf("%s: %d parse errors", format, pl.Errors())
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(sources)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	c := counts{}
	addFamilies(c, mfs)
	return c
}

// TestMtailCountsEqual: on a generated corpus of every issue-16 format,
// the mtail programs in mtail/ count exactly what dbsec counts, series by
// series, so that the throughput comparison (TestPeersThroughput) is like
// for like.
func TestMtailCountsEqual(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts mtail")
	}
	mtail := mtailBinary(t)
	for _, format := range RealisticFormats {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			log := filepath.Join(t.TempDir(), format+".log")
			if err := WriteRealistic(log, format, 20_000); err != nil {
				t.Fatal(err)
			}
			want := dbsecCounts(t, format, log)
			out, _, _ := runMtail(t, mtail, format, log)
			got := counts{}
			addFamilies(got, parseExposition(t, out))
			if len(want) < 8 {
				t.Fatalf("dbsec counted only %v", want)
			}
			keys := map[string]bool{}
			for k := range want {
				keys[k] = true
			}
			for k := range got {
				keys[k] = true
			}
			sorted := make([]string, 0, len(keys))
			for k := range keys {
				sorted = append(sorted, k)
			}
			sort.Strings(sorted)
			for _, k := range sorted {
				if want[k] != got[k] {
					t.Errorf("%s: dbsec %v, mtail %v", k, want[k], got[k])
				}
			}
			t.Logf("%d series equal", len(want))
		})
	}
}

// exporterBinary builds the exporter once for the throughput runs.
var (
	exporterOnce sync.Once
	exporterPath string
	exporterErr  error
)

func exporterBinary(t testing.TB) string {
	t.Helper()
	exporterOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dbsec-bench-bin-")
		if err != nil {
			exporterErr = err
			return
		}
		exporterPath = filepath.Join(dir, "dbsec_exporter")
		out, err := exec.Command("go", "build", "-o", exporterPath, "github.com/dbsec/dbsec/exporter").CombinedOutput()
		if err != nil {
			exporterErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if exporterErr != nil {
		t.Fatal(exporterErr)
	}
	return exporterPath
}

// runOnce runs `dbsec_exporter --once` over one log and returns its wall
// and CPU time; it fails unless every line was read without a parse error.
func runOnce(t testing.TB, bin, dir, format, log string, lines int, detect bool) (time.Duration, time.Duration) {
	t.Helper()
	cfg := filepath.Join(dir, fmt.Sprintf("%s-%v.toml", format, detect))
	conf := fmt.Sprintf("[server]\nstate_dir = %q\n\n[detect]\nenabled = %v\n\n[[source]]\nname = \"s\"\nformat = %q\npath = %q\n",
		dir, detect, format, log)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(bin, "--once", "--config.file", cfg, "--log.level", "warn")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("dbsec --once: %v\n%s", err, stderr.String())
	}
	wall, cpu := time.Since(t0), cpuOf(cmd.ProcessState)
	c := counts{}
	addFamilies(c, parseExposition(t, out.Bytes()))
	if c["dbsec_lines_read_total{}"] != float64(lines) {
		t.Fatalf("%s: dbsec read %v lines of %d", format, c["dbsec_lines_read_total{}"], lines)
	}
	if bytes.Contains(out.Bytes(), []byte("dbsec_parse_errors_total{")) {
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "dbsec_parse_errors_total{") && !strings.HasSuffix(l, " 0") {
				t.Fatalf("%s: %s", format, l)
			}
		}
	}
	return wall, cpu
}

func median(d []float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// TestPeersThroughput is issue 16's measurement: for each input, lines per
// CPU-second of `dbsec_exporter --once` with detections off and on (the
// default rules, as the exporter wires them), and of mtail with the
// program in mtail/ for the same counts, run one after the other on the same
// generated file, medians of DBSEC_BENCH_RUNS runs (3). CPU time is the
// child's user + system time (getrusage), so a process that uses both
// cores is charged for both. Opt-in: DBSEC_BENCH_PEERS=1 (`go tool mage
// benchPeers`); DBSEC_BENCH_LINES sets the corpus size (1 M),
// DBSEC_BENCH_FORMATS a comma-separated subset.
func TestPeersThroughput(t *testing.T) {
	if os.Getenv("DBSEC_BENCH_PEERS") != "1" {
		t.Skip("set DBSEC_BENCH_PEERS=1 (go tool mage benchPeers)")
	}
	lines := Lines
	if v, err := strconv.Atoi(os.Getenv("DBSEC_BENCH_LINES")); err == nil && v > 0 {
		lines = v
	}
	runs := 3
	if v, err := strconv.Atoi(os.Getenv("DBSEC_BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	fmts := RealisticFormats
	if v := os.Getenv("DBSEC_BENCH_FORMATS"); v != "" {
		fmts = strings.Split(v, ",")
	}
	mtail, err := exec.LookPath("mtail")
	if err != nil {
		t.Log("mtail missing: install the Debian package mtail; its column is left empty")
	}
	bin := exporterBinary(t)
	dir := t.TempDir()
	type row struct {
		format                  string
		off, on, mt             []float64 // lines per CPU-second
		offWall, onWall, mtWall []float64 // lines per wall second
	}
	var rows []row
	load0, _ := os.ReadFile("/proc/loadavg")
	for _, format := range fmts {
		log, err := RealisticPath(format, lines)
		if err != nil {
			t.Fatal(err)
		}
		r := row{format: format}
		for range runs {
			w, c := runOnce(t, bin, dir, format, log, lines, false)
			r.off, r.offWall = append(r.off, float64(lines)/c.Seconds()), append(r.offWall, float64(lines)/w.Seconds())
			w, c = runOnce(t, bin, dir, format, log, lines, true)
			r.on, r.onWall = append(r.on, float64(lines)/c.Seconds()), append(r.onWall, float64(lines)/w.Seconds())
			if mtail != "" {
				out, w, c := runMtail(t, mtail, format, log)
				got := counts{}
				addFamilies(got, parseExposition(t, out))
				if got["dbsec_lines_read_total{}"] != float64(lines) {
					t.Fatalf("%s: mtail read %v lines of %d", format, got["dbsec_lines_read_total{}"], lines)
				}
				r.mt, r.mtWall = append(r.mt, float64(lines)/c.Seconds()), append(r.mtWall, float64(lines)/w.Seconds())
			}
		}
		t.Logf("%s: off %v, on %v, mtail %v lines/CPU-s", format, r.off, r.on, r.mt)
		rows = append(rows, r)
	}
	load1, _ := os.ReadFile("/proc/loadavg")
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d lines per input, medians of %d runs, lines per CPU-second (lines per wall second), GOMAXPROCS unset (%d CPUs)\n\n", lines, runs, runtime.NumCPU())
	b.WriteString("| input | detections off | detections on | mtail | on / mtail |\n|---|---:|---:|---:|---:|\n")
	for _, r := range rows {
		mt, ratio := "skipped (no mtail)", "—"
		if len(r.mt) > 0 {
			mt = fmt.Sprintf("%s (%s)", human(median(r.mt)), human(median(r.mtWall)))
			ratio = fmt.Sprintf("%.2f×", median(r.on)/median(r.mt))
		}
		fmt.Fprintf(&b, "| %s | %s (%s) | %s (%s) | %s | %s |\n", r.format, human(median(r.off)), human(median(r.offWall)),
			human(median(r.on)), human(median(r.onWall)), mt, ratio)
	}
	fmt.Fprintf(&b, "\nload average before: %s; after: %s", strings.TrimSpace(string(load0)), strings.TrimSpace(string(load1)))
	fmt.Println(b.String())
}
