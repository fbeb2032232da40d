package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/dbsec/dbsec/pkg/input"
)

// maxDone bounds the set of rotated files already read in a run.
const maxDone = 1 << 16

// fileID identifies a file across renames.
type fileID struct{ dev, ino uint64 }

// file is one open file. It is owned by the Run goroutine.
type file struct {
	id   fileID
	name string // path reported in Line.File
	real string // symlink target of name, "" if name is not a symlink
	fd   *os.File

	offset   int64 // just past the last delivered byte
	num      int64 // number of the last delivered line
	numKnown bool
	size     int64 // last size seen
	mtime    time.Time
	lag      int64 // contribution to Follower.lag

	fpLen  int
	fpHash uint64

	skipNL  bool // a partial line was flushed; swallow a '\n' that follows it
	discard bool // inside an over-long line; drop bytes up to '\n'
	partial bool // bytes after offset hold an incomplete line

	draining   bool // no matching path names this file any more
	priority   bool // read before others (rotated while we were down)
	dirty      bool
	lastGrowth time.Time
	seen       uint64 // scan generation
}

// run is the state of one Run call.
type run struct {
	f   *Follower
	cfg *Config
	h   input.Handler
	log *slog.Logger

	files  map[fileID]*file
	byName map[string]*file
	dirty  []*file
	buf    []byte
	fpBuf  [fingerprintSize]byte

	w        *fsnotify.Watcher
	watched  map[string]bool
	polling  bool
	needScan bool
	gen      uint64
	started  bool // initial scan done
	lastScan time.Time

	lastData time.Time
	idled    bool

	startTime time.Time
	done      map[fileID]bool // files read to the end and closed in this run

	cp        map[fileID]cpEntry // loaded checkpoint entries not yet matched
	cpLoaded  bool
	cpSavedAt time.Time
	cpDirty   bool // the durable checkpoint is behind
	// refusedLinks are the symbolic links FollowSymlinks refused (logged
	// once each).
	refusedLinks map[string]bool
	fastDirty    bool // the fast checkpoint is behind
	// closed are the checkpoint entries of rotated files read to their end
	// and closed, newest last (at most maxClosed): they stay in the
	// checkpoint so that a restart does not take such a file, still
	// matching the glob, for one created while dbsec was down.
	closed      map[fileID]cpEntry
	closedOrder []fileID
}

// maxClosed bounds the closed files kept in a checkpoint.
const maxClosed = 256

// mtimeSlack is how far before a checkpoint's time a file's modification
// time may lie for a file absent from the checkpoint to still count as
// written after it. File systems record modification times coarsely (the
// kernel's tick, or whole seconds on some), so a file created just after
// the checkpoint can carry a time just before it.
const mtimeSlack = 2 * time.Second

func newRun(f *Follower, h input.Handler) *run {
	return &run{
		f:       f,
		cfg:     &f.cfg,
		h:       h,
		log:     f.log,
		files:   make(map[fileID]*file),
		byName:  make(map[string]*file),
		buf:     make([]byte, f.cfg.ReadBufferSize),
		watched: make(map[string]bool),
		done:    make(map[fileID]bool),
		// A little slack: a file rotated in the instant Run starts counts
		// as written during the run.
		startTime: time.Now().Add(-time.Second),
	}
}

func (r *run) runOnce(ctx context.Context) error {
	r.scan()
	r.readDirty(ctx, true)
	if ctx.Err() == nil {
		r.h.Idle()
	}
	return r.saveCheckpoint()
}

