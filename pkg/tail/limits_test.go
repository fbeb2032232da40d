package tail

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestLongLineLogged: a line over the limit is counted and logged.
func TestLongLineLogged(t *testing.T) {
	dir := t.TempDir()
	p := join(dir, "x.log")
	writeFile(t, p, strings.Repeat("a", 250)+"\nshort\n"+strings.Repeat("b", 300))
	var logs logBuf
	f, err := New(Config{Paths: []string{p}, Once: true, MaxLineLength: 100, ReadBufferSize: 16, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	if err := f.Run(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.LongLines != 2 || !st.FileInput || st.Matched != 1 {
		t.Errorf("stats %+v, want 2 long lines, 1 file matched", st)
	}
	if n := strings.Count(logs.String(), "line longer than the limit"); n != 2 {
		t.Errorf("%d log lines about long lines, want 2:\n%s", n, logs.String())
	}
}

// TestNothingMatchedWarns: a path or glob that matches nothing is logged
// and reported as 0 files matched.
func TestNothingMatchedWarns(t *testing.T) {
	dir := t.TempDir()
	var logs logBuf
	f, err := New(Config{Paths: []string{join(dir, "*.log")}, Once: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	if err := f.Run(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Matched != 0 || !st.FileInput {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "no file matches the source's path") {
		t.Errorf("no warning:\n%s", logs.String())
	}
}

// TestSymlinkPolicy: by default a matched link is read only if its target
// is inside the link's directory; "always" and "never" as they say.
func TestSymlinkPolicy(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want []string
	}{
		{"", []string{"inside"}},
		{"inside", []string{"inside"}},
		{"always", []string{"inside", "root:secret-hash"}},
		{"never", []string{"inside"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			logs := join(dir, "logs")
			if err := os.Mkdir(logs, 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, join(dir, "shadow"), "root:secret-hash\n")
			writeFile(t, join(logs, "a.log"), "inside\n")
			if err := os.Symlink(join(dir, "shadow"), join(logs, "evil.log")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("a.log", join(logs, "current.log")); err != nil {
				t.Fatal(err)
			}
			var lb logBuf
			f, err := New(Config{Paths: []string{join(logs, "*.log")}, Once: true, FollowSymlinks: tc.mode, Logger: slog.New(slog.NewTextHandler(&lb, nil))})
			if err != nil {
				t.Fatal(err)
			}
			var rec recorder
			if err := f.Run(context.Background(), &rec); err != nil {
				t.Fatal(err)
			}
			got := rec.texts()
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("lines %q, want %q", got, tc.want)
			}
			if tc.mode != "always" && !strings.Contains(lb.String(), "symbolic link not followed") {
				t.Errorf("no warning:\n%s", lb.String())
			}
			if strings.Contains(lb.String(), "secret-hash") {
				t.Errorf("the log quotes the target's content")
			}
		})
	}
	if _, err := New(Config{Paths: []string{"/x"}, FollowSymlinks: "sometimes"}); err == nil {
		t.Error("follow_symlinks = sometimes accepted")
	}
}
