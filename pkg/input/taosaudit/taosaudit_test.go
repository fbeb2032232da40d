package taosaudit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dbsec/dbsec/pkg/event"
)

func reg(t *testing.T, h *Handler) *prometheus.Registry {
	r := prometheus.NewPedanticRegistry()
	if err := r.Register(h); err != nil {
		t.Fatal(err)
	}
	return r
}

type golden struct {
	Line  int            `json:"line"`
	Event map[string]any `json:"event"`
	Error string         `json:"error"`
}

func load(t *testing.T) ([]string, map[int]golden) {
	t.Helper()
	f, err := os.Open("../../parse/tdengineaudit/testdata/audit.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	b, err := os.ReadFile("../../parse/tdengineaudit/testdata/audit.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var gs []golden
	if err := json.Unmarshal(b, &gs); err != nil {
		t.Fatal(err)
	}
	m := map[int]golden{}
	for _, g := range gs {
		m[g.Line] = g
	}
	return lines, m
}

type server struct {
	h   *Handler
	srv *httptest.Server
	got []map[string]any
}

func newServer(t *testing.T, maxBody int64) *server {
	s := &server{}
	h, err := New(Config{MaxBody: maxBody, Deliver: func(ev *event.Event) {
		b, err := json.Marshal(ev.Clone())
		if err != nil {
			t.Error(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		delete(m, "origin")
		s.got = append(s.got, m)
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.h = h
	s.srv = httptest.NewServer(h)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *server) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(s.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func want(g golden) map[string]any {
	m := map[string]any{}
	for k, v := range g.Event {
		m[k] = v
	}
	delete(m, "origin")
	return m
}

// TestRecords posts every valid record of the testdata to the endpoint
// taosd would use and compares the events with the parser's golden file.
func TestRecords(t *testing.T) {
	lines, gold := load(t)
	s := newServer(t, 0)
	var wantEv []map[string]any
	for n := 1; n <= 22; n++ {
		line := lines[n-1]
		path := "/audit_v2"
		switch {
		case n == 8:
			path = "/audit-batch" // {"records":[…]}
		case n == 4 || n == 5:
			path = "/audit" // millisecond number timestamps
		}
		code, body := s.post(t, path, line)
		if code != http.StatusOK || body != "{}" {
			t.Errorf("line %d %s: %d %q", n, path, code, body)
		}
		if g, ok := gold[n]; ok && g.Event != nil {
			wantEv = append(wantEv, want(g))
		}
	}
	// Line 8 is a batch: one event, the record of the batch.
	if len(s.got) != len(wantEv)+1 {
		t.Fatalf("%d events, want %d", len(s.got), len(wantEv)+1)
	}
	got := append(append([]map[string]any{}, s.got[:7]...), s.got[8:]...)
	if d := cmp.Diff(wantEv, got); d != "" {
		t.Errorf("events (-golden +got):\n%s", d)
	}
	if b := s.got[7]; b["user"] != "root" || b["statement"] != "d5268" {
		t.Errorf("batch event %v", b)
	}
	if n, err := testutil.GatherAndCount(reg(t, s.h), "dbsec_taosaudit_requests_total"); err != nil || n != len(codes) {
		t.Errorf("requests series: %d, %v", n, err)
	}
	if got := s.h.requests[0].Load(); got != 22 {
		t.Errorf("200s = %v, want 22", got)
	}
}

// TestBatch posts all valid records in one /audit-batch body.
func TestBatch(t *testing.T) {
	lines, gold := load(t)
	s := newServer(t, 0)
	var recs []string
	var wantEv []map[string]any
	for n := 1; n <= 22; n++ {
		if n == 8 {
			continue
		}
		recs = append(recs, lines[n-1])
		wantEv = append(wantEv, want(gold[n]))
	}
	code, body := s.post(t, "/audit-batch", `{"records":[`+strings.Join(recs, ",")+`]}`)
	if code != 200 || body != "{}" {
		t.Fatalf("%d %q", code, body)
	}
	if d := cmp.Diff(wantEv, s.got); d != "" {
		t.Errorf("events (-golden +got):\n%s", d)
	}
	if s.h.Events() != 21 {
		t.Errorf("Events() = %d, want 21", s.h.Events())
	}
	// Invalid records in a valid batch (lines 24–26): 200, good ones kept.
	s.got = nil
	code, _ = s.post(t, "/audit-batch", `{"records":[`+lines[0]+","+strings.Join(lines[23:26], ",")+`]}`)
	if code != 200 || len(s.got) != 1 || s.h.rejected.Load() != 3 {
		t.Errorf("mixed batch: %d, %d events, %d rejected; want 200, 1, 3", code, len(s.got), s.h.rejected.Load())
	}
}

func TestErrors(t *testing.T) {
	lines, _ := load(t)
	s := newServer(t, 1000)
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"truncated JSON", "POST", "/audit_v2", lines[26], 400, "invalid JSON"},
		{"trailing data", "POST", "/audit_v2", lines[27], 400, "invalid JSON"},
		{"a taosd log line", "POST", "/audit_v2", lines[29], 400, "get audit data error"},
		{"empty", "POST", "/audit-batch", "", 400, "get audit data error"},
		{"too large", "POST", "/audit-batch", `{"records":[` + strings.Repeat(lines[0]+",", 10) + lines[0] + `]}`, 413, "larger than 1000 bytes"},
		{"GET", "GET", "/audit_v2", "", 405, "POST"},
		{"other path", "POST", "/metrics", lines[0], 404, "/audit_v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, s.srv.URL+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var m map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code || !strings.Contains(m["error"], tc.msg) {
				t.Errorf("%d %q, want %d and an error with %q", resp.StatusCode, m["error"], tc.code, tc.msg)
			}
		})
	}
	if len(s.got) != 0 {
		t.Errorf("%d events delivered from bad requests", len(s.got))
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without Deliver: no error")
	}
}
