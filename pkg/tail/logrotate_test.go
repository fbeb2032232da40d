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

// TestLogrotate rotates a file with the real logrotate while a writer appends
// sequenced lines at 20,000 lines/s.
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

			var stop atomic.Bool
			var written atomic.Int64
			var werr error
			var wg sync.WaitGroup
			wg.Go(func() { werr = seqWriter(p, rate, maxLines, &stop, &written, mode == "create") })
			for i := range rotations {
				time.Sleep(100 * time.Millisecond) // pacing rotations, not waiting for a condition
				out, err := exec.Command(bin, "-f", "-s", join(dir, "state"), conf).CombinedOutput()
				if err != nil {
					stop.Store(true)
					wg.Wait()
					t.Fatalf("logrotate run %d: %v\n%s", i, err, out)
				}
			}
			time.Sleep(100 * time.Millisecond)
			stop.Store(true)
			wg.Wait()
			if werr != nil {
				t.Fatalf("writer: %v", werr)
			}
			total := written.Load()
			idles := seqs.idles.Load()
			if mode == "create" {
				waitFor(t, 30*time.Second, "every line", func() bool { return seqs.uniq.Load() == total })
			} else {
				waitFor(t, 30*time.Second, "idle", func() bool { return seqs.idles.Load() > idles && r.f.Stats().LagBytes == 0 })
			}
			st := r.f.Stats()
			r.stop(t)
			lost, dup := seqs.result()
			lost -= maxLines - int(total) // never written
			t.Logf("logrotate %s: written %d lines, lost %d (%.3f%%), dup %d, stats %+v",
				mode, total, lost, 100*float64(lost)/float64(total), dup, st)
			if dup != 0 || seqs.bad.Load() != 0 {
				t.Errorf("duplicates %d, bad lines %d, want 0", dup, seqs.bad.Load())
			}
			switch mode {
			case "create":
				if lost != 0 {
					t.Errorf("lost %d lines, want 0", lost)
				}
				if st.Rotations != rotations {
					t.Errorf("Rotations = %d, want %d", st.Rotations, rotations)
				}
			case "copytruncate":
				if lost > int(total)/20 {
					t.Errorf("lost %d of %d lines, want at most 5%%", lost, total)
				}
				if st.Truncations < rotations/2 {
					t.Errorf("Truncations = %d, want about %d", st.Truncations, rotations)
				}
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
