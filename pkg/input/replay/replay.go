// Package replay is the simplest input: it reads every file matching a set
// of paths or globs once, from the beginning to EOF, oldest first, and stops.
// The exporter's --once mode, the end-to-end tests and the benchmarks use
// it. Following live files is pkg/tail's job.
package replay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"

	"github.com/dbsec/dbsec/pkg/input"
)

// MaxLineLength bounds one line; the rest of a longer line is dropped and
// counted as an error.
const MaxLineLength = 1 << 20

// Input replays files.
type Input struct {
	paths []string
	lines atomic.Uint64
	bytes atomic.Uint64
	errs  atomic.Uint64
}

// New returns an input over the given paths or globs.
func New(paths ...string) *Input { return &Input{paths: paths} }

// Files returns the matching files, oldest modification time first (ties by
// name), so that rotated files are read before the live one.
func (in *Input) Files() ([]string, error) {
	type fi struct {
		name string
		mod  int64
	}
	var files []fi
	seen := map[string]bool{}
	for _, p := range in.paths {
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("bad glob %q: %w", p, err)
		}
		for _, m := range matches {
			st, err := os.Stat(m)
			if err != nil || !st.Mode().IsRegular() || seen[m] {
				continue
			}
			seen[m] = true
			files = append(files, fi{m, st.ModTime().UnixNano()})
		}
	}
	sort.Slice(files, func(i, j int) bool {
		if files[i].mod != files[j].mod {
			return files[i].mod < files[j].mod
		}
		return files[i].name < files[j].name
	})
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.name
	}
	return out, nil
}

// Run implements input.Input.
func (in *Input) Run(ctx context.Context, h input.Handler) error {
	files, err := in.Files()
	if err != nil {
		return err
	}
	for _, name := range files {
		if err := in.file(ctx, name, h); err != nil {
			return err
		}
	}
	h.Idle()
	return nil
}

func (in *Input) file(ctx context.Context, name string, h input.Handler) error {
	f, err := os.Open(name)
	if err != nil {
		in.errs.Add(1)
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	var off, num int64
	var long []byte // a line longer than the buffer, assembled here
	var longN int64 // bytes of that line read so far, kept or not
	for {
		if num&1023 == 0 && ctx.Err() != nil {
			return nil
		}
		chunk, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			longN += int64(len(chunk))
			// Keep at most MaxLineLength+1 bytes: enough to know the line
			// is too long, never more.
			if room := MaxLineLength + 1 - len(long); room > 0 {
				long = append(long, chunk[:min(room, len(chunk))]...)
			}
			continue
		}
		line := chunk
		if len(long) > 0 {
			if len(long)+len(chunk) > MaxLineLength {
				in.errs.Add(1)
				long = long[:0]
				off += longN + int64(len(chunk))
				longN = 0
				num++
				continue
			}
			long = append(long, chunk...)
			line = long
		}
		if len(line) > 0 {
			n := int64(len(line))
			line = bytes.TrimSuffix(line, []byte("\n"))
			line = bytes.TrimSuffix(line, []byte("\r"))
			num++
			h.HandleLine(input.Line{Text: line, File: name, Offset: off, Num: num})
			in.lines.Add(1)
			in.bytes.Add(uint64(n))
			off += n
		}
		long, longN = long[:0], 0
		if err == io.EOF {
			return nil
		}
		if err != nil {
			in.errs.Add(1)
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
}

// Stats implements input.StatsReporter.
func (in *Input) Stats() input.Stats {
	return input.Stats{Lines: in.lines.Load(), Bytes: in.bytes.Load(), Errors: in.errs.Load()}
}

var (
	_ input.Input         = (*Input)(nil)
	_ input.StatsReporter = (*Input)(nil)
)
