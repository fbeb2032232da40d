package victorialogs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/storetest"
	"github.com/dbsec/dbsec/pkg/store/victorialogs/vltest"
)

var faultStart = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

// waitUntil polls cond every 20 ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawCount counts stored event records, duplicates included, and distinct ids.
func rawCount(t *testing.T, s *Store, exporter string) (records, distinct int64) {
	t.Helper()
	retry(t, func() error {
		return s.cl.query(context.Background(), "kind:=event exporter:="+lit(exporter)+" | stats count() n, count_uniq(seq) u", func(r row) bool {
			records, distinct = r.int("n"), r.int("u")
			return false
		})
	})
	return
}

// retry runs fn until it succeeds, for at most 30 s: right after a restart
// a cluster may still refuse or cut a query short.
func retry(t *testing.T, fn func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = fn(); err == nil {
			return
		}
	}
	t.Fatal(err)
}

// checkAll checks through the Querier that exactly n distinct events of
// the exporter are visible, once each, and that its chain verifies.
func checkAll(t *testing.T, s *Store, n int64) {
	t.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	for cursor := ""; ; {
		var p store.EventPage
		retry(t, func() (err error) { p, err = s.Events(ctx, store.EventQuery{Limit: 5000, Cursor: cursor}); return err })
		for _, ev := range p.Events {
			if seen[ev.ID] {
				t.Fatalf("event %s paged twice", ev.ID)
			}
			seen[ev.ID] = true
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if int64(len(seen)) != n {
		t.Fatalf("paged %d distinct events, want %d", len(seen), n)
	}
	var sr store.SeriesResult
	retry(t, func() (err error) { sr, err = s.Series(ctx, store.SeriesQuery{Step: 24 * time.Hour}); return err })
	if len(sr.Series) != 1 || sr.Series[0].Total != n {
		t.Fatalf("series total: %+v, want %d", sr.Series, n)
	}
	var rep store.IntegrityReport
	retry(t, func() (err error) { rep, err = s.Integrity(ctx, store.IntegrityQuery{}); return err })
	if !rep.OK || rep.Checked != n {
		t.Fatalf("integrity: %+v %+v, want %d verified", rep, rep.FirstBreak, n)
	}
}

// flakyProxy forwards to target; while failed < budget, inserts reach
// VictoriaLogs but the client is told they failed, so the engine sends
// them again.
func flakyProxy(t *testing.T, target string, budget *atomic.Int64) (string, *atomic.Int64) {
	t.Helper()
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	var failed atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if strings.HasPrefix(r.URL.Path, "/insert/") {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		// Only batches of events lose their answer (resend markers pass).
		if bytes.Contains(body, []byte(eventMarker)) && failed.Load() < budget.Load() {
			rec := &discardWriter{h: http.Header{}}
			rp.ServeHTTP(rec, r)
			if rec.code/100 == 2 {
				failed.Add(1)
				http.Error(w, "proxy: answer lost", http.StatusBadGateway)
				return
			}
			w.WriteHeader(rec.code)
			return
		}
		rp.ServeHTTP(w, r)
	})}
	l, err := listenLocal()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String(), &failed
}

type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) {
	if d.code == 0 {
		d.code = 200
	}
	return len(b), nil
}
func (d *discardWriter) WriteHeader(c int) { d.code = c }

