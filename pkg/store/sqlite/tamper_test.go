package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/storetest"
)

// TestTamperTable changes the database behind the store's back in each
// way an intruder might and checks that Integrity reports it. "running"
// tampers with the store open; "reopen" closes it, tampers and opens it
// again (a restart). It prints the table.
func TestTamperTable(t *testing.T) {
	ctx := context.Background()
	type tc struct {
		name   string
		reopen bool
		tamper func(t *testing.T, path string)
		// limit: not detected, documented in the README.
		limit bool
	}
	sqlT := func(stmt string, args ...any) func(*testing.T, string) {
		return func(t *testing.T, path string) { tamper(t, path, stmt, args...) }
	}
	editHead := func(f func(c map[string]any)) func(*testing.T, string) {
		return func(t *testing.T, path string) {
			b, err := os.ReadFile(path + ".head")
			if err != nil {
				t.Fatal(err)
			}
			var c map[string]any
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			f(c)
			b, _ = json.Marshal(c)
			if err := os.WriteFile(path+".head", b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []tc{
		{name: "newest 10 events deleted", tamper: sqlT(`DELETE FROM events WHERE seq > 4990`)},
		{name: "newest 10 events deleted", reopen: true, tamper: sqlT(`DELETE FROM events WHERE seq > 4990`)},
		{name: "all events deleted", reopen: true, tamper: sqlT(`DELETE FROM events`)},
		{name: "all events deleted", tamper: sqlT(`DELETE FROM events`)},
		{name: "oldest 100 deleted, anchor forged", reopen: true, tamper: func(t *testing.T, path string) {
			tamper(t, path, `INSERT INTO anchor(id, seq, h) SELECT 1, seq, h FROM events WHERE seq = 100`)
			tamper(t, path, `DELETE FROM events WHERE seq <= 100`)
		}},
		{name: "oldest 100 deleted, anchor forged", tamper: func(t *testing.T, path string) {
			tamper(t, path, `INSERT INTO anchor(id, seq, h) SELECT 1, seq, h FROM events WHERE seq = 100`)
			tamper(t, path, `DELETE FROM events WHERE seq <= 100`)
		}},
		{name: "a detection deleted", tamper: sqlT(`DELETE FROM detections WHERE id = (SELECT MIN(id) FROM detections WHERE eseq > 0)`)},
		{name: "a detection's severity changed", tamper: sqlT(`UPDATE detections SET severity = 'info', msg = 'nothing' WHERE id = (SELECT MIN(id) FROM detections WHERE eseq > 0)`)},
		{name: "head checkpoint edited", reopen: true, tamper: editHead(func(c map[string]any) { c["seq"] = 4000.0 })},
		{name: "newest deleted, checkpoint re-forged without the key", reopen: true, tamper: func(t *testing.T, path string) {
			tamper(t, path, `DELETE FROM events WHERE seq > 4990`)
			editHead(func(c map[string]any) {
				c["seq"] = 4990.0
				c["hash"] = strings.Repeat("0", 64)
			})(t, path)
		}},
		{name: "head checkpoint removed", tamper: func(t *testing.T, path string) { os.Remove(path + ".head") }},
		{name: "a rollup row deleted", tamper: sqlT(`DELETE FROM r_main WHERE b = (SELECT MAX(b) FROM r_main)`)},
		{name: "a rollup count changed", tamper: sqlT(`UPDATE r_user SET n = n + 5 WHERE b = (SELECT MAX(b) FROM r_user)`)},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-55s %-8s %s\n", "tampering", "when", "integrity")
	for _, c := range cases {
		when := "running"
		if c.reopen {
			when = "reopen"
		}
		t.Run(c.name+"/"+when, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			s, err := Open(Options{Path: path, Policy: store.Policy{AllStatements: true}})
			if err != nil {
				t.Fatal(err)
			}
			g := storetest.New(1, testStart, time.Hour, 5000)
			for ev := g.Next(); ev != nil; ev = g.Next() {
				s.Consume(ev)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if rep, err := s.Integrity(ctx, store.IntegrityQuery{}); err != nil || !rep.OK {
				t.Fatalf("before tampering: %+v %v", rep.FirstBreak, err)
			}
			if c.reopen {
				if err := s.Close(ctx); err != nil {
					t.Fatal(err)
				}
			}
			c.tamper(t, path)
			if c.reopen {
				if s, err = Open(Options{Path: path, Policy: store.Policy{AllStatements: true}}); err != nil {
					t.Fatal(err)
				}
			}
			defer s.Close(ctx)
			rep, err := s.Integrity(ctx, store.IntegrityQuery{})
			if err != nil {
				t.Fatal(err)
			}
			res := "detected: " + func() string {
				if rep.FirstBreak != nil {
					return rep.FirstBreak.Reason
				}
				return ""
			}()
			if rep.OK {
				res = "NOT detected"
			}
			fmt.Fprintf(&table, "%-55s %-8s %s\n", c.name, when, res)
			switch {
			case c.limit && !rep.OK:
				t.Logf("a documented limit is now detected: update the README")
			case c.limit:
			case rep.OK:
				t.Errorf("not detected")
			}
		})
	}
	t.Logf("\n%s", table.String())
}

// TestHeadSurvivesRestartAndRetention: a clean restart and retention moving
// the anchor are not reported.
func TestHeadSurvivesRestartAndRetention(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	now := testStart.Add(2 * time.Hour)
	opts := Options{Path: path, Policy: store.Policy{AllStatements: true}, Retention: 30 * time.Minute, Now: func() time.Time { return now }}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	g := storetest.New(1, testStart, time.Hour, 3000)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		s.Consume(ev)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if err := s.Retain(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Integrity(ctx, store.IntegrityQuery{})
	if err != nil || !rep.OK {
		t.Fatalf("%+v %v", rep.FirstBreak, err)
	}
	if seq, h := s.Head(); seq != 3000 || h == 0 {
		t.Fatalf("head %d %x", seq, h)
	}
}

// TestFilesArePrivate: the database, its WAL and shared memory, the head
// checkpoint and its key are created 0600.
func TestFilesArePrivate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	s, err := Open(Options{Path: path, Policy: store.Policy{AllStatements: true}})
	if err != nil {
		t.Fatal(err)
	}
	g := storetest.New(1, testStart, time.Hour, 100)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		s.Consume(ev)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	if len(ents) < 4 {
		t.Errorf("files: %v", ents)
	}
	s.Close(ctx)
}

// TestDropsAreLogged: Consume (network sources) may drop when the queue is
// full; each drop is counted and the first ones are logged.
func TestDropsAreLogged(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	s, err := Open(Options{Path: filepath.Join(t.TempDir(), "x.db"), Policy: store.Policy{AllStatements: true},
		QueueSize: 1, BlockWait: time.Nanosecond, Logger: slog.New(slog.NewTextHandler(w, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	g := storetest.New(1, testStart, time.Hour, 20000)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		s.Consume(ev)
	}
	d := s.Stats().Dropped
	mu.Lock()
	n := strings.Count(logs.String(), "event store dropped an event")
	mu.Unlock()
	if d == 0 || n == 0 || int64(n) > min(d, 10)+64 {
		t.Fatalf("%d dropped, %d log lines", d, n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
