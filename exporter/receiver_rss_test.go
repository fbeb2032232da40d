package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recordsBody streams {"records":[r,r,…]} of about size bytes without
// holding it in memory.
type recordsBody struct {
	rec       string
	n, i      int
	head, pos int
	buf       []byte
}

func newRecordsBody(size int) (*recordsBody, int64) {
	rec := `{"timestamp":"1733212800000000000","cluster_id":"7","user":"alice","operation":"login","client_add":"10.1.0.5:50311","db":"","resource":"","details":"select 1"}`
	n := size / (len(rec) + 1)
	total := int64(len(`{"records":[`) + n*(len(rec)+1) - 1 + len(`]}`))
	return &recordsBody{rec: rec, n: n}, total
}

func (b *recordsBody) Read(p []byte) (int, error) {
	k := 0
	for k < len(p) {
		if b.pos == len(b.buf) {
			switch {
			case b.head == 0:
				b.buf, b.head = []byte(`{"records":[`), 1
			case b.i < b.n:
				b.buf = b.buf[:0]
				if b.i > 0 {
					b.buf = append(b.buf, ',')
				}
				b.buf = append(b.buf, b.rec...)
				b.i++
			case b.head == 1:
				b.buf, b.head = []byte(`]}`), 2
			default:
				if k == 0 {
					return 0, io.EOF
				}
				return k, nil
			}
			b.pos = 0
		}
		c := copy(p[k:], b.buf[b.pos:])
		b.pos += c
		k += c
	}
	return k, nil
}

// TestReceiverParallelPostsRSS posts 48 bodies of 60 MiB at once to the
// TDengine audit receiver of an exporter process and bounds its peak RSS:
// the receiver takes a few (MaxConcurrent, MaxInFlight) and answers the
// rest 429 or 503 with Retry-After. Before the limits, this took the
// process from 71 MB to 5 GB. The measured numbers go to docs/BENCHMARKS.md;
// the bound asserted is generous, so that machine load does not matter.
func TestReceiverParallelPostsRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("posts 2.9 GB over loopback")
	}
	dir := t.TempDir()
	recv := freeAddr(t)
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf("[server]\nstate_dir = %q\n\n[store]\nenabled = false\n\n[detect]\nenabled = false\n\n[[source]]\nname = \"taos\"\nformat = \"tdengine-audit\"\nlisten = \"http://%s\"\n", dir, recv)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, cfg)
	pid := p.cmd.Process.Pid
	waitFor(t, 10*time.Second, func() bool {
		resp, err := http.Get("http://" + recv + "/audit_v2")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	before := vmRSS(t, pid)
	const posts, size = 48, 60 << 20
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	t0 := time.Now()
	for range posts {
		wg.Go(func() {
			body, n := newRecordsBody(size)
			req, _ := http.NewRequest(http.MethodPost, "http://"+recv+"/audit-batch", body)
			req.ContentLength = n
			resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
			code := -1 // the server closed the connection while the body was sent
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
				if (code == 429 || code == 503) && resp.Header.Get("Retry-After") == "" {
					t.Errorf("%d without Retry-After", code)
				}
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	wall := time.Since(t0)
	hwm := vmHWM(t, pid)
	// The receiver still takes a post afterwards.
	resp, err := http.Post("http://"+recv+"/audit_v2", "application/json", strings.NewReader(`{"timestamp":"1733212800000000000","cluster_id":"7","user":"bob","operation":"login","client_add":"10.1.0.6:1","db":"","resource":"","details":""}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	t.Logf("%d parallel posts of %d MiB in %v: answers %v; RSS before %d MiB, peak (VmHWM) %d MiB", posts, size>>20, wall.Round(time.Millisecond), codes, before>>10, hwm>>10)
	if resp.StatusCode != 200 {
		t.Errorf("post after the burst: %d", resp.StatusCode)
	}
	if codes[200] == 0 {
		t.Errorf("no post was taken: %v", codes)
	}
	if codes[200]+codes[429]+codes[503]+codes[-1] != posts || codes[429]+codes[503]+codes[-1] == 0 {
		t.Errorf("answers %v", codes)
	}
	if hwm > 1536<<10 {
		t.Errorf("peak RSS %d MiB", hwm>>10)
	}
}
