package pipeline_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/formats"
	"github.com/dbsec/dbsec/pkg/pipeline"
)

var _ pipeline.Preparer = (*detect.Detector)(nil)

// genAudit is a TiDB audit-plugin log of n lines from a seeded generator:
// statements with their own literals from 40 users and 30 addresses, and
// the failed logins, DDL, grants, account changes, file access and
// injection artefacts that make the detectors fire.
func genAudit(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 7))
	t := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	out := make([]string, 0, n)
	for i := range n {
		t = t.Add(time.Duration(r.IntN(400)) * time.Millisecond)
		ts := t.Format("2006/01/02 15:04:05.000 +00:00")
		user := fmt.Sprintf("u%d", r.IntN(40))
		ip := fmt.Sprintf("10.0.%d.%d", r.IntN(3), r.IntN(10))
		class, sub, code, sql, stmt := "GENERAL", "", 0, "", "Select"
		switch k := r.IntN(100); {
		case k < 6:
			class, sub, code = "CONNECTION", "Connected", 1045
		case k < 9:
			class, sub = "CONNECTION", "Connected"
		case k < 10:
			sql, stmt = fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO 'x%d'@'%%'", r.IntN(5)), "Grant"
		case k < 11:
			sql, stmt = fmt.Sprintf("DROP TABLE t%d", r.IntN(8)), "DropTable"
		case k < 12:
			sql, stmt = fmt.Sprintf("SELECT * FROM t%d INTO OUTFILE '/tmp/o%d'", r.IntN(8), i), "Select"
		case k < 13:
			sql, stmt = fmt.Sprintf("SELECT name FROM users WHERE id = %d OR 1=1 -- x", i), "Select"
		case k < 14:
			sql, stmt = fmt.Sprintf("DELETE FROM orders%d", r.IntN(3)), "Delete"
		case k < 15:
			sql, stmt, code = "SELEC oops", "Select", 1064
		case k < 16:
			sql, stmt = fmt.Sprintf("ALTER USER 'root'@'%%' IDENTIFIED BY 'pw%d'", i), "AlterUser"
		case k < 17:
			sql, stmt = "SELECT user, authentication_string FROM mysql.user", "Select"
		case k < 60:
			sql = fmt.Sprintf("SELECT * FROM orders WHERE id = %d AND note = 'n\\\\%d'", r.IntN(100000), i)
		case k < 80:
			sql, stmt = fmt.Sprintf("UPDATE orders SET n = %d WHERE id = %d", i, r.IntN(1000)), "Update"
		default:
			sql, stmt = fmt.Sprintf("INSERT INTO audit_trail VALUES (%d, '%s')", i, user), "Insert"
		}
		if class == "CONNECTION" {
			out = append(out, fmt.Sprintf(`[%s] [INFO] [logger.go:77] [ID=%d] [TIMESTAMP=%s] [EVENT_CLASS=CONNECTION] [EVENT_SUBCLASS=%s] [STATUS_CODE=%d] [COST_TIME=0] [HOST=10.0.1.5] [CLIENT_IP=%s] [USER=%s] [CONNECTION_ID=%d]`,
				ts, i, ts, sub, code, ip, user, r.IntN(50)))
			continue
		}
		out = append(out, fmt.Sprintf(`[%s] [INFO] [logger.go:77] [ID=%d] [TIMESTAMP=%s] [EVENT_CLASS=GENERAL] [EVENT_SUBCLASS=] [STATUS_CODE=%d] [COST_TIME=900] [HOST=10.0.1.5] [CLIENT_IP=%s] [USER=%s] [DATABASES="[shop]"] [TABLES="[]"] [SQL_TEXT="%s"] [ROWS=%d] [CONNECTION_ID=%d] [CLIENT_PORT=51100] [PID=3141] [COMMAND=Query] [SQL_STATEMENTS=%s]`,
			ts, i, ts, code, ip, user, sql, r.IntN(20000), r.IntN(50), stmt))
		if r.IntN(200) == 0 {
			out = append(out, "garbage line "+fmt.Sprint(i))
		}
	}
	return out
}

// capture is a sink that keeps a clone of every event it gets.
type capture struct{ evs []*event.Event }

func (c *capture) Consume(ev *event.Event) { c.evs = append(c.evs, ev.Clone()) }

// runResult is what one run produced: the sink's events, the findings in
// the order the detector reported them, and the metrics.
type runResult struct {
	evs      []*event.Event
	findings []event.Detection
	metrics  string
}