func (r *run) runFollow(ctx context.Context) error {
	r.startWatcher()
	defer r.stopWatcher()
	now := time.Now()
	r.lastData = now
	r.scan()
	r.readDirty(ctx, false)

	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	var cpC <-chan time.Time
	if r.cfg.CheckpointPath != "" {
		cpt := time.NewTicker(r.cfg.CheckpointInterval)
		defer cpt.Stop()
		cpC = cpt.C
	}
	var events <-chan fsnotify.Event
	var werrs <-chan error
	if r.w != nil {
		events, werrs = r.w.Events, r.w.Errors
	}
	for {
		select {
		case <-ctx.Done():
			return r.saveCheckpoint()
		case ev, ok := <-events:
			if !ok {
				events = nil
				break
			}
			r.handleEvent(ev)
			// Coalesce whatever else is queued, boundedly.
			for i := 0; i < 1024; i++ {
				select {
				case ev, ok := <-events:
					if !ok {
						events = nil
						i = 1024
						break
					}
					r.handleEvent(ev)
					continue
				default:
				}
				break
			}
		case err, ok := <-werrs:
			if !ok {
				werrs = nil
				break
			}
			r.watchError(err)
		case now := <-tick.C:
			r.onTick(ctx, now)
			if err := r.saveFastCheckpoint(); err != nil {
				r.f.errs.Add(1)
				r.log.Warn("write checkpoint", "path", r.cfg.CheckpointPath+fastSuffix, "err", err)
			}
		case <-cpC:
			if err := r.saveCheckpoint(); err != nil {
				r.f.errs.Add(1)
				r.log.Warn("write checkpoint", "path", r.cfg.CheckpointPath, "err", err)
			}
		}
		if ctx.Err() != nil {
			continue
		}
		if r.needScan {
			r.scan()
		}
		r.readDirty(ctx, false)
	}
}

func (r *run) onTick(ctx context.Context, now time.Time) {
	scanEvery := r.cfg.PollInterval
	if !r.polling {
		scanEvery = 10 * r.cfg.PollInterval
	}
	if now.Sub(r.lastScan) >= scanEvery {
		r.needScan = true
	}
	for _, fl := range r.files {
		if fl.draining {
			r.markDirty(fl)
		}
	}
	if r.needScan {
		r.scan()
	}
	r.readDirty(ctx, false)
	if ctx.Err() != nil {
		return
	}
	// Close drained files; flush partial lines that stopped growing.
	for _, fl := range r.files {
		idle := now.Sub(fl.lastGrowth)
		if fl.draining && !fl.partial && fl.offset >= fl.size && idle >= r.cfg.RotateWait {
			r.log.Debug("close rotated file", "file", fl.name)
			r.closeFile(fl)
			continue
		}
		if fl.partial && idle >= r.cfg.IdleTimeout {
			r.readFile(ctx, fl, true)
		}
	}
	if !r.idled && now.Sub(r.lastData) >= r.cfg.IdleTimeout {
		r.idled = true
		r.h.Idle()
	}
}

func (r *run) startWatcher() {
	if r.f.forcePoll {
		r.polling = true
		return
	}
	w, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		r.f.errs.Add(1)
		r.log.Warn("inotify unavailable, polling", "interval", r.cfg.PollInterval, "err", err)
		r.polling = true
		return
	}
	r.w = w
}

func (r *run) stopWatcher() {
	if r.w != nil {
		if err := r.w.Close(); err != nil {
			r.log.Debug("close watcher", "err", err)
		}
		r.w = nil
	}
}

// watch adds dir to the watcher. Failures other than a missing directory
// switch the follower to polling.
func (r *run) watch(dir string) {
	if r.w == nil || r.polling || r.watched[dir] {
		return
	}
	if err := r.w.Add(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return // retried on the next scan
		}
		r.f.errs.Add(1)
		r.log.Warn("watch directory, falling back to polling", "dir", dir, "interval", r.cfg.PollInterval, "err", err)
		r.polling = true
		return
	}
	r.watched[dir] = true
}

func (r *run) watchError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		r.log.Debug("inotify queue overflow, rescanning")
	} else {
		r.f.errs.Add(1)
		r.log.Warn("watch", "err", err)
	}
	r.needScan = true
	for _, fl := range r.files {
		r.markDirty(fl)
	}
}

