package taosaudit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
)

// held starts a POST whose body stops after its first bytes, so that the
// request holds its slot and its reserved bytes until release is called.
func held(t *testing.T, url string, length int64) (release func()) {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, url+"/audit_v2", pr)
	req.ContentLength = length
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	if _, err := pw.Write([]byte(`{"records":[`)); err != nil {
		t.Fatal(err)
	}
	return func() { pw.CloseWithError(io.ErrUnexpectedEOF); <-done }
}

func waitInFlight(t *testing.T, h *Handler, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url+"/audit_v2", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

const oneRecord = `{"timestamp":"1733212800000000000","cluster_id":"7","user":"alice","operation":"login","client_add":"10.1.0.5:50311","db":"","resource":"","details":""}`

func TestConcurrencyLimit(t *testing.T) {
	h, err := New(Config{Deliver: func(*event.Event) {}, MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	release := held(t, srv.URL, 1000)
	waitInFlight(t, h, func() bool { return len(h.slots) == 1 })
	resp := post(t, srv.URL, oneRecord)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second post: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	release()
	waitInFlight(t, h, func() bool { return len(h.slots) == 0 && h.inFlight.Load() == 0 })
	if resp := post(t, srv.URL, oneRecord); resp.StatusCode != 200 {
		t.Fatalf("after release: %d", resp.StatusCode)
	}
}

func TestInFlightBytesLimit(t *testing.T) {
	h, err := New(Config{Deliver: func(*event.Event) {}, MaxBody: 1 << 20, MaxInFlight: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	release := held(t, srv.URL, 800<<10)
	waitInFlight(t, h, func() bool { return h.inFlight.Load() == 800<<10 })
	resp := post(t, srv.URL, `{"records":[`+strings.Repeat(oneRecord+",", 3000)+oneRecord+`]}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("post over the budget: %d; want 503 with Retry-After", resp.StatusCode)
	}
	// A small one still fits.
	if resp := post(t, srv.URL, oneRecord); resp.StatusCode != 200 {
		t.Fatalf("small post: %d", resp.StatusCode)
	}
	release()
	waitInFlight(t, h, func() bool { return h.inFlight.Load() == 0 })
}

func TestChunkedBodyWithinBudget(t *testing.T) {
	var n int
	h, err := New(Config{Deliver: func(*event.Event) { n++ }, MaxBody: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := `{"records":[` + strings.Repeat(oneRecord+",", 9999) + oneRecord + `]}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/audit-batch", io.NopCloser(strings.NewReader(body)))
	req.ContentLength = -1 // chunked
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || n != 10000 || h.inFlight.Load() != 0 {
		t.Fatalf("status %d, %d events, %d bytes still held", resp.StatusCode, n, h.inFlight.Load())
	}
	// Over MaxBody, chunked: 413.
	big := strings.Repeat(" ", 5<<20)
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/audit-batch", io.NopCloser(strings.NewReader(big)))
	req.ContentLength = -1
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked over the limit: %d", resp.StatusCode)
	}
}
