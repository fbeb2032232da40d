package tail

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/input"
)

// recorder is a Handler that keeps copies of every line.
type recorder struct {
	input.LinesOnly
	mu    sync.Mutex
	lines []input.Line
	n     atomic.Int64
	idles atomic.Int64
	// block, if set, is called before a line is recorded.
	block func(l input.Line)
}

func (r *recorder) HandleLine(l input.Line) {
	if r.block != nil {
		r.block(l)
	}
	l.Text = append([]byte(nil), l.Text...)
	r.mu.Lock()
	r.lines = append(r.lines, l)
	r.mu.Unlock()
	r.n.Add(1)
}

func (r *recorder) Idle() { r.idles.Add(1) }

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.lines))
	for i, l := range r.lines {
		out[i] = string(l.Text)
	}
	return out
}

// running is a Follower started in the background.
type running struct {
	f      *Follower
	cancel context.CancelFunc
	errc   chan error
	done   bool
}

func start(t *testing.T, cfg Config, h input.Handler, opts ...func(*Follower)) *running {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, o := range opts {
		o(f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{f: f, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- f.Run(ctx, h) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.done {
		return
	}
	r.done = true
	r.cancel()
	select {
	case err := <-r.errc:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return after cancel")
	}
}

func polling(f *Follower) { f.forcePoll = true }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// fastCfg is a config with short timers for tests.
func fastCfg(paths ...string) Config {
	return Config{
		Paths:        paths,
		PollInterval: 20 * time.Millisecond,
		IdleTimeout:  150 * time.Millisecond,
		RotateWait:   300 * time.Millisecond,
	}
}

func join(dir, name string) string { return filepath.Join(dir, name) }