func (r *run) handleEvent(ev fsnotify.Event) {
	name := ev.Name
	fl := r.byName[name]
	switch {
	case ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		if fl != nil || r.matches(name) {
			r.needScan = true
		}
		if r.watched[name] {
			delete(r.watched, name) // a watched directory went away
			r.needScan = true
		}
		if ev.Has(fsnotify.Create) && r.matchesDir(name) {
			r.needScan = true
		}
	case ev.Has(fsnotify.Write):
		switch {
		case fl != nil:
			r.markDirty(fl)
		case r.matches(name):
			r.needScan = true
		default:
			// Maybe a rotated file we are still draining.
			for _, d := range r.files {
				if d.draining {
					r.markDirty(d)
				}
			}
		}
	}
}

func (r *run) matches(name string) bool {
	for _, p := range r.cfg.Paths {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

func (r *run) matchesDir(name string) bool {
	for _, p := range r.cfg.Paths {
		if ok, _ := filepath.Match(filepath.Dir(p), name); ok {
			return true
		}
	}
	return false
}

func (r *run) markDirty(fl *file) {
	if !fl.dirty {
		fl.dirty = true
		r.dirty = append(r.dirty, fl)
	}
}

func statID(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	}
	return fileID{}
}

// scan matches the globs and reconciles the matches with the open files.
func (r *run) scan() {
	r.needScan = false
	r.lastScan = time.Now()
	r.gen++
	initial := !r.started
	r.started = true

	for _, p := range r.cfg.Paths {
		dir := filepath.Dir(p)
		if hasMeta(dir) {
			ds, _ := filepath.Glob(dir)
			for _, d := range ds {
				r.watch(d)
			}
		} else {
			r.watch(dir)
		}
	}

	var matches []string
	for _, p := range r.cfg.Paths {
		if !hasMeta(p) {
			matches = append(matches, p)
			continue
		}
		m, err := filepath.Glob(p)
		if err != nil {
			continue // validated in New
		}
		matches = append(matches, m...)
	}
	slices.Sort(matches)
	matches = slices.Compact(matches)

	clear(r.byName)
	fresh := 0
	var rotatedPaths []string
	regular := 0
	defer func() {
		// A path or glob that matches nothing is said at start (and so at
		// every reload, which starts the input again) and whenever the
		// matches drop to none; dbsec_source_files_matched says it too.
		if prev := r.f.matched.Swap(int64(regular)); regular == 0 && prev != 0 {
			r.log.Warn("no file matches the source's path", "paths", r.cfg.Paths)
		}
	}()
	for _, p := range matches {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		regular++
		id := statID(fi)
		fl := r.files[id]
		if fl == nil {
			var isNew bool
			if fl, isNew = r.open(p, initial); fl == nil {
				continue
			}
			if isNew {
				fresh++
				if !initial && !hasMeta(p) {
					rotatedPaths = append(rotatedPaths, p)
				}
			}
		}
		if fl.seen != r.gen {
			fl.seen = r.gen
			if fl.draining {
				fl.draining = false
			}
			if fl.name != p {
				// The name we reported may still be valid; prefer it.
				if fi2, err := os.Stat(fl.name); err != nil || statID(fi2) != id {
					r.log.Debug("file renamed", "from", fl.name, "to", p)
					fl.name = p
					fl.real = ""
				}
			}
		}
		r.byName[p] = fl
		if fl.real != "" {
			r.byName[fl.real] = fl
		}
		if fi.Size() != fl.size || !fi.ModTime().Equal(fl.mtime) {
			r.markDirty(fl)
		}
	}
	for _, fl := range r.files {
		if fl.seen != r.gen && !fl.draining {
			r.log.Debug("file rotated away", "file", fl.name)
			fl.draining = true
			fl.lastGrowth = time.Now()
			r.markDirty(fl)
		}
	}
	if initial {
		r.resumeRotated()
		r.cp = nil
	}
	for _, p := range rotatedPaths {
		fresh += r.findMissed(p)
	}
	if !initial {
		r.f.rotations.Add(uint64(fresh))
	}
}

// findMissed looks, after the file at the literal path p was replaced, for
// generations of p that were rotated away before this run ever opened them
// (several rotations between two scans, for example on a loaded machine):
// siblings named like rotated copies of p, changed since the run started,
// neither open nor already read. They are read from the beginning, before
// the live file. It returns how many it found.
func (r *run) findMissed(p string) int {
	dir, base := filepath.Split(p)
	ents, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return 0
	}
	n := 0
	for _, de := range ents {
		name := de.Name()
		if name == base || !de.Type().IsRegular() || !rotatedName(name, base) {
			continue
		}
		fi, err := de.Info()
		if err != nil || fi.ModTime().Before(r.startTime) {
			continue
		}
		id := statID(fi)
		if r.files[id] != nil || r.done[id] {
			continue
		}
		fl, isNew := r.open(filepath.Join(dir, name), false)
		if fl == nil || !isNew {
			continue
		}
		r.log.Debug("found a rotated file never opened", "file", fl.name)
		fl.draining = true
		fl.priority = true
		fl.seen = r.gen
		r.markDirty(fl)
		n++
	}
	return n
}

