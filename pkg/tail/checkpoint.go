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

// loadCheckpoint reads the checkpoint file, if any. A missing file is not an
// error; an unreadable or corrupt one is, so that a restart never silently
// re-reads or skips data.
func (r *run) loadCheckpoint() error {
	path := r.cfg.CheckpointPath
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tail: read checkpoint: %w", err)
	}
	var c checkpointFile
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("tail: parse checkpoint %s (delete it to start over): %w", path, err)
	}
	if c.Version != checkpointVersion {
		return fmt.Errorf("tail: checkpoint %s: unsupported version %d", path, c.Version)
	}
	r.cp = make(map[fileID]cpEntry, len(c.Files))
	for _, e := range c.Files {
		r.cp[fileID{dev: e.Dev, ino: e.Ino}] = e
	}
	r.cpLoaded = true
	r.cpSavedAt = c.SavedAt
	return nil
}

// saveCheckpoint writes the checkpoint atomically if anything changed.
func (r *run) saveCheckpoint() error {
	path := r.cfg.CheckpointPath
	if path == "" || !r.cpDirty {
		return nil
	}
	c := checkpointFile{Version: checkpointVersion, SavedAt: time.Now().UTC(), Files: make([]cpEntry, 0, len(r.files))}
	for _, fl := range r.files {
		c.Files = append(c.Files, cpEntry{
			Path:     fl.name,
			Dev:      fl.id.dev,
			Ino:      fl.id.ino,
			FpLen:    fl.fpLen,
			FpHash:   fmt.Sprintf("%016x", fl.fpHash),
			Offset:   fl.offset,
			Num:      fl.num,
			NumKnown: fl.numKnown,
			SkipNL:   fl.skipNL,
		})
	}
	slices.SortFunc(c.Files, func(a, b cpEntry) int { return strings.Compare(a.Path, b.Path) })
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("tail: encode checkpoint: %w", err)
	}
	if err := writeAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("tail: write checkpoint: %w", err)
	}
	r.cpDirty = false
	return nil
}

// writeAtomic writes b to path via a temporary file in the same directory,
// fsyncs it, renames it over path and fsyncs the directory.
func writeAtomic(path string, b []byte) error {
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
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: not every file system supports it
		d.Close()
	}
	return nil
}