// TestClusterDownQueueDrains: the whole cluster goes down while the
// exporter keeps consuming; the on-disk queue holds every event, drains
// once the cluster is back, and nothing is lost. Inserts whose answer is
// lost are sent again: the duplicates are stored but invisible.
func TestClusterDownQueueDrains(t *testing.T) {
	c := vltest.StartCluster(t, 2)
	var budget atomic.Int64
	proxy, failed := flakyProxy(t, c.URL(), &budget)
	dir := t.TempDir()
	s, err := Open(Options{InsertURL: proxy, SelectURL: c.URL(), Exporter: "fault-a", QueueDir: dir, Policy: store.Policy{AllStatements: true},
		FlushInterval: 50 * time.Millisecond, BatchSize: 2000, MaxBackoff: 300 * time.Millisecond, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	g := storetest.New(7, faultStart, 24*time.Hour, 1<<30)
	n1, n2 := int64(8000/raceDiv), int64(12000/raceDiv)
	for range n1 {
		s.Consume(g.Next())
	}
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	cancel()

	// The whole cluster goes down; the exporter keeps consuming.
	for _, n := range append(c.Storage, c.Front) {
		n.Kill()
	}
	down := time.Now()
	for range n2 {
		s.Consume(g.Next())
	}
	waitUntil(t, 10*time.Second, "inserts fail and everything is queued", func() bool {
		st := s.Stats()
		return st.Errors > 0 && st.Queued == n2 && st.Stored == n1
	})
	if st := s.Stats(); st.Bytes == 0 || st.Dropped != 0 {
		t.Fatalf("while down: %+v", st)
	}
	// Queries say the cluster is unreachable.
	if _, err := s.Events(ctx, store.EventQuery{}); err == nil {
		t.Fatal("a query with the cluster down succeeded")
	}
	// Down for a while: 3 s, or DBSEC_VLOGS_OUTAGE (e.g. 1m).
	outage := 3 * time.Second
	if d, err := time.ParseDuration(os.Getenv("DBSEC_VLOGS_OUTAGE")); err == nil {
		outage = d
	}
	time.Sleep(outage)
	if st := s.Stats(); st.Queued != n2 || st.Stored != n1 {
		t.Fatalf("queue did not hold: %+v", st)
	}
	for _, n := range c.Storage {
		n.Start()
	}
	c.Front.Start()
	budget.Store(3) // the first answers after the outage are lost
	up := time.Now()
	fctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	drained := time.Since(up)
	st := s.Stats()
	if st.Stored != n1+n2 || st.Queued != 0 || st.Dropped != 0 {
		t.Fatalf("after the outage: %+v", st)
	}
	if failed.Load() != 3 {
		t.Fatalf("the proxy lost %d answers, want 3", failed.Load())
	}
	records, distinct := rawCount(t, s, "fault-a")
	if distinct != n1+n2 || records <= distinct {
		t.Fatalf("stored %d records, %d distinct; want %d distinct and some duplicates from the lost answers", records, distinct, n1+n2)
	}
	checkAll(t, s, n1+n2)
	t.Logf("cluster down %.1fs while %d events were consumed: all queued, drained %.2fs after the cluster was back; 0 lost (%d events in acknowledged batches that the killed nodes had lost were sent again); %d duplicate records stored, none visible",
		up.Sub(down).Seconds(), n2, drained.Seconds(), s.resent.Load(), records-distinct)
}

// TestStorageNodeKilled kills one storage node during ingest and starts it
// again: queries during the outage fail with an error naming the node
// (no silently partial answers), nothing is lost once it is back.
func TestStorageNodeKilled(t *testing.T) {
	// The front node would answer from the remaining storage node (200,
	// nothing in the answer saying it is partial); the engine asks it not
	// to.
	c := vltest.StartCluster(t, 2, "-search.allowPartialResponse")
	s := openOn(t, c.URL(), "fault-b")
	defer s.Close(context.Background())
	ctx := context.Background()
	g := storetest.New(8, faultStart, 24*time.Hour, 1<<30)
	n := int64(30000 / raceDiv)
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		// Kill storage node 0 once a third is stored.
		for s.Stats().Stored < n/3 {
			time.Sleep(5 * time.Millisecond)
		}
		c.Storage[0].Kill()
	}()
	for i := range n {
		s.Consume(g.Next())
		if i%(1000/raceDiv) == 0 {
			time.Sleep(5 * time.Millisecond) // a steady stream, not one burst
		}
	}
	<-killed
	_, qerr := s.Events(ctx, store.EventQuery{})
	if qerr == nil || !strings.Contains(qerr.Error(), "storage node") {
		t.Fatalf("a query with a storage node down: %v, want an error naming the node (not an answer from part of the data)", qerr)
	}
	t.Logf("query during the outage: %v", qerr)
	c.Storage[0].Start()
	fctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Stored != n || st.Dropped != 0 {
		t.Fatalf("after the restart: %+v", st)
	}
	checkAll(t, s, n)
	t.Logf("storage node killed at %d/%d events and restarted: %d events in batches found incomplete after acknowledgement were sent again; 0 lost", n/3, n, s.resent.Load())
}

// TestSIGKILLMidBatch kills a process that is consuming events with
// SIGKILL; a new engine on the same queue directory sends what the killed
// one had queued, the chain continues, and every event the killed process
// had consumed is stored.
func TestSIGKILLMidBatch(t *testing.T) {
	if dir := os.Getenv("DBSEC_VL_CHILD_DIR"); dir != "" {
		s, err := Open(Options{InsertURL: os.Getenv("DBSEC_VL_CHILD_URL"), Exporter: "fault-c", QueueDir: dir, Policy: store.Policy{AllStatements: true},
			FlushInterval: 200 * time.Millisecond, BatchSize: 3000})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(3)
		}
		g := storetest.New(9, faultStart, 24*time.Hour, 1<<30)
		for i := 1; ; i++ {
			s.Consume(g.Next())
			if i%500 == 0 {
				fmt.Println("consumed", i) // every event up to i has returned from Consume
			}
		}
	}
	n := vltest.StartNode(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLMidBatch$")
	cmd.Env = append(os.Environ(), "DBSEC_VL_CHILD_DIR="+dir, "DBSEC_VL_CHILD_URL="+n.URL())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var consumed int64
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "consumed" {
			consumed, _ = strconv.ParseInt(f[1], 10, 64)
		}
		if consumed >= 20000/raceDiv {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	_ = cmd.Wait()
	if consumed < 20000/raceDiv {
		t.Fatalf("child consumed %d events", consumed)
	}
	// The next start on the same state directory.
	s, err := Open(Options{InsertURL: n.URL(), Exporter: "fault-c", QueueDir: dir, Policy: store.Policy{AllStatements: true}, FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	_, distinct := rawCount(t, s, "fault-c")
	if distinct < consumed {
		t.Fatalf("%d events stored, but the killed process had consumed %d", distinct, consumed)
	}
	checkAll(t, s, distinct)
	// The chain continues across the kill.
	g := storetest.New(10, faultStart.Add(48*time.Hour), time.Hour, 100)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		s.Consume(ev)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkAll(t, s, distinct+100)
	t.Logf("SIGKILL after %d events had returned from Consume: %d stored after the restart (0 lost), chain verified across the kill", consumed, distinct)
}

// TestTamperedChain re-inserts an exporter's records into other tenants:
// identical (a retry: verifies), with one record changed (an edit), with
// one record missing (a lost batch), and with a forged second record of
// one sequence number.
func TestTamperedChain(t *testing.T) {
	n := vltest.StartNode(t)
	src := openOn(t, n.URL(), "tamper")
	defer src.Close(context.Background())
	ctx := context.Background()
	g := storetest.New(11, faultStart, time.Hour, 300)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		src.Consume(ev)
	}
	if err := src.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var recs []row
	if err := src.cl.query(ctx, "kind:=event | sort by (seq)", func(r row) bool { recs = append(recs, r); return true }); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 300 {
		t.Fatalf("read %d records", len(recs))
	}
	line := func(r row) []byte {
		var fs []kv
		for k, v := range r {
			if !strings.HasPrefix(k, "_") {
				fs = append(fs, kv{k, v})
			}
		}
		tm, _ := r.time()
		return appendRecord(nil, tm, r["_msg"], fs)
	}
	for i, tc := range []struct {
		name   string
		mutate func([]row) []row
		seq    int64
		reason string
	}{
		{"retry", func(rs []row) []row { return append(rs, rs[100:150]...) }, 0, ""},
		{"edit", func(rs []row) []row {
			e := row{}
			for k, v := range rs[120] {
				e[k] = v
			}
			e["user"] = "someone_else"
			rs[120] = e
			return rs
		}, 121, "hash mismatch"},
		{"gap", func(rs []row) []row { return append(rs[:200:200], rs[201:]...) }, 201, "missing"},
		{"forged", func(rs []row) []row {
			e := row{}
			for k, v := range rs[50] {
				e[k] = v
			}
			e["statement"] = "SELECT 1"
			return append(rs, e)
		}, 51, "two different events|hash mismatch"}, // whichever of the two is read first
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.mutate(append([]row(nil), recs...))
			var body []byte
			for _, r := range rs {
				body = append(body, line(r)...)
			}
			s, err := Open(Options{InsertURL: n.URL(), Exporter: "tamper", QueueDir: t.TempDir(), AccountID: uint32(10 + i)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			if err := s.cl.insert(ctx, body); err != nil {
				t.Fatal(err)
			}
			s.cl.forceFlush(ctx)
			var rep store.IntegrityReport
			waitUntil(t, 10*time.Second, "the re-inserted records are searchable", func() bool {
				rep, err = s.Integrity(ctx, store.IntegrityQuery{})
				return err == nil && rep.End == 300
			})
			if tc.seq == 0 {
				if !rep.OK || rep.Checked != 300 {
					t.Fatalf("want a verified chain of 300, got %+v %+v", rep, rep.FirstBreak)
				}
				return
			}
			if rep.OK || rep.FirstBreak == nil || rep.FirstBreak.Seq != tc.seq || !regexp.MustCompile(tc.reason).MatchString(rep.FirstBreak.Reason) {
				t.Fatalf("want a break at %d (%s), got %+v %+v", tc.seq, tc.reason, rep, rep.FirstBreak)
			}
			// The range before the break verifies.
			part, err := s.Integrity(ctx, store.IntegrityQuery{Start: 1, End: tc.seq - 1})
			if err != nil || !part.OK || part.Checked != tc.seq-1 {
				t.Fatalf("before the break: %+v %v", part, err)
			}
		})
	}
	// The tenants are apart: the source tenant still verifies, and sees
	// 300 events only.
	checkAll(t, src, 300)
}

func listenLocal() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// TestBackPressure: with VictoriaLogs unreachable and the queue full,
// ConsumeWait (a file source) blocks and drops nothing, while Consume (a
// network source) drops after its short wait, counted; Close releases the
// waiter, and the next start on the same directory delivers every event
// that was queued.
func TestBackPressure(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{InsertURL: "http://127.0.0.1:1", Exporter: "bp", QueueDir: dir, Policy: store.Policy{AllStatements: true},
		MaxQueueBytes: 1 << 20, MaxBackoff: 200 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var consumed atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		g := storetest.New(12, faultStart, time.Hour, 20000)
		for ev := g.Next(); ev != nil; ev = g.Next() {
			_ = s.ConsumeWait(context.Background(), ev)
			consumed.Add(1)
		}
	}()
	// Blocked: the count stops moving with the queue at its bound.
	last, still := int64(-1), 0
	waitUntil(t, 30*time.Second, "ConsumeWait blocks on the full queue", func() bool {
		c := consumed.Load()
		if c == last {
			still++
		} else {
			last, still = c, 0
		}
		return still >= 25
	})
	st := s.Stats()
	if last >= 20000 || st.Dropped != 0 || st.Bytes < 1<<20 || st.Queued != last+1 && st.Queued != last {
		t.Fatalf("blocked after %d events: %+v", last, st)
	}
	// A network source's event is dropped after the short wait, counted,
	// although a file source is blocked at the same time; a waiter whose
	// context ends gives up, counted too.
	t0 := time.Now()
	s.Consume(storetest.New(13, faultStart, time.Hour, 1).Next())
	if d := time.Since(t0); d > 5*time.Second || s.Stats().Dropped != 1 {
		t.Fatalf("Consume on a full queue: returned after %v, %+v", d, s.Stats())
	}
	t0 = time.Now()
	wctx, wcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = s.ConsumeWait(wctx, storetest.New(14, faultStart, time.Hour, 1).Next())
	wcancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 5*time.Second || s.Stats().Dropped != 2 {
		t.Fatalf("ConsumeWait with a deadline on a full queue: %v after %v, %+v", err, time.Since(t0), s.Stats())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); err == nil {
		t.Fatal("Close with VictoriaLogs down reported everything sent")
	}
	<-done // released: the events after Close are counted as dropped
	st = s.Stats()
	kept := st.Queued
	if kept < last || st.Dropped != 20000-kept+2 {
		t.Fatalf("after Close: %+v (consumed %d before blocking)", st, last)
	}
	// The next start delivers the queue.
	n := vltest.StartNode(t)
	s2, err := Open(Options{InsertURL: n.URL(), Exporter: "bp", QueueDir: dir, Policy: store.Policy{AllStatements: true}, FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close(context.Background())
	fctx, fcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer fcancel()
	if err := s2.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	checkAll(t, s2, kept)
	t.Logf("queue of 1 MiB full after %d events: ConsumeWait (file source) blocked, 0 dropped; Consume (network source) dropped after its wait, counted; %d queued events delivered by the next start", last, kept)
}