// rotatedName reports whether name looks like a rotated copy of base:
// base.1 or base-20240101 (numbered, logrotate dateext), stem-2024-…ext
// (lumberjack), stem.1 (ping-pong). Compressed copies are not logs to read.
func rotatedName(name, base string) bool {
	for _, z := range [...]string{".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip"} {
		if strings.HasSuffix(name, z) {
			return false
		}
	}
	digitAfter := func(prefix string) bool {
		return len(name) > len(prefix)+1 && strings.HasPrefix(name, prefix) &&
			strings.IndexByte(".-_", name[len(prefix)]) >= 0 && name[len(prefix)+1] >= '0' && name[len(prefix)+1] <= '9'
	}
	return digitAfter(base) || digitAfter(stem(base))
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// open opens a newly matched file, decides where to start reading it and
// marks it for reading. It returns the file and whether it was not open yet.
func (r *run) open(p string, initial bool) (*file, bool) {
	fd, err := os.Open(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.f.errs.Add(1)
			r.log.Warn("open", "file", p, "err", err)
		}
		return nil, false
	}
	fi, err := fd.Stat()
	if err != nil {
		r.f.errs.Add(1)
		r.log.Warn("stat", "file", p, "err", err)
		fd.Close()
		return nil, false
	}
	id := statID(fi)
	if fl := r.files[id]; fl != nil { // raced with a rename
		fd.Close()
		return fl, false
	}
	fl := &file{id: id, name: p, fd: fd, numKnown: true, lastGrowth: time.Now()}
	if lfi, err := os.Lstat(p); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
		// The file actually opened: the link may have been swapped since
		// (a symlink rotation), so ask the kernel, not the link.
		real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd.Fd()))
		fromProc := err == nil
		if err != nil {
			real, err = filepath.EvalSymlinks(p)
		}
		if err != nil || !r.linkAllowed(p, real, id, fromProc) {
			fd.Close()
			return nil, false
		}
		fl.real = real
		r.watch(filepath.Dir(real))
	}
	size := fi.Size()
	r.fingerprint(fl, size)
	switch e, ok := r.cp[id]; {
	case ok && e.matches(fl, r):
		delete(r.cp, id)
		fl.offset, fl.num, fl.numKnown, fl.skipNL = e.Offset, e.Num, e.NumKnown, e.SkipNL
		if e.Path != p {
			fl.priority = true
		}
		if size < fl.offset {
			r.truncated(fl)
		}
		r.log.Debug("resume from checkpoint", "file", p, "offset", fl.offset)
	case initial && r.cfg.StartAt == StartEnd && !(r.cpLoaded && fi.ModTime().After(r.cpSavedAt.Add(-mtimeSlack))):
		fl.offset = r.lastLineStart(fl, size)
		fl.numKnown = false
	}
	r.files[id] = fl
	r.f.files.Add(1)
	r.setLag(fl, size)
	r.checkpointBehind()
	r.markDirty(fl)
	r.log.Debug("open", "file", p, "offset", fl.offset)
	return fl, true
}