// runStream sends the lines of each source through a pipeline with the
// given workers, the real detector as its stage (shared by the sources)
// and a capturing sink, flushing after every burst lines (as the file
// follower does after each read) and idling at the end.
func runStream(t *testing.T, workers, burst int, srcs map[string][]string, formatOf map[string]parse.Format) runResult {
	t.Helper()
	var res runResult
	r := detect.DefaultRules()
	for _, k := range []string{"D07", "D19", "D29", "D30", "D31", "D33"} {
		r.Rule(k).Learning = 0
	}
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	slices.Sort(names)
	ids := event.NewIDGen()
	d, err := detect.New(r, detect.Options{Sources: names, IDGen: ids,
		OnFinding: func(f *event.Detection) { res.findings = append(res.findings, f.Clone()) }})
	if err != nil {
		t.Fatal(err)
	}
	reg := collector.NewRegistry()
	specs := make([]collector.SourceSpec, len(names))
	for i, n := range names {
		specs[i] = collector.SourceSpec{Name: n, System: formatOf[n].System}
	}
	ms := reg.Configure(specs)
	k := &capture{}
	// The sources take turns, one burst each, as one exporter's sources
	// would interleave; each keeps its order.
	ps := make([]*pipeline.Source, len(names))
	for i, n := range names {
		ps[i] = pipeline.New(pipeline.Config{Name: n, Format: formatOf[n], Metrics: ms[i], Stage: d, Sinks: []pipeline.Sink{k}, IDGen: ids, Workers: workers})
	}
	pos := make([]int, len(names))
	for more := true; more; {
		more = false
		for i, n := range names {
			lines := srcs[n]
			end := min(pos[i]+burst, len(lines))
			for j := pos[i]; j < end; j++ {
				ps[i].HandleLine(input.Line{Text: []byte(lines[j]), File: n + ".log", Offset: int64(j) * 1000, Num: int64(j + 1)})
			}
			pos[i] = end
			// The flush of the burst: what the sink holds is what a
			// checkpoint may now cover.
			ps[i].Flush()
			if end < len(lines) {
				more = true
			}
		}
	}
	for _, p := range ps {
		p.Idle()
		p.Close()
	}
	res.evs = k.evs
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(reg, d.Collector())
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "dbsec_sqlx_cache") {
			continue // hits and misses depend on the interleaving of the workers
		}
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	res.metrics = b.String()
	return res
}

// normIDs replaces every event id (random per generator) by its ordinal.
func normIDs(res *runResult) {
	ord := map[string]string{}
	id := func(s string) string {
		if s == "" {
			return ""
		}
		if v, ok := ord[s]; ok {
			return v
		}
		v := fmt.Sprintf("#%d", len(ord))
		ord[s] = v
		return v
	}
	fix := func(h *event.Detection) {
		h.EventID = id(h.EventID)
		for i := range h.Evidence {
			h.Evidence[i] = id(h.Evidence[i])
		}
	}
	for _, ev := range res.evs {
		// A reused event's empty slices are empty, a fresh one's nil.
		if len(ev.Objects) == 0 {
			ev.Objects = nil
		}
		if len(ev.Detections) == 0 {
			ev.Detections = nil
		}
		if len(ev.Hits) == 0 {
			ev.Hits = nil
		}
		ev.ID = id(ev.ID)
		for i := range ev.Hits {
			fix(&ev.Hits[i])
		}
	}
	for i := range res.findings {
		fix(&res.findings[i])
	}
	// Exemplars carry event ids.
	lines := strings.Split(res.metrics, "\n")
	for i, l := range lines {
		if j := strings.Index(l, `event_id="`); j >= 0 {
			e := strings.IndexByte(l[j+10:], '"')
			lines[i] = l[:j+10] + id(l[j+10:j+10+e]) + l[j+10+e:]
		}
	}
	res.metrics = strings.Join(lines, "\n")
}

