package tail

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// logrotateBinary finds the real logrotate (Debian package "logrotate"; it
// lives in /usr/sbin, which is not on every user's PATH).
func logrotateBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("logrotate"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/logrotate"); err == nil {
		return "/usr/sbin/logrotate"
	}
	if os.Getenv("CI") != "" {
		t.Fatal("pkg/tail: logrotate not found on PATH; CI must install the Debian package logrotate (apt-get install -y logrotate)")
	}
	t.Skip("logrotate not found on PATH: install the Debian package logrotate to run this test")
	return ""
}

// TestLogrotate rotates a file with the real logrotate: with create while a
// writer appends sequenced lines at 20,000 lines/s, with copytruncate in
// lockstep with the follower (see the comments inside).
func TestLogrotate(t *testing.T) {
	bin := logrotateBinary(t)
	for _, mode := range []string{"create", "copytruncate"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			p := join(dir, "app.log")
			conf := join(dir, "logrotate.conf")
			writeFile(t, conf, fmt.Sprintf("%s {\n  rotate 1000\n  %s\n  missingok\n  nocompress\n}\n", p, mode))
			if err := os.Chmod(conf, 0o644); err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, "")

			const rate, rotations = 20000, 10
			const maxLines = rate * 10
			seqs := newSeqRecorder(maxLines)
			r := start(t, fastCfg(p), seqs)
			waitFor(t, 5*time.Second, "file open", func() bool { return r.f.Stats().Files == 1 })
			rotate := func(i int) {
				t.Helper()
				out, err := exec.Command(bin, "-f", "-s", join(dir, "state"), conf).CombinedOutput()
				if err != nil {
					t.Fatalf("logrotate run %d: %v\n%s", i, err, out)
				}
			}

			var total int64
			if mode == "create" {
				// logrotate renames the file while a writer appends to it
				// at full speed and reopens the new one: nothing may be
				// lost. Each run waits on conditions only: new lines in
				// the file, then the follower having seen the rotation.
				var stop atomic.Bool
				var written atomic.Int64
				var werr error
				var wg sync.WaitGroup
				wg.Go(func() { werr = seqWriter(p, rate, maxLines, &stop, &written, true) })
				for i := range rotations {
					from := written.Load()
					waitFor(t, 30*time.Second, "lines written since the last rotation", func() bool { return written.Load() >= from+500 })
					rotate(i)
					waitFor(t, 30*time.Second, "the rotation seen", func() bool { return r.f.Stats().Rotations == uint64(i+1) })
				}
				from := written.Load()
				waitFor(t, 30*time.Second, "lines written after the last rotation", func() bool { return written.Load() >= from+500 })
				stop.Store(true)
				wg.Wait()
				if werr != nil {
					t.Fatalf("writer: %v", werr)
				}
				total = written.Load()
			} else {
				// copytruncate loses whatever is written between the copy
				// and the truncation, and how much depends on timing. The
				// writer therefore stops at each rotation until the
				// follower has read everything, and after it until the
				// follower has read the first line of the truncated file:
				// then nothing may be lost and every truncation is seen.
				f, err := openAppend(p)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				write := func(n int) {
					t.Helper()
					var buf []byte
					for range n {
						buf = fmt.Appendf(buf, "seq=%010d %s\n", total, "logrotate test line")
						total++
					}
					if _, err := f.Write(buf); err != nil {
						t.Fatal(err)
					}
					waitFor(t, 30*time.Second, "every line written", func() bool { return seqs.uniq.Load() == total })
				}
				for i := range rotations {
					write(2000)
					rotate(i)
					write(1)
					if got := r.f.Stats().Truncations; got != uint64(i+1) {
						t.Fatalf("after rotation %d: Truncations = %d, want %d", i+1, got, i+1)
					}
				}
				write(2000)
			}
			waitFor(t, 30*time.Second, "every line", func() bool { return seqs.uniq.Load() == total })
			st := r.f.Stats()
			r.stop(t)
			lost, dup := seqs.result()
			lost -= maxLines - int(total) // never written
			t.Logf("logrotate %s: written %d lines, lost %d (%.3f%%), dup %d, stats %+v",
				mode, total, lost, 100*float64(lost)/float64(total), dup, st)
			if dup != 0 || seqs.bad.Load() != 0 {
				t.Errorf("duplicates %d, bad lines %d, want 0", dup, seqs.bad.Load())
			}
			if lost != 0 {
				t.Errorf("lost %d lines, want 0", lost)
			}
			if mode == "create" && st.Rotations != rotations {
				t.Errorf("Rotations = %d, want %d", st.Rotations, rotations)
			}
			if mode == "copytruncate" && st.Truncations != rotations {
				t.Errorf("Truncations = %d, want %d", st.Truncations, rotations)
			}
		})
	}
}

// seqWriter appends "seq=N" lines to path at rate lines/s until stop. With
// reopen it reopens path when it names a new file, the way a daemon does
// after logrotate's create (we do not signal it; it checks each batch).
func seqWriter(path string, rate, maxLines int, stop *atomic.Bool, written *atomic.Int64, reopen bool) error {
	f, err := openAppend(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	const batch = 20
	buf := make([]byte, 0, 64*batch)
	t0 := time.Now()
	for i := 0; i < maxLines && !stop.Load(); {
		buf = buf[:0]
		for j := 0; j < batch && i < maxLines; j++ {
			buf = fmt.Appendf(buf, "seq=%010d %s\n", i, "logrotate test line")
			i++
		}
		if _, err := f.Write(buf); err != nil {
			return err
		}
		written.Store(int64(i))
		if reopen {
			if cur, err := f.Stat(); err == nil {
				if pi, err := os.Stat(path); err == nil && !os.SameFile(cur, pi) {
					nf, err := openAppend(path)
					if err != nil {
						return err
					}
					f.Close()
					f = nf
				}
			}
		}
		if ahead := time.Duration(i)*time.Second/time.Duration(rate) - time.Since(t0); ahead > 0 {
			time.Sleep(ahead) // pacing
		}
	}
	return nil
}
