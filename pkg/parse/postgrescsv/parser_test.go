package postgrescsv

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	parsetest.Golden(t, Format, "synthetic")
	parsetest.Golden(t, Format, "real-pg15")
}

// TestFieldsMatchEncodingCSV checks the field reader against encoding/csv
// on every record of the real log.
func TestFieldsMatchEncodingCSV(t *testing.T) {
	data := mustRead(t, "testdata/real-pg15.csv")
	recs := assemble(data)
	p := New(parse.Options{})
	for i, rec := range recs {
		want, err := csv.NewReader(bytes.NewReader(rec)).Read()
		if err != nil {
			t.Fatalf("record %d: encoding/csv: %v", i, err)
		}
		n, err := p.fields(rec)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if n != len(want) {
			t.Fatalf("record %d: %d fields, encoding/csv %d", i, n, len(want))
		}
		for j := range n {
			if string(p.f[j]) != want[j] {
				t.Fatalf("record %d field %d: %q, want %q", i, j, p.f[j], want[j])
			}
		}
	}
}

func assemble(data []byte) [][]byte {
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

func TestNoAllocs(t *testing.T) {
	if parsetest.Race {
		t.Skip("the race detector makes sync.Pool (used by redaction) drop its items; mage test runs this test without it")
	}
	recs := assemble(mustRead(t, "testdata/real-pg15.csv"))
	p := New(parse.Options{})
	var ev event.Event
	for i, rec := range recs {
		allocs := testing.AllocsPerRun(50, func() {
			ev.Reset()
			if _, err := p.Parse(rec, &ev); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("record %d: %v allocs/op", i, allocs)
		}
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/synthetic.log", "testdata/real-pg15.csv")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
		// The field reader agrees with encoding/csv when both accept a
		// single record without newlines.
		if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 || len(data) == 0 {
			return
		}
		p := New(parse.Options{})
		n, err := p.fields(data)
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1
		want, werr := r.Read()
		if err == nil && werr == nil && n == len(want) {
			for j := range n {
				if string(p.f[j]) != want[j] {
					t.Fatalf("field %d: %q, want %q", j, p.f[j], want[j])
				}
			}
		}
		if err == nil && werr == nil && n != len(want) && len(want) <= maxCols {
			t.Fatalf("%d fields, encoding/csv %d", n, len(want))
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data := mustRead(b, "testdata/real-pg15.csv")
	lines := bytes.Split(data, []byte("\n"))
	p := New(parse.Options{})
	a := NewAssembler()
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for _, l := range lines {
			if rec, _, ok := a.Add(l, parse.Pos{}); ok {
				ev.Reset()
				_, _ = p.Parse(rec, &ev)
			}
		}
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
