package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRestartResumes stops the exporter the way SIGTERM does (its context
// is cancelled), appends lines while it is down, and starts it again: the
// second run must read exactly the lines written since the first run's
// checkpoint, none lost and none read twice.
func TestRestartResumes(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "audit.log")
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf("[server]\nstate_dir = %q\n\n[detect]\nenabled = false\n\n[[source]]\nname = \"a\"\nformat = \"tidb-audit-plugin\"\npath = %q\nstart_at = \"beginning\"\n", dir, logFile)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../testdata/tidb/tidb-audit-plugin.log")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Split(string(b), "\n")[6] + "\n" // a failed login
	appendLines := func(n int) {
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(strings.Repeat(line, n)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	runOnce := func(want float64, before func()) {
		addr := freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		stderr := &syncBuffer{}
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"--config.file", cfg, "--web.listen-address", addr}, io.Discard, stderr)
		}()
		base := "http://" + addr
		if before != nil {
			before()
		}
		deadline := time.Now().Add(15 * time.Second)
		var got float64
		for time.Now().Before(deadline) {
			got = -2
			if resp, err := httpGet(base + "/metrics"); err == nil {
				got = value(parseExposition(t, resp), "dbsec_lines_read_total", "source", "a")
			}
			if got >= want {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Give a duplicate the chance to show before stopping.
		time.Sleep(300 * time.Millisecond)
		if resp, err := httpGet(base + "/metrics"); err == nil {
			got = value(parseExposition(t, resp), "dbsec_lines_read_total", "source", "a")
		}
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatal("exporter did not stop")
		}
		if got != want {
			t.Fatalf("read %v lines in this run, want %v\n%s", got, want, stderr.String())
		}
	}
	appendLines(1000)
	runOnce(1500, func() { appendLines(500) }) // 1,000 before the start, 500 while running
	// The first run read 1,500; these are written while it is down.
	appendLines(700)
	runOnce(700, nil)
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
