package demo

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// SampleDirs hold the sample logs of the demo, relative to the repository
// root. Every file in them is copied with its timestamps shifted.
var SampleDirs = []string{"testdata/tidb", "testdata/mariadb", "testdata/postgres", "testdata/redash", "testdata/tdengine"}

// verbatim are copied as they are: the configuration, the detection
// rules and the configuration files that the drift checks read.
var verbatim = []string{"testdata/demo.toml", "testdata/detect-rules.toml", "pkg/drift/testdata/examples"}

// Config is the demo configuration inside a prepared mirror.
const Config = "testdata/demo.toml"

// AuditRecords are the TDengine audit records the demo posts to the
// receiver (relative to the mirror).
const AuditRecords = "testdata/tdengine/audit.jsonl"

// Prepared describes a mirror made by Prepare.
type Prepared struct {
	Dir    string        // the mirror
	Config string        // its demo.toml
	Shift  time.Duration // how far every timestamp moved
	Newest time.Time     // the newest record after the shift
	Files  int           // log files shifted
	Stamps int           // timestamps shifted
}

// Prepare writes a mirror of the demo's files under dst (removed first):
// the samples with every timestamp moved by the same amount, so that the
// newest record of all is one minute before now and the records keep
// their order and spacing, and the configuration files as they are.
func Prepare(root, dst string, now time.Time) (*Prepared, error) {
	if err := os.RemoveAll(dst); err != nil {
		return nil, err
	}
	type file struct {
		rel  string
		b    []byte
		mode fs.FileMode
	}
	var files []file
	var newest time.Time
	for _, d := range SampleDirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			t, ok, err := Newest(b, Options{})
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			if ok && t.After(newest) {
				newest = t
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			files = append(files, file{rel, b, fi.Mode().Perm()})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if newest.IsZero() {
		return nil, fmt.Errorf("no timestamp found in %v", SampleDirs)
	}
	p := &Prepared{Dir: dst, Config: filepath.Join(dst, Config)}
	p.Shift = now.Add(-time.Minute).Sub(newest).Truncate(time.Second)
	p.Newest = newest.Add(p.Shift)
	for _, f := range files {
		out, n, err := Shift(f.b, p.Shift, Options{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.rel, err)
		}
		if n > 0 {
			p.Files++
			p.Stamps += n
		}
		if err := write(filepath.Join(dst, f.rel), out, f.mode); err != nil {
			return nil, err
		}
	}
	for _, v := range verbatim {
		err := filepath.WalkDir(filepath.Join(root, v), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			// The mode is kept: drift rules check file modes.
			return write(filepath.Join(dst, rel), b, fi.Mode().Perm())
		})
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

func write(path string, b []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode) // whatever the umask
}
