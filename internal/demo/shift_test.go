package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShiftEveryStamp shifts every sample there and back: the text comes
// back byte for byte, every line with a timestamp has one moved, and the
// newest record of the corpus lands a minute before "now".
func TestShiftEveryStamp(t *testing.T) {
	d := 149*time.Hour + 37*time.Minute + 12*time.Second
	total := 0
	for _, dir := range SampleDirs {
		files, err := filepath.Glob(filepath.Join("..", "..", dir, "*"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: %v (no files)", dir, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, n, err := Shift(b, d, Options{})
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if n == 0 {
				t.Errorf("%s: no timestamp found", f)
			}
			if string(out) == string(b) {
				t.Errorf("%s: unchanged", f)
			}
			back, m, err := Shift(out, -d, Options{})
			if err != nil || m != n || string(back) != string(b) {
				t.Errorf("%s: shifting back gives %d stamps (want %d), err %v, same text %v", f, m, n, err, string(back) == string(b))
			}
			total += n
		}
	}
	// A few shapes, by hand.
	for _, tc := range []struct{ in, want string }{
		{"[2026/11/30 09:00:00.101 +08:00] x", "[2026/12/01 10:01:01.101 +08:00] x"},
		{"# Time: 2026-11-30T09:10:00.487776265+08:00", "# Time: 2026-12-01T10:11:01.487776265+08:00"},
		{"2026-11-30 01:25:00.037 UTC [3959] LOG:  x", "2026-12-01 02:26:01.037 UTC [3959] LOG:  x"},
		{"20261130 23:15:00,db1,root", "20261202 00:16:01,db1,root"},
		{`1.2.3.4 - - [30/Nov/2026:01:35:00 +0000] "GET / HTTP/1.1"`, `1.2.3.4 - - [01/Dec/2026:02:36:01 +0000] "GET / HTTP/1.1"`},
		{"11/30 01:45:30.123330 00000083 C MND", "12/01 02:46:31.123330 00000083 C MND"},
		{`{"timestamp":"1764467160000000000","user":"root"}`, `{"timestamp":"1764557221000000000","user":"root"}`},
		{`{"timestamp": 1717236000, "x": 1}`, `{"timestamp": 1717326061, "x": 1}`},
	} {
		got, n, err := Shift([]byte(tc.in), 25*time.Hour+time.Minute+time.Second, Options{})
		if err != nil || n != 1 || string(got) != tc.want {
			t.Errorf("Shift(%q) = %q (%d stamps, %v), want %q", tc.in, got, n, err, tc.want)
		}
	}
	now := time.Date(2027, 3, 4, 5, 6, 7, 0, time.UTC)
	p, err := Prepare(filepath.Join("..", ".."), t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Stamps != total || p.Files == 0 {
		t.Errorf("Prepare shifted %d stamps in %d files, want %d", p.Stamps, p.Files, total)
	}
	if age := now.Sub(p.Newest); age < time.Minute-time.Second || age > time.Minute+time.Second {
		t.Errorf("the newest record is %v old, want a minute", age)
	}
	b, err := os.ReadFile(p.Config)
	if err != nil || !strings.Contains(string(b), "[[source]]") {
		t.Errorf("the mirror has no demo.toml: %v", err)
	}
}
