package replay

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/input"
)

type rec struct {
	input.LinesOnly
	lines []input.Line
	idle  int
}

func (r *rec) HandleLine(l input.Line) {
	l.Text = append([]byte(nil), l.Text...)
	r.lines = append(r.lines, l)
}
func (r *rec) Idle() { r.idle++ }

func TestReplay(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "a.log.1")
	cur := filepath.Join(dir, "a.log")
	os.WriteFile(old, []byte("o1\r\no2\n"), 0o644)
	os.WriteFile(cur, []byte("c1\n\nc3"), 0o644) // empty line, no final newline
	past := time.Now().Add(-time.Hour)
	os.Chtimes(old, past, past)
	long := filepath.Join(dir, "b.log")
	os.WriteFile(long, []byte("x\n"+strings.Repeat("y", MaxLineLength+10)+"\nz\n"), 0o644)

	in := New(filepath.Join(dir, "a.log*"), long)
	r := &rec{}
	if err := in.Run(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range r.lines {
		got = append(got, string(l.Text))
	}
	if want := "o1,o2,c1,,c3,x,z"; strings.Join(got, ",") != want {
		t.Errorf("lines %q, want %s", got, want)
	}
	if r.lines[1].Offset != 4 || r.lines[1].Num != 2 || r.lines[1].File != old {
		t.Errorf("origin of o2: %+v", r.lines[1])
	}
	if z := r.lines[6]; z.Num != 3 || z.Offset != int64(2+MaxLineLength+10+1) {
		t.Errorf("origin after a too-long line: %+v", z)
	}
	if st := in.Stats(); st.Errors != 1 || st.Lines != 7 || r.idle != 1 {
		t.Errorf("stats %+v idle %d", st, r.idle)
	}
	if _, err := New("[").Files(); err == nil {
		t.Error("a bad glob was accepted")
	}
}
