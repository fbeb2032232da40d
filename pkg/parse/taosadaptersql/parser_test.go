package taosadaptersql

import (
	"bytes"
	"encoding/csv"
	"os"
	"strings"
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	parsetest.Golden(t, Format, "docs")
	parsetest.Golden(t, Format, "synthetic")
}

func assemble(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAssembler()
	var out [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if rec, _, ok := a.Add(l, parse.Pos{}); ok {
			out = append(out, bytes.Clone(rec))
		}
	}
	if rec, _, ok := a.Flush(); ok {
		out = append(out, bytes.Clone(rec))
	}
	return out
}

// TestFieldsMatchEncodingCSV checks the field reader against encoding/csv,
// which is what taosAdapter writes with, on every record that encoding/csv
// accepts.
func TestFieldsMatchEncodingCSV(t *testing.T) {
	checked := 0
	for _, rec := range append(assemble(t, "testdata/docs.log"), assemble(t, "testdata/synthetic.log")...) {
		r := csv.NewReader(bytes.NewReader(rec))
		r.FieldsPerRecord = -1
		want, err := r.Read()
		p := New(parse.Options{})
		n, ferr := p.fields(rec)
		if (err != nil) != (ferr != nil) {
			t.Errorf("%q: encoding/csv error %v, fields error %v", rec, err, ferr)
			continue
		}
		if err != nil {
			continue
		}
		if n != len(want) {
			t.Errorf("%q: %d fields, encoding/csv %d", rec, n, len(want))
			continue
		}
		for j := range n {
			if string(p.f[j]) != want[j] {
				t.Errorf("%q field %d: %q, want %q", rec, j, p.f[j], want[j])
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d records checked", checked)
	}
}

// TestRedactedEverywhere: a password in the sql column is masked in the
// statement and in Raw, also when CSV quoting doubles a quote inside it.
func TestRedactedEverywhere(t *testing.T) {
	recs := assemble(t, "testdata/synthetic.log")
	p := New(parse.Options{})
	var ev event.Event
	seen := 0
	for _, rec := range recs {
		ev.Reset()
		ok, err := p.Parse(rec, &ev)
		if err != nil || !ok {
			continue
		}
		for _, secret := range []string{"S3cret!pw", "weird", "pw\"\""} {
			if strings.Contains(ev.Statement, secret) || strings.Contains(ev.Raw, secret) {
				t.Errorf("secret %q in %q / %q", secret, ev.Statement, ev.Raw)
			}
		}
		if strings.Contains(ev.Statement, "<redacted>") {
			seen++
		}
	}
	if seen != 2 {
		t.Fatalf("%d redacted statements, want 2", seen)
	}
}

func TestConnTypeAndApp(t *testing.T) {
	p := New(parse.Options{})
	var ev event.Event
	rec := assemble(t, "testdata/docs.log")[0]
	if ok, err := p.Parse(rec, &ev); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if p.ConnType() != "http" || p.App() != "jdbc_test_app" {
		t.Fatalf("conn_type %q app %q", p.ConnType(), p.App())
	}
}

func TestNoAllocs(t *testing.T) {
	rec := assemble(t, "testdata/docs.log")[0]
	p := New(parse.Options{})
	var ev event.Event
	allocs := testing.AllocsPerRun(100, func() {
		ev.Reset()
		if _, err := p.Parse(rec, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per record", allocs)
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/docs.log", "testdata/synthetic.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

func BenchmarkParse(b *testing.B) {
	rec := assemble(b, "testdata/docs.log")[0]
	p := New(parse.Options{})
	var ev event.Event
	b.SetBytes(int64(len(rec) + 1))
	b.ReportAllocs()
	for b.Loop() {
		ev.Reset()
		if _, err := p.Parse(rec, &ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