// lastLineStart returns the offset just past the last '\n' before size
// (within one buffer), so that starting at the end does not begin mid-line.
func (r *run) lastLineStart(fl *file, size int64) int64 {
	n := min(int64(len(r.buf)), size)
	if n == 0 {
		return size
	}
	m, _ := fl.fd.ReadAt(r.buf[:n], size-n)
	b := r.buf[:m]
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return size - n + int64(i) + 1
	}
	return size
}

// resumeRotated finds checkpointed files that were renamed out of the globs
// while we were down, among the siblings of their recorded paths, and opens
// them for draining first.
func (r *run) resumeRotated() {
	if len(r.cp) == 0 {
		return
	}
	dirs := make(map[string][]cpEntry)
	for _, e := range r.cp {
		dirs[filepath.Dir(e.Path)] = append(dirs[filepath.Dir(e.Path)], e)
	}
	for dir, es := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, de := range ents {
			if !de.Type().IsRegular() {
				continue
			}
			name := de.Name()
			want := false
			for _, e := range es {
				if strings.HasPrefix(name, stem(filepath.Base(e.Path))) {
					want = true
					break
				}
			}
			if !want {
				continue
			}
			p := filepath.Join(dir, name)
			fi, err := os.Stat(p)
			if err != nil {
				continue
			}
			id := statID(fi)
			if _, ok := r.cp[id]; !ok || r.files[id] != nil {
				continue
			}
			fl, _ := r.open(p, false)
			if fl == nil {
				continue
			}
			if _, unmatched := r.cp[id]; unmatched {
				r.closeFile(fl) // inode reused by an unrelated file
				continue
			}
			r.log.Debug("resume rotated file", "file", p)
			fl.draining = true
			fl.priority = true
			fl.seen = r.gen
			r.markDirty(fl)
		}
	}
}

// stem is a file name up to its first '.' (or the whole name).
func stem(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}

// fingerprint hashes the first min(size, fingerprintSize) bytes of fl.
func (r *run) fingerprint(fl *file, size int64) {
	n := int(min(size, fingerprintSize))
	m, _ := fl.fd.ReadAt(r.fpBuf[:n], 0)
	fl.fpLen = m
	fl.fpHash = fnv64(r.fpBuf[:m])
}

// verify reports whether fl still starts with its fingerprint, extending the
// fingerprint if the file has grown past it.
func (r *run) verify(fl *file, size int64) bool {
	if fl.fpLen == 0 && size > 0 && fl.offset == 0 {
		r.fingerprint(fl, size)
		return true
	}
	n := int(min(size, fingerprintSize))
	if n < fl.fpLen {
		return false
	}
	m, _ := fl.fd.ReadAt(r.fpBuf[:n], 0)
	if m < fl.fpLen || fnv64(r.fpBuf[:fl.fpLen]) != fl.fpHash {
		return false
	}
	if m > fl.fpLen {
		fl.fpLen = m
		fl.fpHash = fnv64(r.fpBuf[:m])
	}
	return true
}

func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func (r *run) truncated(fl *file) {
	r.f.truncations.Add(1)
	r.log.Debug("file truncated", "file", fl.name, "offset", fl.offset)
	fl.offset, fl.num, fl.numKnown = 0, 0, true
	fl.skipNL, fl.discard, fl.partial = false, false, false
	fl.size = 0
	r.checkpointBehind()
}

func (r *run) setLag(fl *file, size int64) {
	fl.size = size
	l := max(size-fl.offset, 0)
	if l != fl.lag {
		r.f.lag.Add(l - fl.lag)
		fl.lag = l
	}
}

