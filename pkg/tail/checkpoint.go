package tail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// checkpointVersion is the version of the checkpoint file format.
const checkpointVersion = 1

// checkpointFile is the on-disk checkpoint (JSON).
type checkpointFile struct {
	Version int       `json:"version"`
	SavedAt time.Time `json:"saved_at"`
	Files   []cpEntry `json:"files"`
}

// cpEntry is the checkpoint of one file. Offset is just past the last line
// HandleLine returned for.
type cpEntry struct {
	Path     string `json:"path"`
	Dev      uint64 `json:"dev"`
	Ino      uint64 `json:"ino"`
	FpLen    int    `json:"fp_len"`
	FpHash   string `json:"fp_hash"` // hex FNV-1a 64 of the first FpLen bytes
	Offset   int64  `json:"offset"`
	Num      int64  `json:"num"`
	NumKnown bool   `json:"num_known"`
	SkipNL   bool   `json:"skip_nl,omitempty"`
	// Closed marks a rotated file that was read to its end and closed.
	Closed bool `json:"closed,omitempty"`
}

func entryOf(fl *file) cpEntry {
	return cpEntry{
		Path:     fl.name,
		Dev:      fl.id.dev,
		Ino:      fl.id.ino,
		FpLen:    fl.fpLen,
		FpHash:   fmt.Sprintf("%016x", fl.fpHash),
		Offset:   fl.offset,
		Num:      fl.num,
		NumKnown: fl.numKnown,
		SkipNL:   fl.skipNL,
	}
}

// matches reports whether the open file fl (same dev/inode) is the file the
// entry was written for: its first FpLen bytes hash to FpHash.
func (e cpEntry) matches(fl *file, r *run) bool {
	if e.FpLen == 0 {
		return true
	}
	if e.FpLen > len(r.fpBuf) || e.FpLen > fl.fpLen {
		return false
	}
	n, _ := fl.fd.ReadAt(r.fpBuf[:e.FpLen], 0)
	return n == e.FpLen && fmt.Sprintf("%016x", fnv64(r.fpBuf[:n])) == e.FpHash
}

// fastSuffix names the fast checkpoint beside the durable one: it is
// written on every tick (PollInterval) without fsync, so that it survives
// the exporter being killed (the data is in the page cache) but not
// necessarily a crash of the machine. After SIGKILL the follower resumes
// from it, and re-reads at most one tick of lines instead of one
// CheckpointInterval. The durable checkpoint, fsynced every
// CheckpointInterval and at shutdown, is the fallback.
const fastSuffix = ".fast"

// loadCheckpoint reads the checkpoint, if any: the fast one when it is
// valid and newer than the durable one, else the durable one. A missing file
// is not an error; an unreadable or corrupt durable checkpoint is, so that a
// restart never silently re-reads or skips data. A corrupt fast checkpoint
// (a machine crash before it reached the disk) is ignored with a warning.
func (r *run) loadCheckpoint() error {
	path := r.cfg.CheckpointPath
	if path == "" {
		return nil
	}
	c, ok, err := readCheckpoint(path)
	if err != nil {
		return err
	}
	fc, fok, ferr := readCheckpoint(path + fastSuffix)
	switch {
	case ferr != nil:
		r.log.Warn("ignoring the fast checkpoint, using the durable one", "path", path+fastSuffix, "err", ferr)
	case fok && (!ok || fc.SavedAt.After(c.SavedAt)):
		c, ok = fc, true
	}
	if !ok {
		return nil
	}
	r.cp = make(map[fileID]cpEntry, len(c.Files))
	for _, e := range c.Files {
		r.cp[fileID{dev: e.Dev, ino: e.Ino}] = e
	}
	r.cpLoaded = true
	r.cpSavedAt = c.SavedAt
	return nil
}

// readCheckpoint reads one checkpoint file; ok is false when it does not
// exist.
func readCheckpoint(path string) (c checkpointFile, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("tail: read checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, false, fmt.Errorf("tail: parse checkpoint %s (delete it to start over): %w", path, err)
	}
	if c.Version != checkpointVersion {
		return c, false, fmt.Errorf("tail: checkpoint %s: unsupported version %d", path, c.Version)
	}
	return c, true, nil
}

func (r *run) checkpointBehind() { r.cpDirty, r.fastDirty = true, true }

// saveCheckpoint writes the durable checkpoint atomically (fsynced) if
// anything changed.
func (r *run) saveCheckpoint() error {
	if r.cfg.CheckpointPath == "" || !r.cpDirty {
		return nil
	}
	if err := r.writeCheckpoint(r.cfg.CheckpointPath, true); err != nil {
		return err
	}
	r.cpDirty, r.fastDirty = false, false
	return nil
}

// saveFastCheckpoint writes the fast checkpoint (renamed into place, not
// fsynced) if anything changed since the last checkpoint of either kind.
func (r *run) saveFastCheckpoint() error {
	if r.cfg.CheckpointPath == "" || !r.fastDirty {
		return nil
	}
	if err := r.writeCheckpoint(r.cfg.CheckpointPath+fastSuffix, false); err != nil {
		return err
	}
	r.fastDirty = false
	return nil
}

func (r *run) writeCheckpoint(path string, durable bool) error {
	c := checkpointFile{Version: checkpointVersion, SavedAt: time.Now().UTC(), Files: make([]cpEntry, 0, len(r.files))}
	for _, fl := range r.files {
		c.Files = append(c.Files, entryOf(fl))
	}
	for _, id := range r.closedOrder {
		if r.files[id] == nil {
			c.Files = append(c.Files, r.closed[id])
		}
	}
	slices.SortFunc(c.Files, func(a, b cpEntry) int { return strings.Compare(a.Path, b.Path) })
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("tail: encode checkpoint: %w", err)
	}
	if err := writeAtomic(path, append(b, '\n'), durable); err != nil {
		return fmt.Errorf("tail: write checkpoint: %w", err)
	}
	return nil
}

// writeAtomic writes b to path via a temporary file in the same directory,
// fsyncs it (when durable), renames it over path and fsyncs the directory
// (when durable).
func writeAtomic(path string, b []byte, durable bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if !durable {
		return nil
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: not every file system supports it
		d.Close()
	}
	return nil
}
