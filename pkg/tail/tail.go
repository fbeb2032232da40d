// Package tail owns following files: it turns a set of paths and globs into
// physical lines for the pipeline, across every rotation scheme the supported
// databases use (lumberjack rename, numbered .1…9 rename, fresh date-named
// files, ping-pong truncation, logrotate create and copytruncate, symlink
// swap), and it persists checkpoints so that a restart neither loses nor
// repeats lines. It knows no log formats and imports only the standard
// library, fsnotify and pkg/input.
//
// # Model
//
// A file is identified by device and inode, plus a fingerprint (a hash of its
// first bytes, up to 1 KiB) that detects inode reuse and in-place rewrites.
// Every scan matches the globs, stats the matches and reconciles them with the
// open files:
//
//   - a path that now names a different inode is a rotation: the old file is
//     kept open and drained, then closed once it has been at EOF without
//     growth for RotateWait; the new file is read from offset 0;
//   - an open file found under a different matching name (rename inside the
//     glob, numbered shifts) keeps its offset and is not read again;
//   - a file whose size drops below the read offset, or whose first bytes no
//     longer match the fingerprint, was truncated (copytruncate, ping-pong)
//     and is read again from offset 0.
//
// Reads use pread into one buffer shared by all files, so the per-line path
// does not allocate, and the handler is called synchronously from the Run
// goroutine: a slow handler slows reading, nothing is queued.
//
// # Partial lines
//
// A last line without '\n' is held back. When the file has not grown for
// IdleTimeout (or at EOF in Once mode) it is delivered as a line of its own.
// If a '\n' arrives later directly after it, that newline is swallowed and no
// empty line is delivered; if more text arrives first, that text is delivered
// as a separate line when its newline arrives.
//
// # Checkpoints
//
// A checkpoint records, per open file, the offset just past the last line
// HandleLine returned for, with dev/inode, fingerprint and line number. It is
// written atomically (temp file, fsync, rename) every CheckpointInterval and
// when Run returns. Between those, a fast checkpoint (<path>.fast: renamed
// into place, not fsynced) follows every PollInterval tick: it survives the
// process being killed, so that a SIGKILL re-reads at most one tick of lines,
// and the newer valid one of the two is loaded. Rotated files read to their
// end stay in the checkpoint (the newest 256), so that a restart does not
// read them again. On restart a file matching a checkpoint entry by inode and
// fingerprint resumes at its offset, even when it was renamed while dbsec was
// down (it is searched among the glob matches and, for renames out of the
// glob, among siblings of its recorded path) and such rotated files are read
// first. Files absent from a loaded checkpoint but modified after it was
// written are read from the beginning regardless of StartAt, because they
// were created by a rotation while dbsec was down.
package tail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/dbsec/dbsec/pkg/input"
)

// Start positions for Config.StartAt.
const (
	StartBeginning = "beginning"
	StartEnd       = "end"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultCheckpointInterval = 5 * time.Second
	DefaultPollInterval       = 250 * time.Millisecond
	DefaultReadBufferSize     = 64 << 10
	DefaultMaxLineLength      = 1 << 20
	DefaultIdleTimeout        = time.Second
	DefaultRotateWait         = 5 * time.Second
)

// fingerprintSize is how many leading bytes of a file are hashed to tell
// files apart when an inode is reused.
const fingerprintSize = 1024

// Config configures a Follower. Zero values take the documented defaults.
type Config struct {
	// Paths are file paths or globs (filepath.Match syntax). Files that
	// start matching later are picked up.
	Paths []string
	// StartAt is "beginning" (default) or "end": where to start in a file
	// seen for the first time without a checkpoint entry. Files that appear
	// after Run started are always read from the beginning.
	StartAt string
	// Once reads every matching file to EOF, delivers everything (including
	// a final line without '\n'), calls Idle once and returns nil.
	Once bool
	// CheckpointPath is where checkpoints are kept; "" disables them.
	CheckpointPath string
	// FollowSymlinks says which matched paths that are symbolic links are
	// read: "inside" (default) only those whose target lies inside the
	// directory of the link, "always", "never". A root-run exporter must
	// not read /etc/shadow because a link to it landed in a log folder.
	FollowSymlinks string
	// CheckpointInterval is how often a changed checkpoint is written
	// (default 5s). It is also written when Run returns.
	CheckpointInterval time.Duration
	// PollInterval is the polling period when inotify is unavailable, and
	// the tick for draining rotated files and flushing partial lines
	// (default 250ms). With inotify, a full safety rescan runs every ten
	// ticks.
	PollInterval time.Duration
	// ReadBufferSize is the read buffer size (default 64 KiB). The buffer
	// grows up to MaxLineLength+1 for long lines.
	ReadBufferSize int
	// MaxLineLength caps a line (default 1 MiB). A longer line is cut to
	// this length, the rest of it up to the next '\n' is discarded and the
	// cut is counted in Stats.Errors.
	MaxLineLength int
	// IdleTimeout is how long without new data before Handler.Idle is
	// called, and how long a partial last line waits for its '\n' before it
	// is delivered anyway (default 1s).
	IdleTimeout time.Duration
	// RotateWait is how long a rotated-away file is kept open at EOF
	// without growth before it is closed, so that a writer that has not yet
	// reopened its log loses nothing (default 5s).
	RotateWait time.Duration
	// Logger receives warnings and debug messages (default: discard).
	Logger *slog.Logger
}

