package tail

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/input"
)

// TestRotatedBeforeOpened covers a generation that is rotated away before the
// follower ever opens it: two rotations happen while the handler is busy, so
// no scan sees the middle file under the live name. It must still be read,
// and neither an unrelated sibling nor an old backup may be.
func TestRotatedBeforeOpened(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []func(*Follower)
	}{{"inotify", nil}, {"polling", []func(*Follower){polling}}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			live := join(dir, "tidb.log")
			old := join(dir, "tidb.log.9")
			writeFile(t, old, "old\n")
			past := time.Now().Add(-time.Hour)
			if err := os.Chtimes(old, past, past); err != nil {
				t.Fatal(err)
			}
			writeFile(t, live, "a1\n")
			release := make(chan struct{})
			rec := &recorder{block: func(l input.Line) {
				if string(l.Text) == "a2" {
					<-release
				}
			}}
			cfg := fastCfg(live)
			cfg.StartAt = StartBeginning
			start(t, cfg, rec, mode.opts...)
			waitFor(t, 5*time.Second, "a1", func() bool { return rec.n.Load() == 1 })

			appendFile(t, live, "a2\n")
			time.Sleep(100 * time.Millisecond) // the handler is now blocked on a2
			must(t, os.Rename(live, join(dir, "tidb-2026-01-01T00-00-00.000.log")))
			writeFile(t, live, "b1\nb2\n")
			must(t, os.Rename(live, join(dir, "tidb-2026-01-01T00-00-01.000.log")))
			writeFile(t, live, "c1\n")
			writeFile(t, join(dir, "tidb-slow.log"), "x\n")
			close(release)

			waitFor(t, 10*time.Second, "all generations", func() bool { return rec.n.Load() >= 5 })
			time.Sleep(300 * time.Millisecond) // nothing else may arrive
			got := rec.texts()
			slices.Sort(got)
			if want := []string{"a1", "a2", "b1", "b2", "c1"}; !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRotatedName(t *testing.T) {
	for name, want := range map[string]bool{
		"tidb.log.1": true, "tidb.log-20240101": true, "tidb-2024-01-01T00-00-00.000.log": true,
		"taosdlog.1": true, "server_audit.log.9": true,
		"tidb-slow.log": false, "tidb.log.1.gz": false, "tidbx.log": false, "tidb.log": false, "other.log.1": false,
	} {
		base := "tidb.log"
		switch name {
		case "taosdlog.1":
			base = "taosdlog.0"
		case "server_audit.log.9":
			base = "server_audit.log"
		}
		if got := rotatedName(name, base); got != want {
			t.Errorf("rotatedName(%q, %q) = %v, want %v", name, base, got, want)
		}
	}
}
