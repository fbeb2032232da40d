package detect

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// stateVersion is bumped when the state file layout changes; an old file is
// ignored (the detectors learn again). Version 2 added CurHash and
// PrevHash; a version 1 file loads with both fnv64 (their zero value).
const stateVersion = 2

type stateFile struct {
	Version int
	Saved   time.Time
	Now     int64
	Novelty map[string]noveltyState
}

type noveltyState struct {
	Cur, Prev []uint64
	K         uint32
	Half      int64
	RotatedAt int64
	Started   int64
	// CurHash and PrevHash are the key hashes of the generations.
	CurHash, PrevHash keyHash
}

// Save writes the first-seen state to Options.StatePath atomically (a
// temporary file in the same directory, fsync, rename). It is a no-op
// without a StatePath. Call it periodically (e.g. every 5 minutes) and on
// shutdown; Close calls it.
func (d *Detector) Save() error {
	if d.opts.StatePath == "" {
		return nil
	}
	d.mu.Lock()
	st := stateFile{Version: stateVersion, Saved: time.Unix(0, d.now).UTC(), Now: d.now, Novelty: map[string]noveltyState{}}
	for _, n := range d.novelties {
		st.Novelty[n.name] = noveltyState{
			Cur: append([]uint64(nil), n.cur.Bits...), Prev: append([]uint64(nil), n.prev.Bits...),
			K: n.cur.K, Half: n.half, RotatedAt: n.rotatedAt, Started: n.started,
			CurHash: n.curHash, PrevHash: n.prevHash,
		}
	}
	d.mu.Unlock()
	return writeAtomic(d.opts.StatePath, func(w *bufio.Writer) error { return gob.NewEncoder(w).Encode(&st) })
}

func writeAtomic(path string, write func(*bufio.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save detector state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	w := bufio.NewWriterSize(f, 1<<16)
	if err := write(w); err != nil {
		f.Close()
		return fmt.Errorf("save detector state: %w", err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("save detector state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save detector state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save detector state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save detector state: %w", err)
	}
	if df, err := os.Open(dir); err == nil {
		_ = df.Sync()
		df.Close()
	}
	return nil
}

// load restores the state file; a missing file is not an error.
func (d *Detector) load(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load detector state: %w", err)
	}
	defer f.Close()
	var st stateFile
	if err := gob.NewDecoder(bufio.NewReader(f)).Decode(&st); err != nil {
		return fmt.Errorf("load detector state %s: %w", path, err)
	}
	if st.Version != stateVersion && st.Version != 1 {
		return fmt.Errorf("load detector state %s: version %d, want %d", path, st.Version, stateVersion)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range d.novelties {
		s, ok := st.Novelty[n.name]
		if !ok || len(s.Cur) != len(n.cur.Bits) || len(s.Prev) != len(n.prev.Bits) || s.K != n.cur.K {
			d.log.Info("detector state does not match the configured capacity; learning again", "detector", n.name)
			continue
		}
		copy(n.cur.Bits, s.Cur)
		copy(n.prev.Bits, s.Prev)
		n.rotatedAt, n.started = s.RotatedAt, s.Started
		n.curHash, n.prevHash = s.CurHash, s.PrevHash
	}
	d.now = max(d.now, st.Now)
	return nil
}
