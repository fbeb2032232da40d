package tail

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/input"
)

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no paths", Config{}, "no paths"},
		{"bad glob", Config{Paths: []string{"/var/log/[a.log"}}, `path "/var/log/[a.log"`},
		{"bad start", Config{Paths: []string{"/x"}, StartAt: "middle"}, `start_at "middle"`},
		{"negative", Config{Paths: []string{"/x"}, PollInterval: -1}, "poll interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New() error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	f, err := New(Config{Paths: []string{"/x/*.log"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.cfg.StartAt != StartBeginning || f.cfg.PollInterval != DefaultPollInterval || f.cfg.MaxLineLength != DefaultMaxLineLength {
		t.Errorf("defaults not applied: %+v", f.cfg)
	}
}

func TestOnceLinesOffsetsNums(t *testing.T) {
	dir := t.TempDir()
	content := "a\r\nbb\n\nccc"
	writeFile(t, join(dir, "x.log"), content)
	writeFile(t, join(dir, "y.log"), "y1\ny2\n")
	writeFile(t, join(dir, "z.txt"), "not matched\n")
	f, err := New(Config{Paths: []string{join(dir, "*.log")}, Once: true})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	if err := f.Run(context.Background(), &rec); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var got []string
	for _, l := range rec.lines {
		got = append(got, fmt.Sprintf("%s:%d:%d:%q", l.File[len(dir)+1:], l.Offset, l.Num, l.Text))
	}
	want := []string{`x.log:0:1:"a"`, `x.log:3:2:"bb"`, `x.log:6:3:""`, `x.log:7:4:"ccc"`, `y.log:0:1:"y1"`, `y.log:3:2:"y2"`}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("lines:\n got %q\nwant %q", got, want)
	}
	if n := rec.idles.Load(); n != 1 {
		t.Errorf("Idle called %d times, want 1", n)
	}
	st := f.Stats()
	if st.Lines != 6 || st.Bytes != uint64(len(content)+6) || st.Files != 0 || st.LagBytes != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestLongLineCut(t *testing.T) {
	dir := t.TempDir()
	p := join(dir, "x.log")
	exact := strings.Repeat("e", 100)
	writeFile(t, p, strings.Repeat("a", 250)+"\nshort\n"+exact+"\n"+strings.Repeat("b", 300))
	f, err := New(Config{Paths: []string{p}, Once: true, MaxLineLength: 100, ReadBufferSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	if err := f.Run(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	want := []string{strings.Repeat("a", 100), "short", exact, strings.Repeat("b", 100)}
	if got := rec.texts(); !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
	if e := f.Stats().Errors; e != 2 {
		t.Errorf("Errors = %d, want 2", e)
	}
}

func TestStartAt(t *testing.T) {
	for _, tc := range []struct {
		startAt string
		want    int
	}{{StartBeginning, 15}, {StartEnd, 6}} {
		t.Run(tc.startAt, func(t *testing.T) {
			dir := t.TempDir()
			p := join(dir, "x.log")
			// The last pre-existing line is incomplete: starting at the end
			// must still deliver it whole.
			writeFile(t, p, strings.Repeat("old\n", 9)+"old")
			cfg := fastCfg(p)
			cfg.StartAt = tc.startAt
			var rec recorder
			r := start(t, cfg, &rec)
			waitFor(t, 5*time.Second, "file open", func() bool { return r.f.Stats().Files == 1 })
			appendFile(t, p, "\n"+strings.Repeat("new\n", 5))
			waitFor(t, 5*time.Second, "lines", func() bool { return rec.n.Load() >= int64(tc.want) })
			waitFor(t, 5*time.Second, "idle", func() bool { return rec.idles.Load() > 0 && r.f.Stats().LagBytes == 0 })
			r.stop(t)
			got := rec.texts()
			if len(got) != tc.want {
				t.Fatalf("got %d lines %q, want %d", len(got), got, tc.want)
			}
			if tc.startAt == StartEnd {
				if got[0] != "old" || rec.lines[0].Num != 0 {
					t.Errorf("first line %q num %d, want \"old\" num 0", got[0], rec.lines[0].Num)
				}
			}
		})
	}
}

func TestPartialLine(t *testing.T) {
	dir := t.TempDir()
	p := join(dir, "x.log")
	writeFile(t, p, "")
	var rec recorder
	cfg := fastCfg(p)
	r := start(t, cfg, &rec)
	waitFor(t, 5*time.Second, "file open", func() bool { return r.f.Stats().Files == 1 })

	t0 := time.Now()
	appendFile(t, p, "abc")
	waitFor(t, 5*time.Second, "partial flush", func() bool { return rec.n.Load() == 1 })
	if el := time.Since(t0); el < cfg.IdleTimeout {
		t.Errorf("partial line delivered after %v, before IdleTimeout %v", el, cfg.IdleTimeout)
	}
	appendFile(t, p, "\ndef\n")
	waitFor(t, 5*time.Second, "def", func() bool { return rec.n.Load() == 2 })
	// A line completed quickly is delivered whole.
	appendFile(t, p, "gh")
	appendFile(t, p, "i\n")
	waitFor(t, 5*time.Second, "ghi", func() bool { return rec.n.Load() == 3 })
	appendFile(t, p, "jk")
	waitFor(t, 5*time.Second, "jk", func() bool { return rec.n.Load() == 4 })
	appendFile(t, p, "l\n")
	waitFor(t, 5*time.Second, "l", func() bool { return rec.n.Load() == 5 })
	r.stop(t)
	want := []string{"abc", "def", "ghi", "jk", "l"}
	if got := rec.texts(); !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

func TestGlobNewFiles(t *testing.T) {
	for _, mode := range []string{"inotify", "poll"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			var opts []func(*Follower)
			if mode == "poll" {
				opts = append(opts, polling)
			}
			var rec recorder
			r := start(t, fastCfg(join(dir, "audit-*.log")), &rec, opts...)
			waitFor(t, 5*time.Second, "first idle", func() bool { return rec.idles.Load() > 0 })
			writeFile(t, join(dir, "audit-2024-01-01.log"), "a1\na2\n")
			writeFile(t, join(dir, "other.log"), "x\n")
			waitFor(t, 5*time.Second, "a", func() bool { return rec.n.Load() == 2 })
			writeFile(t, join(dir, "audit-2024-01-02.log"), "b1\n")
			waitFor(t, 5*time.Second, "b", func() bool { return rec.n.Load() == 3 })
			appendFile(t, join(dir, "audit-2024-01-01.log"), "a3\n")
			waitFor(t, 5*time.Second, "a3", func() bool { return rec.n.Load() == 4 })
			st := r.f.Stats()
			r.stop(t)
			if st.Rotations != 2 || st.Files != 2 {
				t.Errorf("stats = %+v, want 2 rotations, 2 files", st)
			}
			if got, want := rec.texts(), []string{"a1", "a2", "b1", "a3"}; !slices.Equal(got, want) {
				t.Errorf("lines = %q, want %q", got, want)
			}
		})
	}
}

func TestTruncation(t *testing.T) {
	dir := t.TempDir()
	p := join(dir, "x.log")
	writeFile(t, p, "old-1\nold-2\nold-3\n")
	var rec recorder
	r := start(t, fastCfg(p), &rec)
	waitFor(t, 5*time.Second, "old", func() bool { return rec.n.Load() == 3 })
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p, "new-1\n")
	waitFor(t, 5*time.Second, "new", func() bool { return rec.n.Load() == 4 })
	r.stop(t)
	if got := r.f.Stats().Truncations; got != 1 {
		t.Errorf("Truncations = %d, want 1", got)
	}
	if got := rec.lines[3]; string(got.Text) != "new-1" || got.Offset != 0 || got.Num != 1 {
		t.Errorf("line after truncation = %+v", got)
	}
}

// TestTruncationOvertaken truncates and rewrites a file past the old read
// offset while the follower is busy: the fingerprint must catch it.
func TestTruncationOvertaken(t *testing.T) {
	dir := t.TempDir()
	p := join(dir, "x.log")
	writeFile(t, p, "old-1\nold-2\n")
	gate := make(chan struct{})
	rec := recorder{block: func(l input.Line) {
		if string(l.Text) == "old-2" {
			<-gate
		}
	}}
	r := start(t, fastCfg(p), &rec)
	waitFor(t, 5*time.Second, "old-1", func() bool { return rec.n.Load() == 1 })
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("NEW-1\nNEW-2\nNEW-3\nNEW-4\n")
	f.Close()
	close(gate)
	waitFor(t, 5*time.Second, "new lines", func() bool { return rec.n.Load() == 6 })
	r.stop(t)
	want := []string{"old-1", "old-2", "NEW-1", "NEW-2", "NEW-3", "NEW-4"}
	if got := rec.texts(); !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

func TestStatsConcurrent(t *testing.T) {
	dir := t.TempDir()
	p := join(dir, "x.log")
	writeFile(t, p, "")
	var rec recorder
	r := start(t, fastCfg(p), &rec)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				_ = r.f.Stats()
			}
		}
	}()
	for i := range 100 {
		appendFile(t, p, fmt.Sprintf("line %d\n", i))
	}
	waitFor(t, 5*time.Second, "lines", func() bool { return rec.n.Load() == 100 })
	close(stop)
	<-done
	waitFor(t, 5*time.Second, "no lag", func() bool { return r.f.Stats().LagBytes == 0 })
	if err := r.f.Run(context.Background(), &rec); err != ErrRunning {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}

func TestCheckpointResume(t *testing.T) {
	for _, tc := range []struct {
		name, glob string
	}{
		{"rotated out of glob", "app.log"},
		{"rotated within glob", "app*.log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := join(dir, "app.log")
			cp := join(dir, "state/cp.json")
			os.Mkdir(join(dir, "state"), 0o755)
			writeFile(t, p, "")
			cfg := fastCfg(join(dir, tc.glob))
			cfg.CheckpointPath = cp
			cfg.CheckpointInterval = 50 * time.Millisecond
			cfg.StartAt = StartEnd // new files created while down must still be read whole

			const total = 30000
			seqs := newSeqRecorder(total)
			line := func(i int) string { return fmt.Sprintf("seq=%010d padding padding\n", i) }
			var b strings.Builder
			for i := range 20000 {
				b.WriteString(line(i))
			}
			r := start(t, cfg, seqs)
			waitFor(t, 5*time.Second, "file open", func() bool { return r.f.Stats().Files == 1 })
			appendFile(t, p, b.String())
			// Stop in the middle of the file.
			waitFor(t, 10*time.Second, "some lines", func() bool { return seqs.uniq.Load() >= 5000 })
			r.stop(t)
			got1 := seqs.uniq.Load()
			if got1 == 20000 {
				t.Log("follower read everything before the stop; resume is trivial")
			}
			// While down: more lines, then a rotation, then lines in the new file.
			b.Reset()
			for i := 20000; i < 25000; i++ {
				b.WriteString(line(i))
			}
			appendFile(t, p, b.String())
			if err := os.Rename(p, join(dir, "app-2024-01-01.log")); err != nil {
				t.Fatal(err)
			}
			b.Reset()
			for i := 25000; i < total; i++ {
				b.WriteString(line(i))
			}
			appendFile(t, p, b.String())

			seqs.ordered = nil
			r2 := start(t, cfg, seqs)
			waitFor(t, 10*time.Second, "all lines", func() bool { return seqs.uniq.Load() == total })
			r2.stop(t)
			lost, dup := seqs.result()
			if lost != 0 || dup != 0 {
				t.Fatalf("lost %d, duplicated %d (first run delivered %d)", lost, dup, got1)
			}
			// The rotated file is finished before the new one.
			if i := slices.Index(seqs.ordered, 25000); i >= 0 && slices.ContainsFunc(seqs.ordered[i:], func(s int) bool { return s < 25000 }) {
				t.Errorf("lines of the rotated file were delivered after the new file's")
			}
		})
	}
}

func TestCheckpointInodeReuse(t *testing.T) {
	dir := t.TempDir()
	p := join(dir, "x.log")
	cp := join(dir, "cp.json")
	writeFile(t, p, strings.Repeat("first-generation line\n", 10))
	cfg := Config{Paths: []string{p}, Once: true, CheckpointPath: cp}
	f, _ := New(cfg)
	var rec recorder
	if err := f.Run(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	// Same inode, new content longer than the checkpointed offset.
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(strings.Repeat("SECOND generation line\n", 20))
	w.Close()
	f, _ = New(cfg)
	var rec2 recorder
	if err := f.Run(context.Background(), &rec2); err != nil {
		t.Fatal(err)
	}
	if got := rec2.texts(); len(got) != 20 || got[0] != "SECOND generation line" {
		t.Errorf("after rewrite got %d lines (%q...), want 20 from the start", len(got), got[:min(len(got), 1)])
	}
	// A third run resumes at the end: nothing new.
	f, _ = New(cfg)
	var rec3 recorder
	if err := f.Run(context.Background(), &rec3); err != nil {
		t.Fatal(err)
	}
	if n := rec3.n.Load(); n != 0 {
		t.Errorf("third run delivered %d lines, want 0", n)
	}
}

func TestCheckpointCorrupt(t *testing.T) {
	dir := t.TempDir()
	cp := join(dir, "cp.json")
	writeFile(t, cp, "{not json")
	f, _ := New(Config{Paths: []string{join(dir, "*.log")}, Once: true, CheckpointPath: cp})
	err := f.Run(context.Background(), &recorder{})
	if err == nil || !strings.Contains(err.Error(), "parse checkpoint") {
		t.Errorf("Run = %v, want a parse checkpoint error", err)
	}
}
