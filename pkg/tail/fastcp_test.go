package tail

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func lines(n int, tag string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(tag)
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteByte('\n')
	}
	return b.String()
}

func readCP(t *testing.T, path string) checkpointFile {
	t.Helper()
	c, ok, err := readCheckpoint(path)
	if err != nil || !ok {
		t.Fatalf("checkpoint %s: ok=%v err=%v", path, ok, err)
	}
	return c
}

// TestFastCheckpoint: between durable checkpoints, the fast one follows
// every tick, so a follower killed before its next durable checkpoint
// resumes where it was (here: a second follower starts from a copy of the
// fast checkpoint while the first has written no durable one).
func TestFastCheckpoint(t *testing.T) {
	dir := t.TempDir()
	p := join(dir, "a.log")
	writeFile(t, p, lines(100, "first "))
	cp := join(dir, "cp.json")
	cfg := fastCfg(p)
	cfg.CheckpointPath = cp
	cfg.CheckpointInterval = time.Hour
	cfg.StartAt = StartBeginning
	rec := &recorder{}
	start(t, cfg, rec)
	size := int64(len(lines(100, "first ")))
	waitFor(t, 5*time.Second, "fast checkpoint at the end of the file", func() bool {
		c, ok, err := readCheckpoint(cp + fastSuffix)
		return err == nil && ok && len(c.Files) == 1 && c.Files[0].Offset == size
	})
	if rec.n.Load() != 100 {
		t.Fatalf("read %d lines, want 100", rec.n.Load())
	}
	if _, err := os.Stat(cp); !os.IsNotExist(err) {
		t.Fatalf("a durable checkpoint exists before its interval: %v", err)
	}
	// "Kill" the first follower: a second one starts from what the first
	// left on disk, the fast checkpoint only.
	dir2 := t.TempDir()
	b, err := os.ReadFile(cp + fastSuffix)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, join(dir2, "cp.json"+fastSuffix), string(b))
	appendFile(t, p, lines(10, "second "))
	cfg2 := cfg
	cfg2.CheckpointPath = join(dir2, "cp.json")
	rec2 := &recorder{}
	r2 := start(t, cfg2, rec2)
	waitFor(t, 5*time.Second, "the new lines", func() bool { return rec2.n.Load() >= 10 })
	time.Sleep(100 * time.Millisecond)
	r2.stop(t)
	for _, l := range rec2.texts() {
		if !strings.HasPrefix(l, "second ") {
			t.Fatalf("re-read %q: the fast checkpoint was not used", l)
		}
	}
	if n := rec2.n.Load(); n != 10 {
		t.Fatalf("read %d lines after the fast checkpoint, want 10", n)
	}
	// The stop wrote the durable checkpoint, which is now the newer one.
	if d, f := readCP(t, cfg2.CheckpointPath), readCP(t, cfg2.CheckpointPath+fastSuffix); !d.SavedAt.After(f.SavedAt) {
		t.Errorf("durable checkpoint %v not newer than the fast one %v", d.SavedAt, f.SavedAt)
	}
}

// TestFastCheckpointCorrupt: a fast checkpoint that did not reach the disk
// whole (a machine crash) is ignored; the durable one is used.
func TestFastCheckpointCorrupt(t *testing.T) {
	dir := t.TempDir()
	p := join(dir, "a.log")
	writeFile(t, p, lines(50, "old "))
	cp := join(dir, "cp.json")
	run := func() *recorder {
		rec := &recorder{}
		f, err := New(Config{Paths: []string{p}, Once: true, CheckpointPath: cp, StartAt: StartBeginning})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Run(context.Background(), rec); err != nil {
			t.Fatalf("Run: %v", err)
		}
		return rec
	}
	if n := run().n.Load(); n != 50 {
		t.Fatalf("first run read %d lines, want 50", n)
	}
	writeFile(t, cp+fastSuffix, "{\"version\":1,\"saved_at\":\"2099-01-01T00:00:00Z\",\"files\":[{")
	appendFile(t, p, lines(5, "new "))
	rec := run()
	if n := rec.n.Load(); n != 5 {
		t.Fatalf("second run read %d lines, want the 5 new ones", n)
	}
}

// TestNewFileCoarseMtime: a file created right after the checkpoint was
// written may carry a modification time a little before it (file systems
// keep coarse times). It is still a file created while dbsec was down and is
// read from its beginning, whatever start_at says.
func TestNewFileCoarseMtime(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, join(dir, "a.log"), lines(5, "a "))
	cp := join(dir, "state.json")
	cfg := fastCfg(join(dir, "*.log"))
	cfg.CheckpointPath = cp
	cfg.StartAt = StartEnd
	r := start(t, cfg, &recorder{})
	waitFor(t, 5*time.Second, "file open", func() bool { return r.f.Stats().Files == 1 })
	r.stop(t)
	c := readCP(t, cp)
	b := join(dir, "b.log")
	writeFile(t, b, lines(7, "b "))
	// As a file system with a coarse clock would record it.
	if err := os.Chtimes(b, c.SavedAt.Add(-500*time.Millisecond), c.SavedAt.Add(-500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	r2 := start(t, cfg, rec)
	waitFor(t, 5*time.Second, "b.log read", func() bool { return rec.n.Load() >= 7 })
	time.Sleep(100 * time.Millisecond)
	r2.stop(t)
	if n := rec.n.Load(); n != 7 {
		t.Fatalf("read %d lines, want the 7 of b.log", n)
	}
	for _, l := range rec.texts() {
		if !strings.HasPrefix(l, "b ") {
			t.Fatalf("read %q", l)
		}
	}
}
