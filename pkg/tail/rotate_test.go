package tail

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/input"
)

// seqRecorder counts lines of the form "seq=NNNNNNNNNN ...". Lines without
// the prefix (banners) are ignored.
type seqRecorder struct {
	input.LinesOnly
	counts  []uint32
	ordered []int
	uniq    atomic.Int64
	dups    atomic.Int64
	bad     atomic.Int64
	idles   atomic.Int64
}

func newSeqRecorder(n int) *seqRecorder { return &seqRecorder{counts: make([]uint32, n)} }

func (s *seqRecorder) HandleLine(l input.Line) {
	t := l.Text
	if !bytes.HasPrefix(t, []byte("seq=")) {
		if !bytes.HasPrefix(t, []byte("banner")) {
			s.bad.Add(1)
		}
		return
	}
	if len(t) < 14 {
		s.bad.Add(1)
		return
	}
	n, err := strconv.Atoi(string(t[4:14]))
	if err != nil || n < 0 || n >= len(s.counts) {
		s.bad.Add(1)
		return
	}
	s.counts[n]++
	if s.counts[n] == 1 {
		s.uniq.Add(1)
	} else {
		s.dups.Add(1)
	}
	s.ordered = append(s.ordered, n)
}

func (s *seqRecorder) Idle() { s.idles.Add(1) }

// result returns lost and duplicated counts. Call it only after Run returned.
func (s *seqRecorder) result() (lost, dup int) {
	for _, c := range s.counts {
		switch {
		case c == 0:
			lost++
		case c > 1:
			dup += int(c) - 1
		}
	}
	return lost, dup
}

// rotWriter is a log writer with one rotation scheme.
type rotWriter interface {
	io.Writer
	Rotate(i int) error
	Close() error
}

type kind struct {
	name  string
	glob  string // relative to the directory
	exact bool   // lossless by construction
	open  func(dir string) (rotWriter, error)
}