// Follower follows the files matched by a Config. Run may be called once at
// a time; Stats may be called concurrently with Run from any goroutine.
type Follower struct {
	cfg     Config
	log     *slog.Logger
	running atomic.Bool

	// forcePoll disables inotify (tests).
	forcePoll bool

	lines, bytes, rotations, truncations, errs atomic.Uint64
	lag, files                                 atomic.Int64
	longLines                                  atomic.Uint64
	matched                                    atomic.Int64 // -1 before the first scan
}

var (
	_ input.Input         = (*Follower)(nil)
	_ input.StatsReporter = (*Follower)(nil)
)

// ErrRunning is returned by Run when the Follower is already running.
var ErrRunning = errors.New("tail: follower is already running")

// New validates cfg, applies defaults and returns a Follower.
func New(cfg Config) (*Follower, error) {
	var errs []error
	if len(cfg.Paths) == 0 {
		errs = append(errs, errors.New("tail: no paths configured"))
	}
	switch cfg.FollowSymlinks {
	case "", "inside", "always", "never":
	default:
		errs = append(errs, fmt.Errorf("tail: follow_symlinks %q: want inside, always or never", cfg.FollowSymlinks))
	}
	for _, p := range cfg.Paths {
		if p == "" {
			errs = append(errs, errors.New("tail: empty path"))
			continue
		}
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("tail: path %q: %w", p, err))
		}
	}
	switch cfg.StartAt {
	case "":
		cfg.StartAt = StartBeginning
	case StartBeginning, StartEnd:
	default:
		errs = append(errs, fmt.Errorf("tail: start_at %q: must be %q or %q", cfg.StartAt, StartBeginning, StartEnd))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"checkpoint interval", cfg.CheckpointInterval},
		{"poll interval", cfg.PollInterval},
		{"idle timeout", cfg.IdleTimeout},
		{"rotate wait", cfg.RotateWait},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("tail: %s %v: must not be negative", d.name, d.v))
		}
	}
	if cfg.ReadBufferSize < 0 {
		errs = append(errs, fmt.Errorf("tail: read buffer size %d: must not be negative", cfg.ReadBufferSize))
	}
	if cfg.MaxLineLength < 0 {
		errs = append(errs, fmt.Errorf("tail: max line length %d: must not be negative", cfg.MaxLineLength))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.ReadBufferSize == 0 {
		cfg.ReadBufferSize = DefaultReadBufferSize
	}
	if cfg.MaxLineLength == 0 {
		cfg.MaxLineLength = DefaultMaxLineLength
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.RotateWait == 0 {
		cfg.RotateWait = DefaultRotateWait
	}
	if cfg.ReadBufferSize > cfg.MaxLineLength+1 {
		cfg.ReadBufferSize = cfg.MaxLineLength + 1
	}
	cfg.Paths = slices.Clone(cfg.Paths)
	for i, p := range cfg.Paths {
		cfg.Paths[i] = filepath.Clean(p)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fo := &Follower{cfg: cfg, log: log}
	fo.matched.Store(-1)
	return fo, nil
}

// Stats returns the follower's self-metrics. It is safe to call at any time.
func (f *Follower) Stats() input.Stats {
	return input.Stats{
		Lines:       f.lines.Load(),
		Bytes:       f.bytes.Load(),
		LagBytes:    f.lag.Load(),
		Rotations:   f.rotations.Load(),
		Truncations: f.truncations.Load(),
		Errors:      f.errs.Load(),
		Files:       int(f.files.Load()),
		FileInput:   true,
		Matched:     int(max(f.matched.Load(), 0)),
		LongLines:   f.longLines.Load(),
	}
}

// Run follows the configured files and delivers their lines to h until ctx
// is done (or, with Once, until every file has been read to EOF). All calls
// to h are made from the calling goroutine. Run writes a final checkpoint and
// returns nil on a clean stop; every goroutine it started has finished when
// it returns.
func (f *Follower) Run(ctx context.Context, h input.Handler) error {
	if !f.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer f.running.Store(false)

	r := newRun(f, h)
	defer r.closeAll()
	if err := r.loadCheckpoint(); err != nil {
		return err
	}
	if f.cfg.Once {
		return r.runOnce(ctx)
	}
	return r.runFollow(ctx)
}
