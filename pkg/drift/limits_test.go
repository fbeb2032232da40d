package drift

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadRefusesEndlessAndHugeFiles: a device, a FIFO and a file over
// MaxFileBytes are refused with an error naming the file, without reading
// them.
func TestReadRefusesEndlessAndHugeFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.toml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileBytes + 1); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	for _, p := range []string{"/dev/zero", fifo, big, dir} {
		_, err := ReadFile(p, KindTiDB, ReadOptions{})
		var pe *PosError
		if !errors.As(err, &pe) || pe.File != p || !strings.HasPrefix(err.Error(), p+": ") {
			t.Errorf("%s: %v, want a PosError naming the file", p, err)
		}
		if err := CheckFile(p); err == nil {
			t.Errorf("CheckFile(%s) accepted it", p)
		}
	}
	if err := CheckFile(filepath.Join(dir, "missing.toml")); err != nil {
		t.Errorf("a missing file: %v", err)
	}
}
