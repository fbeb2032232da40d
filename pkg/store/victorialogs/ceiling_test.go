package victorialogs

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/store/storetest"
	"github.com/dbsec/dbsec/pkg/store/victorialogs/vltest"
)

// TestIngestCeiling measures what VictoriaLogs itself takes on this
// machine, without the exporter: the records of DBSEC_VLOGS_CEILING_N
// generated events (default 1,000,000), encoded beforehand exactly as the
// engine writes them, are posted in batches of 20,000 over two connections
// to a single node and then to a two-storage-node cluster, and the clock
// stops when a count() query sees them all. Opt-in: DBSEC_VLOGS_CEILING=1.
// It tells whether an ingest target is the exporter's to meet or the
// machine's.
func TestIngestCeiling(t *testing.T) {
	if os.Getenv("DBSEC_VLOGS_CEILING") != "1" {
		t.Skip("set DBSEC_VLOGS_CEILING=1")
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("DBSEC_VLOGS_CEILING_N")); err == nil && v > 0 {
		n = v
	}
	const batch = 20_000
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	g := storetest.New(1, start, 26*time.Hour, n)
	var e evEnc
	prev := make([]byte, 32)
	var batches [][]byte
	var cur []byte
	seq, size := int64(0), 0
	for ev := g.Next(); ev != nil; ev = g.Next() {
		seq++
		var h [32]byte
		cur, h = e.appendEvent(cur, ev, "ceiling", exporterKey("ceiling"), seq, prev)
		prev = h[:]
		if seq%batch == 0 {
			size += len(cur)
			batches = append(batches, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		size += len(cur)
		batches = append(batches, cur)
	}
	t.Logf("%d records, %.0f bytes each as JSON lines, %d batches", n, float64(size)/float64(n), len(batches))

	run := func(name, base string) {
		u := base + "/insert/jsonline?_stream_fields=" + streamFields + "&_time_field=_time&_msg_field=_msg"
		t0 := time.Now()
		var wg sync.WaitGroup
		next := make(chan []byte)
		for range 2 {
			wg.Go(func() {
				for b := range next {
					resp, err := http.Post(u, "application/stream+json", bytes.NewReader(b))
					if err != nil {
						t.Error(err)
						continue
					}
					if resp.StatusCode != http.StatusOK {
						t.Errorf("%s: insert answered %s", name, resp.Status)
					}
					resp.Body.Close()
				}
			})
		}
		for _, b := range batches {
			next <- b
		}
		close(next)
		wg.Wait()
		posted := time.Since(t0)
		for {
			got := countAll(t, base)
			if got >= n {
				break
			}
			if time.Since(t0) > 30*time.Minute {
				t.Fatalf("%s: %d of %d records searchable after 30 min", name, got, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		all := time.Since(t0)
		t.Logf("%s: %d records posted in %v (%.0f/s), all searchable after %v: %.0f records/s",
			name, n, posted.Round(time.Millisecond), float64(n)/posted.Seconds(), all.Round(time.Millisecond), float64(n)/all.Seconds())
	}
	node := vltest.StartNode(t)
	run("single node", node.URL())
	node.Kill()
	c := vltest.StartCluster(t, 2)
	run("two storage nodes and a front node", c.URL())
}

// countAll is `* | count()` over all time on base.
func countAll(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.PostForm(base+"/select/logsql/query", url.Values{"query": {"* | stats count() n"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	s := buf.String()
	i := strings.Index(s, `"n":"`)
	if i < 0 {
		t.Fatalf("count answered %s", s)
	}
	var v int
	if _, err := fmt.Sscanf(s[i+5:], "%d", &v); err != nil {
		t.Fatalf("count answered %s: %v", s, err)
	}
	return v
}