func openAppend(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// renameWriter is lumberjack: rename the live file to a dated name, reopen.
type renameWriter struct {
	*os.File
	dir, base string
}

func (w *renameWriter) Rotate(i int) error {
	w.File.Close()
	if err := os.Rename(join(w.dir, w.base+".log"), join(w.dir, fmt.Sprintf("%s-2024-01-01T00-00-%06d.000.log", w.base, i))); err != nil {
		return err
	}
	f, err := openAppend(join(w.dir, w.base+".log"))
	w.File = f
	return err
}

// numberedWriter is MariaDB's server_audit: .8→.9 … log→.1, reopen.
type numberedWriter struct {
	*os.File
	base string
}

func (w *numberedWriter) Rotate(int) error {
	w.File.Close()
	os.Remove(w.base + ".9")
	for k := 8; k >= 1; k-- {
		os.Rename(fmt.Sprintf("%s.%d", w.base, k), fmt.Sprintf("%s.%d", w.base, k+1))
	}
	if err := os.Rename(w.base, w.base+".1"); err != nil {
		return err
	}
	f, err := openAppend(w.base)
	w.File = f
	return err
}

// dateWriter is taosAdapter: a new date-named file with a banner.
type dateWriter struct {
	*os.File
	dir string
}

func (w *dateWriter) Rotate(i int) error {
	w.File.Close()
	f, err := os.OpenFile(join(w.dir, fmt.Sprintf("taosadapter_%06d.log", i+1)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w.File = f
	_, err = f.WriteString("banner 1\nbanner 2\nbanner 3\n")
	return err
}

// pingPongWriter is taosd: alternate between .0 and .1, truncating.
type pingPongWriter struct {
	*os.File
	dir string
}

func (w *pingPongWriter) Rotate(i int) error {
	w.File.Close()
	f, err := os.OpenFile(join(w.dir, fmt.Sprintf("taosdlog.%d", i%2)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	w.File = f
	return err
}

// copyTruncWriter is logrotate copytruncate done in-process.
type copyTruncWriter struct {
	*os.File
	path string
}

func (w *copyTruncWriter) Rotate(int) error {
	b, err := os.ReadFile(w.path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(w.path+".1", b, 0o644); err != nil {
		return err
	}
	return w.File.Truncate(0)
}

// symlinkWriter writes to data-N.log and swaps current.log to point at it.
type symlinkWriter struct {
	*os.File
	dir string
}

func (w *symlinkWriter) Rotate(i int) error {
	w.File.Close()
	name := fmt.Sprintf("data-%06d.log", i+1)
	f, err := openAppend(join(w.dir, name))
	if err != nil {
		return err
	}
	w.File = f
	tmp := join(w.dir, ".current.tmp")
	if err := os.Symlink(name, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, join(w.dir, "current.log"))
}

var kinds = []kind{
	{"rename", "tidb.log", true, func(dir string) (rotWriter, error) {
		f, err := openAppend(join(dir, "tidb.log"))
		return &renameWriter{f, dir, "tidb"}, err
	}},
	{"rename-in-glob", "tidb*.log", true, func(dir string) (rotWriter, error) {
		f, err := openAppend(join(dir, "tidb.log"))
		return &renameWriter{f, dir, "tidb"}, err
	}},
	{"numbered", "server_audit.log", true, func(dir string) (rotWriter, error) {
		f, err := openAppend(join(dir, "server_audit.log"))
		return &numberedWriter{f, join(dir, "server_audit.log")}, err
	}},
	{"numbered-in-glob", "server_audit.log*", true, func(dir string) (rotWriter, error) {
		f, err := openAppend(join(dir, "server_audit.log"))
		return &numberedWriter{f, join(dir, "server_audit.log")}, err
	}},
	{"date-create", "taosadapter_*.log", true, func(dir string) (rotWriter, error) {
		f, err := openAppend(join(dir, "taosadapter_000000.log"))
		return &dateWriter{f, dir}, err
	}},
	{"ping-pong", "taosdlog.*", true, func(dir string) (rotWriter, error) {
		f, err := openAppend(join(dir, "taosdlog.0"))
		return &pingPongWriter{f, dir}, err
	}},
	{"symlink", "current.log", true, func(dir string) (rotWriter, error) {
		w := &symlinkWriter{dir: dir}
		f, err := openAppend(join(dir, "data-000000.log"))
		w.File = f
		if err == nil {
			err = os.Symlink("data-000000.log", join(dir, "current.log"))
		}
		return w, err
	}},
	{"copytruncate", "app.log", false, func(dir string) (rotWriter, error) {
		f, err := openAppend(join(dir, "app.log"))
		return &copyTruncWriter{f, join(dir, "app.log")}, err
	}},
}

type scenario struct {
	total, perRotation, rate, batch int
	poll                            bool
	// lockstep makes the writer wait, at every rotation, until the
	// follower has read every line written so far, and after it until
	// the follower has read the first line of the new generation. Every
	// rotation is then a separate, observable step: no line can be lost,
	// however slow the machine, and the counts are exact. Without it the
	// writer races the follower (the soak test measures that race).
	lockstep bool
}

type outcome struct {
	lost, dup, bad int
	stats          input.Stats
	elapsed        time.Duration
}

// runScenario writes sc.total sequenced lines through k's writer, rotating
// every sc.perRotation lines, at sc.rate lines/s (0 = as fast as possible),
// while a Follower reads them.
func runScenario(t *testing.T, k kind, sc scenario) outcome {
	t.Helper()
	dir := t.TempDir()
	w, err := k.open(dir)
	if err != nil {
		t.Fatal(err)
	}
	seqs := newSeqRecorder(sc.total)
	cfg := fastCfg(join(dir, k.glob))
	var opts []func(*Follower)
	if sc.poll {
		opts = append(opts, polling)
	}
	r := start(t, cfg, seqs, opts...)
	waitFor(t, 5*time.Second, "file open", func() bool { return r.f.Stats().Files >= 1 })

	t0 := time.Now()
	var werr error
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 0, 64*sc.batch)
		for i := 0; i < sc.total; {
			buf = buf[:0]
			for j := 0; j < sc.batch && i < sc.total; j++ {
				buf = fmt.Appendf(buf, "seq=%010d %s\n", i, "the quick brown fox jumps")
				i++
				if i%sc.perRotation == 0 {
					break
				}
			}
			if _, err := w.Write(buf); err != nil {
				werr = err
				return
			}
			if i%sc.perRotation == 0 && i < sc.total {
				if sc.lockstep && !caughtUp(seqs, int64(i)) {
					werr = fmt.Errorf("the follower did not read lines 0-%d within %v", i-1, lockstepWait)
					return
				}
				if err := w.Rotate(i / sc.perRotation); err != nil {
					werr = err
					return
				}
				if sc.lockstep {
					// One line first: a truncated file is then shorter than
					// the follower's offset, whatever the machine's load.
					if _, err := fmt.Fprintf(w, "seq=%010d %s\n", i, "the quick brown fox jumps"); err != nil {
						werr = err
						return
					}
					i++
					if !caughtUp(seqs, int64(i)) {
						werr = fmt.Errorf("the follower did not read line %d, the first after rotation %d, within %v", i-1, i/sc.perRotation, lockstepWait)
						return
					}
				}
			}
			if sc.rate > 0 {
				if ahead := time.Duration(i)*time.Second/time.Duration(sc.rate) - time.Since(t0); ahead > 0 {
					time.Sleep(ahead) // pacing the writer, not waiting for a condition
				}
			}
		}
	})
	wg.Wait()
	w.Close()
	if werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	if sc.lockstep {
		// Nothing can be lost in lockstep: wait for every line. (The
		// follower's Idle is no proof of having read everything: on a
		// loaded machine it can go idle with file events still queued.)
		waitFor(t, lockstepWait, "every line", func() bool { return seqs.uniq.Load() == int64(sc.total) })
	} else {
		idles := seqs.idles.Load()
		// Idle after the writer finished means everything readable was
		// read; lost lines are then counted rather than waited for.
		waitFor(t, 60*time.Second, "every line or the follower to go idle", func() bool {
			return seqs.uniq.Load() == int64(sc.total) || (seqs.idles.Load() > idles && r.f.Stats().LagBytes == 0)
		})
	}
	el := time.Since(t0)
	st := r.f.Stats()
	r.stop(t)
	lost, dup := seqs.result()
	return outcome{lost: lost, dup: dup, bad: int(seqs.bad.Load()), stats: st, elapsed: el}
}

// lockstepWait bounds each wait of a lockstep scenario. It is a deadline
// for a condition, not a pause: a test waits only as long as the follower
// needs.
const lockstepWait = 60 * time.Second

// caughtUp waits until the follower has read n distinct lines.
func caughtUp(seqs *seqRecorder, n int64) bool {
	deadline := time.Now().Add(lockstepWait)
	for seqs.uniq.Load() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// TestRotationKinds follows every rotation scheme with inotify and with
// polling, the writer in lockstep with the follower at each rotation (see
// scenario.lockstep): no line may be lost or read twice, and every
// rotation or truncation is counted. How much copytruncate loses when the
// writer races the follower is measured by TestSoak, not asserted here.
func TestRotationKinds(t *testing.T) {
	for _, poll := range []bool{false, true} {
		mode := "inotify"
		if poll {
			mode = "poll"
		}
		for _, k := range kinds {
			t.Run(mode+"/"+k.name, func(t *testing.T) {
				t.Parallel()
				sc := scenario{total: 20000, perRotation: 2000, batch: 20, poll: poll, lockstep: true}
				o := runScenario(t, k, sc)
				t.Logf("%s: lost %d dup %d bad %d in %v; stats %+v", k.name, o.lost, o.dup, o.bad, o.elapsed.Round(time.Millisecond), o.stats)
				if o.bad != 0 || o.dup != 0 || o.lost != 0 {
					t.Errorf("lost %d, bad lines %d, duplicates %d, want 0", o.lost, o.bad, o.dup)
				}
				rot := uint64(sc.total/sc.perRotation - 1)
				var wantRot, wantTrunc uint64
				switch k.name {
				case "copytruncate":
					wantTrunc = rot
				case "ping-pong":
					// Rotation 1 creates taosdlog.1; every later one
					// truncates the file it switches to.
					wantRot, wantTrunc = 1, rot-1
				default:
					wantRot = rot
				}
				if o.stats.Rotations != wantRot || o.stats.Truncations != wantTrunc {
					t.Errorf("Rotations = %d, Truncations = %d; want %d and %d", o.stats.Rotations, o.stats.Truncations, wantRot, wantTrunc)
				}
			})
		}
	}
}

func TestSoak(t *testing.T) {
	if os.Getenv("DBSEC_SOAK") != "1" {
		t.Skip("soak test: set DBSEC_SOAK=1 to run (1M lines at 200k lines/s, 49 rotations, per kind)")
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			// 200,000 lines/s, a rotation every 100ms.
			sc := scenario{total: 1_000_000, perRotation: 20_000, rate: 200_000, batch: 100}
			o := runScenario(t, k, sc)
			t.Logf("SOAK %-16s lines=%d rotations=%d lost=%d dup=%d bad=%d elapsed=%v (%.0f lines/s) stats=%+v",
				k.name, sc.total, sc.total/sc.perRotation-1, o.lost, o.dup, o.bad, o.elapsed.Round(time.Millisecond),
				float64(sc.total)/o.elapsed.Seconds(), o.stats)
			if o.dup != 0 || o.bad != 0 || (k.exact && o.lost != 0) {
				t.Errorf("%s: lost %d dup %d bad %d", k.name, o.lost, o.dup, o.bad)
			}
		})
	}
}
