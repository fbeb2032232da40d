// Package parsetest is the shared test harness of the format packages: golden
// pairs (testdata/<case>.log → testdata/<case>.golden.json, regenerated with
// -update and reviewed as a diff) and the fuzz invariant (never panic; every
// error is a *parse.Error). Import it only from _test.go files.
package parsetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Record is one line of golden output: an event or an error, with the line
// number of the record's first physical line.
type Record struct {
	Line  int64        `json:"line"`
	Event *event.Event `json:"event,omitempty"`
	Error string       `json:"error,omitempty"`
	// Reason is the parse-error reason of Error.
	Reason string `json:"reason,omitempty"`
	// Skipped says why the parser set the record aside (parse.Skip).
	Skipped string `json:"skipped,omitempty"`
}

// Options for a golden run; Location defaults to UTC and Now to
// 2024-06-01T00:00:00Z so that year-less formats are reproducible.
func Options() parse.Options {
	return parse.Options{
		Location: time.UTC,
		Now:      func() time.Time { return time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) },
	}.Defaults()
}

// Run feeds data (lines separated by '\n') through the format's assembler (if
// any) and parser and returns what it produced. Events are cloned, and their
// Raw field is left as the parser set it.
func Run(f parse.Format, opts parse.Options, data []byte) []Record {
	p := f.New(opts)
	var asm parse.Assembler
	if f.NewAssembler != nil {
		asm = f.NewAssembler()
	}
	var out []Record
	var ev event.Event
	handle := func(rec []byte, pos parse.Pos) {
		ev.Reset()
		ok, err := p.Parse(rec, &ev)
		switch {
		case parse.IsSkip(err):
			out = append(out, Record{Line: pos.Line, Skipped: err.(*parse.Skip).Why})
		case err != nil:
			out = append(out, Record{Line: pos.Line, Error: err.Error(), Reason: parse.ReasonOf(err).String()})
		case ok:
			c := ev.Clone()
			c.Origin = event.Origin{Line: pos.Line}
			out = append(out, Record{Line: pos.Line, Event: c})
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	var n int64
	var off int64
	for sc.Scan() {
		n++
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		pos := parse.Pos{Offset: off, Line: n}
		off += int64(len(sc.Bytes())) + 1
		if asm != nil {
			if rec, start, ok := asm.Add(line, pos); ok {
				handle(rec, start)
			}
			continue
		}
		handle(line, pos)
	}
	if asm != nil {
		if rec, start, ok := asm.Flush(); ok {
			handle(rec, start)
		}
	}
	return out
}

// Golden runs the format over testdata/<name>.log and compares the result
// with testdata/<name>.golden.json.
func Golden(t *testing.T, f parse.Format, name string) []Record {
	t.Helper()
	return GoldenOpts(t, f, Options(), name)
}

// GoldenOpts is Golden with explicit options.
func GoldenOpts(t *testing.T, f parse.Format, opts parse.Options, name string) []Record {
	t.Helper()
	in := "testdata/" + name + ".log"
	gold := "testdata/" + name + ".golden.json"
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	got := Run(f, opts, data)
	if len(got) == 0 {
		t.Fatalf("%s: the parser produced nothing", in)
	}
	js, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')
	if *update {
		if err := os.WriteFile(gold, js, 0o644); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want, err := os.ReadFile(gold)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(js)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", gold, diff)
	}
	return got
}

// Seed adds every line of the given testdata files to the fuzz corpus, and
// each file whole (for multi-line formats).
func Seed(f *testing.F, files ...string) {
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		for _, l := range strings.Split(string(data), "\n") {
			f.Add([]byte(l))
		}
	}
}

// Check is the fuzz invariant: parsing data (split into lines, through the
// assembler if any) must not panic, and every error must be a *parse.Error
// (or a *parse.Skip).
func Check(t *testing.T, f parse.Format, data []byte) {
	p := f.New(Options())
	var asm parse.Assembler
	if f.NewAssembler != nil {
		asm = f.NewAssembler()
	}
	var ev event.Event
	check := func(rec []byte) {
		ev.Reset()
		_, err := p.Parse(rec, &ev)
		if err != nil && !parse.IsSkip(err) {
			var pe *parse.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, not *parse.Error: %v", err, err)
			}
		}
		_ = ev.Category.String()
		_ = ev.Action.String()
	}
	for i, l := range bytes.Split(data, []byte("\n")) {
		if asm != nil {
			if rec, _, ok := asm.Add(l, parse.Pos{Line: int64(i + 1)}); ok {
				check(rec)
			}
			continue
		}
		check(l)
	}
	if asm != nil {
		if rec, _, ok := asm.Flush(); ok {
			check(rec)
		}
	}
}
