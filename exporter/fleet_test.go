package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
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
		addr := freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		stderr := &syncBuffer{}
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"--config.file", cfg, "--web.listen-address", addr}, io.Discard, stderr)
		}()
		stop := func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("%s: exit %d\n%s", name, code, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Errorf("%s did not stop", name)
			}
		}
		cl := api.NewClient("http://"+addr, &http.Client{Timeout: 10 * time.Second})
		waitFor(t, 20*time.Second, func() bool { _, err := cl.Status(ctx); return err == nil })
		return cl, stop
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
	total := 0
	for cursor := ""; ; {
		p, err := query.Events(ctx, store.EventQuery{Filter: f, Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		total += len(p.Events)
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if int64(total) != 2*per {
		t.Fatalf("query node pages %d events, want %d", total, 2*per)
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