func (r *run) closeFile(fl *file) {
	if fl.fd == nil {
		return
	}
	if fl.draining && len(r.done) < maxDone {
		r.done[fl.id] = true
	}
	if fl.draining && r.cfg.CheckpointPath != "" {
		r.keepClosed(fl)
	}
	fl.fd.Close()
	fl.fd = nil
	r.f.lag.Add(-fl.lag)
	fl.lag = 0
	r.f.files.Add(-1)
	delete(r.files, fl.id)
	if r.byName[fl.name] == fl {
		delete(r.byName, fl.name)
	}
	r.checkpointBehind()
}

// keepClosed records the checkpoint entry of a drained file being closed.
func (r *run) keepClosed(fl *file) {
	if r.closed == nil {
		r.closed = make(map[fileID]cpEntry)
	}
	if _, ok := r.closed[fl.id]; !ok {
		if len(r.closedOrder) >= maxClosed {
			delete(r.closed, r.closedOrder[0])
			r.closedOrder = r.closedOrder[1:]
		}
		r.closedOrder = append(r.closedOrder, fl.id)
	}
	e := entryOf(fl)
	e.Closed = true
	r.closed[fl.id] = e
}

func (r *run) closeAll() {
	for _, fl := range r.files {
		r.closeFile(fl)
	}
}

// readDirty reads every dirty file; rotated files go first.
func (r *run) readDirty(ctx context.Context, flush bool) {
	if len(r.dirty) == 0 {
		return
	}
	slices.SortStableFunc(r.dirty, func(a, b *file) int {
		pa, pb := a.draining || a.priority, b.draining || b.priority
		switch {
		case pa == pb:
			return 0
		case pa:
			return -1
		}
		return 1
	})
	for i, fl := range r.dirty {
		r.dirty[i] = nil
		fl.dirty = false
		if fl.fd == nil || ctx.Err() != nil {
			continue
		}
		r.readFile(ctx, fl, flush)
		fl.priority = false
	}
	r.dirty = r.dirty[:0]
}

// readFile delivers the complete lines of fl up to its current size. With
// flush, a final partial line is delivered too.
func (r *run) readFile(ctx context.Context, fl *file, flush bool) {
	fi, err := fl.fd.Stat()
	if err != nil {
		r.f.errs.Add(1)
		r.log.Warn("stat", "file", fl.name, "err", err)
		return
	}
	size, mtime := fi.Size(), fi.ModTime()
	// A changed size or mtime means new data or a rewrite: a file rewritten
	// to the same size (ping-pong with fixed-size files) is caught by the
	// fingerprint.
	if size < fl.offset || ((size != fl.size || !mtime.Equal(fl.mtime)) && !r.verify(fl, size)) {
		r.truncated(fl)
		r.fingerprint(fl, size)
	}
	fl.mtime = mtime
	now := time.Now()
	if size > fl.size {
		fl.lastGrowth = now
	}
	r.setLag(fl, size)
	if fl.offset >= size {
		fl.partial = false
		return
	}
	before := fl.offset
	r.readLines(ctx, fl, size, flush)
	r.setLag(fl, size)
	if fl.offset != before {
		// A handler that works in the background (the pipeline's
		// workers) finishes these lines first: a checkpoint never runs
		// ahead of what the sinks got.
		input.Flush(r.h)
		r.lastData = now
		r.idled = false
		r.checkpointBehind()
	}
}