// TestWorkersSameAsSequential runs one generated stream, and the
// repository's sample logs, through workers=1 and workers=2, 3 and 8
// (bursts of various sizes, two sources sharing the detector): the sink
// must see the same events with the same detections in the same order,
// the detector must report the same findings, and the metrics must agree.
func TestWorkersSameAsSequential(t *testing.T) {
	tidb, _ := formats.Lookup("tidb-audit-plugin")
	// "big" has statements of 20 KiB: its batches are submitted before
	// they are full (batchBytes).
	var big []string
	for i, l := range genAudit(60, 4) {
		if i%2 == 0 {
			l = strings.Replace(l, `[SQL_TEXT="`, `[SQL_TEXT="/* `+strings.Repeat(fmt.Sprintf("pad%d ", i), 20<<10/6)+` */ `, 1)
		}
		big = append(big, l)
	}
	srcs := map[string][]string{"gen": genAudit(6000, 1), "gen2": genAudit(3000, 2), "big": big}
	formatOf := map[string]parse.Format{"gen": tidb, "gen2": tidb, "big": tidb}
	for name, file := range map[string]string{
		"tidb-audit-plugin": "../../testdata/tidb/tidb-audit-plugin.log",
		"mariadb-audit":     "../../testdata/mariadb/server_audit.log",
		"postgres":          "../../testdata/postgres/postgresql.log",
		"nginx-redash":      "../../testdata/redash/nginx-access.log",
		"tidb-slow":         "../../testdata/tidb/tidb-slow.log",
	} {
		f, ok := formats.Lookup(name)
		if !ok {
			t.Fatalf("no format %s", name)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		// Three times over, later copies an hour on, so that the
		// stateful rules see repeats.
		srcs[name] = append(append(append([]string{}, lines...), lines...), lines...)
		formatOf[name] = f
	}
	wants := map[int]runResult{}
	for _, c := range []struct{ workers, burst int }{{2, 100}, {3, 1}, {8, 5000}, {2, 63}} {
		want, ok := wants[c.burst]
		if !ok {
			// The sources interleave by bursts, so each burst size has
			// its own sequential run.
			want = runStream(t, 1, c.burst, srcs, formatOf)
			normIDs(&want)
			if len(want.evs) < 9000 || len(want.findings) < 50 {
				t.Fatalf("the stream is too quiet: %d events, %d findings", len(want.evs), len(want.findings))
			}
			wants[c.burst] = want
			t.Logf("burst %d: %d events, %d findings", c.burst, len(want.evs), len(want.findings))
		}
		got := runStream(t, c.workers, c.burst, srcs, formatOf)
		normIDs(&got)
		if len(got.evs) != len(want.evs) {
			t.Fatalf("workers %d: %d events, want %d", c.workers, len(got.evs), len(want.evs))
		}
		for i := range want.evs {
			if !reflect.DeepEqual(got.evs[i], want.evs[i]) {
				t.Fatalf("workers %d: event %d differs:\n got %+v\nwant %+v", c.workers, i, got.evs[i], want.evs[i])
			}
		}
		if !reflect.DeepEqual(got.findings, want.findings) {
			t.Errorf("workers %d: findings differ (%d vs %d)", c.workers, len(got.findings), len(want.findings))
		}
		if got.metrics != want.metrics {
			t.Errorf("workers %d: metrics differ:\n got %s\nwant %s", c.workers, got.metrics, want.metrics)
		}
	}
}

const failedLogin = `[2026/11/30 09:00:00.101 +08:00] [INFO] [logger.go:77] [ID=1] [TIMESTAMP=2026/11/30 09:00:00.101 +08:00] [EVENT_CLASS=CONNECTION] [EVENT_SUBCLASS=Connected] [STATUS_CODE=1045] [COST_TIME=0] [HOST=10.0.1.5] [CLIENT_IP=203.0.113.5] [USER=admin] [CONNECTION_ID=7]`

// TestNoAllocPerLineWorkers: with workers, a batch of login or statement
// lines costs no allocation after the warm-up (the analysis cache copies
// what it keeps, so the statement stays in the batch's reused buffer).
func TestNoAllocPerLineWorkers(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	tidb, _ := formats.Lookup("tidb-audit-plugin")
	for _, c := range []struct {
		line string
		max  float64
	}{{failedLogin, 0}, {stageLines[1], 0}} {
		reg := collector.NewRegistry()
		m := reg.Configure([]collector.SourceSpec{{Name: "a", System: event.SystemTiDB}})[0]
		d, err := detect.New(detect.DefaultRules(), detect.Options{Sources: []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		s := pipeline.New(pipeline.Config{Name: "a", Format: tidb, Metrics: m, Stage: d, Workers: 2})
		l := input.Line{Text: []byte(c.line), File: "a.log", Num: 1}
		batch := func() {
			for range 64 {
				s.HandleLine(l)
			}
			s.Flush()
		}
		for range 20 {
			batch()
		}
		if n := testing.AllocsPerRun(50, batch) / 64; n > c.max {
			t.Errorf("%v allocations per line with workers, want at most %v: %.60s", n, c.max, c.line)
		}
		s.Close()
	}
}
