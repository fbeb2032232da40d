package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/victorialogs/vltest"
)

// TestFleetOnVictoriaLogs runs a fleet against a real two-storage-node
// VictoriaLogs cluster: two exporters with different sources write to it,
// and a third exporter without sources answers the JSON API for both.
func TestFleetOnVictoriaLogs(t *testing.T) {
	c := vltest.StartCluster(t, 2)
	sample, err := os.ReadFile("../testdata/tidb/tidb-audit-plugin.log")
	if err != nil {
		t.Fatal(err)
	}
	start := func(name, source string) (*api.Client, func()) {
		dir := t.TempDir()
		conf := fmt.Sprintf(`[server]
state_dir = %q

[store]
engine = "victorialogs"
all_statements = true

[store.victorialogs]
insert_url = %q
exporter = %q
flush_interval = "200ms"
`, dir, c.URL(), name)
		if source != "" {
			logFile := filepath.Join(dir, "audit.log")
			if err := os.WriteFile(logFile, sample, 0o600); err != nil {
				t.Fatal(err)
			}
			conf += fmt.Sprintf(`
[[source]]
name = %q
format = "tidb-audit-plugin"
path = %q
start_at = "beginning"
timezone = "Asia/Shanghai"
`, source, logFile)
		}
		cfg := filepath.Join(dir, "dbsec.toml")
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		// Each exporter is its own process, as on its own host.
		p := startProc(t, cfg)
		return api.NewClient(p.base, &http.Client{Timeout: 10 * time.Second}), func() { p.kill(t) }
	}
	a, stopA := start("host-a", "tidb-a")
	defer stopA()
	b, stopB := start("host-b", "tidb-b")
	defer stopB()
	query, stopQ := start("query", "")
	defer stopQ()

	ctx := context.Background()
	// Each writer reads the sample and acknowledges its events.
	var per int64
	for _, cl := range []*api.Client{a, b} {
		waitFor(t, 30*time.Second, func() bool {
			st, err := cl.Status(ctx)
			if err != nil || len(st.Sources) != 1 || st.Sources[0].Events == 0 || st.Store.Stored != int64(st.Sources[0].Events) || st.Store.Queued != 0 {
				return false
			}
			per = st.Store.Stored
			return true
		})
	}
	if per < 20 {
		t.Fatalf("only %d events per exporter", per)
	}
	// The query node sees both exporters' events.
	f := store.Filter{From: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Now().Add(time.Hour)}
	var top api.TopResult
	waitFor(t, 30*time.Second, func() bool {
		top, err = query.Top(ctx, store.TopQuery{Filter: f, By: store.DimSource, Limit: 10})
		return err == nil && len(top.Items) == 2 && top.Items[0].Count == per && top.Items[1].Count == per
	})
	// Paging reads what the engine has made searchable; wait for all of it.
	total := 0
	ids := map[string]int{}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		total = 0
		clear(ids)
		for cursor := ""; ; {
			p, err := query.Events(ctx, store.EventQuery{Filter: f, Limit: 7, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			total += len(p.Events)
			for _, ev := range p.Events {
				ids[ev.Source]++
			}
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if int64(total) == 2*per {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("query node pages %d events (by source %v), want %d", total, ids, 2*per)
		}
	}
	rep, err := query.Integrity(ctx, store.IntegrityQuery{})
	if err != nil || !rep.OK || rep.Checked != 2*per {
		t.Fatalf("integrity over both chains: %+v %+v %v", rep, rep.FirstBreak, err)
	}
	st, err := query.Status(ctx)
	if err != nil || len(st.Sources) != 0 || st.Store.Stored != 0 {
		t.Fatalf("query node status: %+v %v", st, err)
	}
	t.Logf("two exporters wrote %d events each; the query node pages, ranks and verifies all %d", per, 2*per)
}

// TestProcessSIGKILLVictoriaLogs kills an exporter that writes to
// VictoriaLogs with SIGKILL while a writer appends 5,000 lines/s, and
// starts it again on the same state directory: every line is stored (the
// lines read after the last checkpoint are read again, as with any store),
// and the exporter's hash chain verifies across the kill.
func TestProcessSIGKILLVictoriaLogs(t *testing.T) {
	vl := vltest.StartNode(t)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "audit.log")
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf(`[server]
state_dir = %q

[store]
engine = "victorialogs"
all_statements = true

[store.victorialogs]
insert_url = %q
exporter = "kill-test"
flush_interval = "200ms"

[detect]
enabled = false

[[source]]
name = "a"
format = "mariadb-audit"
path = %q
start_at = "beginning"
`, dir, vl.URL(), logFile)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	w := startWriter(t, logFile, 5000)
	p1 := startProc(t, cfg)
	// Past the first durable checkpoint (5 s), as in TestProcessSIGKILL.
	waitFor(t, 60*time.Second, func() bool { return p1.linesRead(t) >= 40000 })
	n1 := p1.linesRead(t)
	p1.kill(t) // mid-stream: the writer keeps writing
	p2 := startProc(t, cfg)
	waitFor(t, 30*time.Second, func() bool { return p2.linesRead(t) >= 1000 })
	total := w.halt()
	// Every line 1..total is stored.
	// records: stored event records (a batch sent again after the kill
	// is stored twice); events: distinct ids; lines: distinct statements.
	count := func() (records, events, lines int64) {
		resp, err := http.PostForm(vl.URL()+"/select/logsql/query", url.Values{"query": {`kind:=event exporter:="kill-test" | stats count() n, count_uniq(seq) e, count_uniq(statement) u`}})
		if err != nil {
			return 0, 0, 0
		}
		defer resp.Body.Close()
		var r struct{ N, E, U string }
		if json.NewDecoder(resp.Body).Decode(&r) != nil {
			return 0, 0, 0
		}
		records, _ = strconv.ParseInt(r.N, 10, 64)
		events, _ = strconv.ParseInt(r.E, 10, 64)
		lines, _ = strconv.ParseInt(r.U, 10, 64)
		return
	}
	var records, events, distinct int64
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if records, _, distinct = count(); distinct == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %d distinct lines of %d stored (%d records); run 1 read %d\n%s", distinct, total, records, n1, p2.stderr.String())
		}
	}
	cl := api.NewClient(p2.base, &http.Client{Timeout: 30 * time.Second})
	var rep api.IntegrityReport
	var err error
	// A full verification is a scan, which the API bounds (a deadline, two
	// at once): on a busy machine the first tries may be refused.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		// Events read again after the checkpoint may still be arriving:
		// compare with the count as it is now.
		_, events, _ = count()
		rep, err = cl.Integrity(context.Background(), store.IntegrityQuery{})
		if err == nil && (rep.Checked == events || !rep.OK) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("integrity after SIGKILL: %+v %v (want %d events checked)", rep, err, events)
		}
	}
	if !rep.OK {
		t.Fatalf("chain after SIGKILL: %+v %+v (%d events)", rep, rep.FirstBreak, events)
	}
	p2.term(t)
	t.Logf("SIGKILL after %d of the lines: all %d lines stored (0 lost), %d read again after the checkpoint, %d records of batches sent again (invisible), chain of %d events verified across the kill",
		n1, total, events-distinct, records-events, rep.Checked)
}
