package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestOnceWorkers replays testdata/demo.toml with [detect] workers = 1 (each
// event analysed in its source's goroutine) and with 2 and 5 workers: the
// expositions (every counter, every detection series) must be the same.
func TestOnceWorkers(t *testing.T) {
	b, err := os.ReadFile("../testdata/demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	td, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Relative paths are relative to the configuration's directory: make
	// them absolute, and keep the state in the test's directory.
	rel := regexp.MustCompile(`"((?:\.\./|tidb/|mariadb/|postgres/|redash/|tdengine/|detect-rules)[^"]*)"`)
	base := rel.ReplaceAllStringFunc(string(b), func(s string) string {
		p := strings.Trim(s, `"`)
		if strings.HasPrefix(p, "../data/") {
			return fmt.Sprintf("%q", filepath.Join(dir, filepath.Base(p)))
		}
		return fmt.Sprintf("%q", filepath.Join(td, p))
	})
	if !strings.Contains(base, "\n[detect]\n") {
		t.Fatal("demo.toml has no [detect] table")
	}
	// The reload's time differs from run to run;
	// dbsec_sqlx_cache_requests_total counts hits and misses, which may
	// depend on which worker analyses a repeated statement first.
	volatile := regexp.MustCompile(`(?m)^(dbsec_sqlx_cache_requests_total|.*_timestamp_seconds).*\n`)
	var want string
	for _, w := range []int{1, 2, 5} {
		cfg := filepath.Join(dir, fmt.Sprintf("demo-%d.toml", w))
		text := strings.Replace(base, "\n[detect]\n", fmt.Sprintf("\n[detect]\nworkers = %d\n", w), 1)
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCapture(t, context.Background(), "--once", "--config.file", cfg, "--log.level", "error")
		if code != 0 {
			t.Fatalf("workers %d: exit %d\n%s", w, code, errOut)
		}
		out = volatile.ReplaceAllString(out, "")
		if !strings.Contains(out, "dbsec_detections_total{") {
			t.Fatalf("workers %d: no detections in the exposition", w)
		}
		if w == 1 {
			want = out
			continue
		}
		if out != want {
			wl, gl := strings.Split(want, "\n"), strings.Split(out, "\n")
			for i := range min(len(wl), len(gl)) {
				if wl[i] != gl[i] {
					t.Fatalf("workers %d: the exposition differs from workers 1 at line %d:\n got %s\nwant %s", w, i+1, gl[i], wl[i])
				}
			}
			t.Fatalf("workers %d: the exposition has %d lines, workers 1 %d", w, len(gl), len(wl))
		}
	}
}