func (r *run) readLines(ctx context.Context, fl *file, limit int64, flush bool) {
	maxLine := r.cfg.MaxLineLength
	for fl.offset < limit {
		if ctx.Err() != nil {
			return
		}
		want := min(limit-fl.offset, int64(len(r.buf)))
		n, err := fl.fd.ReadAt(r.buf[:want], fl.offset)
		if n == 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				r.f.errs.Add(1)
				r.log.Warn("read", "file", fl.name, "err", err)
			}
			return // shrank under us; the next look sees the truncation
		}
		if int64(n) < want {
			limit = fl.offset + int64(n) // the file shrank under us
		}
		data := r.buf[:n]
		base := fl.offset
		pos := 0
		if fl.discard {
			i := indexNL(data)
			if i < 0 {
				fl.offset += int64(n)
				continue
			}
			pos = i + 1
			fl.discard = false
			fl.offset = base + int64(pos)
		}
		if fl.skipNL && pos < n {
			if data[pos] == '\n' {
				pos++
				fl.offset = base + int64(pos)
			}
			fl.skipNL = false
		}
		for pos < n {
			i := indexNL(data[pos:])
			if i < 0 {
				break
			}
			if i > maxLine {
				// Reachable only with a buffer larger than maxLine+1: cut.
				r.deliver(fl, data[pos:pos+maxLine], base+int64(pos), maxLine)
				r.longLine(fl, base+int64(pos))
			} else {
				r.deliver(fl, trimCR(data[pos:pos+i]), base+int64(pos), i+1)
			}
			pos += i + 1
			fl.offset = base + int64(pos)
		}
		rest := n - pos
		if rest == 0 {
			continue
		}
		if base+int64(n) < limit && pos > 0 {
			continue // the rest is re-read at the start of the buffer
		}
		// rest has no newline and reaches the end of what we read.
		if rest > maxLine {
			r.deliver(fl, data[pos:pos+maxLine], base+int64(pos), maxLine)
			r.longLine(fl, base+int64(pos))
			fl.offset = base + int64(n)
			fl.discard = true
			continue
		}
		if pos == 0 && n == len(r.buf) && len(r.buf) < maxLine+1 {
			r.buf = make([]byte, min(2*len(r.buf), maxLine+1))
			continue
		}
		if base+int64(n) < limit {
			continue
		}
		// A partial last line.
		if !flush {
			fl.partial = true
			return
		}
		r.deliver(fl, trimCR(data[pos:n]), base+int64(pos), rest)
		fl.offset = base + int64(n)
		fl.skipNL = true
	}
	fl.partial = false
}

func (r *run) deliver(fl *file, text []byte, off int64, consumed int) {
	if fl.numKnown {
		fl.num++
	}
	num := fl.num
	if !fl.numKnown {
		num = 0
	}
	r.h.HandleLine(input.Line{Text: text, File: fl.name, Offset: off, Num: num})
	r.f.lines.Add(1)
	r.f.bytes.Add(uint64(consumed))
}

// linkAllowed applies FollowSymlinks to the link p, whose opened file is
// real (from /proc if fromProc) with the identity id; a refusal is logged
// once per link.
func (r *run) linkAllowed(p, real string, id fileID, fromProc bool) bool {
	why := ""
	switch r.cfg.FollowSymlinks {
	case "always":
		// The link may point anywhere, but the file opened must be the
		// one it points to now.
	case "never":
		why = "follow_symlinks is \"never\""
	default:
		dir, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil || !strings.HasPrefix(real, dir+string(filepath.Separator)) {
			why = "its target is outside the directory " + filepath.Dir(p) + " (set follow_symlinks = \"always\" to read it)"
		}
	}
	if why == "" && !fromProc {
		// real must name the file opened (it does when it comes from
		// /proc; a path from EvalSymlinks may already name another).
		if fi, err := os.Stat(real); err != nil || statID(fi) != id {
			why = "it changed while being opened"
		}
	}
	if why == "" {
		return true
	}
	if r.refusedLinks == nil {
		r.refusedLinks = map[string]bool{}
	}
	if !r.refusedLinks[p] {
		r.refusedLinks[p] = true
		r.log.Warn("symbolic link not followed", "file", p, "target", real, "reason", why)
	}
	return false
}

// longLine counts a line cut to the limit (in the read errors too) and
// logs the first ones and then every power of two.
func (r *run) longLine(fl *file, off int64) {
	r.f.errs.Add(1)
	n := r.f.longLines.Add(1)
	if n <= 10 || n&(n-1) == 0 {
		r.log.Warn("line longer than the limit, cut", "file", fl.name, "offset", off, "max_line_length", r.cfg.MaxLineLength, "lines_cut_so_far", n)
	}
}

func indexNL(b []byte) int { return bytes.IndexByte(b, '\n') }

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}
