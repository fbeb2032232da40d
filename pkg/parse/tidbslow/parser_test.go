package tidbslow

import (
	"bytes"
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, Format, "slow") }

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/slow.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var record = []byte(`# Time: 2024-05-20T10:11:12.000123+08:00
# Txn_start_ts: 449876543210987521
# User@Host: analyst[analyst] @ 10.0.3.7 [10.0.3.7]
# Conn_ID: 2097160
# Query_time: 12.5
# Parse_time: 0.000054933 Compile_time: 0.000129729
# DB: shop
# Is_internal: false
# Digest: 9f2c0d7e5b7c1e3a2f4d6b8a0c1e3f5a7b9d1f3e5a7c9b1d3f5e7a9c1b3d5f7e
# Result_rows: 48213
# Succ: true
use shop;
select c.email, c.phone
from customers c join orders o on o.cid = c.id
where o.total > 100;`)

func TestNoAllocs(t *testing.T) {
	p := New()
	a := NewAssembler()
	lines := bytes.Split(record, []byte("\n"))
	var ev event.Event
	run := func() {
		for i, l := range lines {
			if rec, _, ok := a.Add(l, parse.Pos{Line: int64(i + 1)}); ok {
				ev.Reset()
				if ok, err := p.Parse(rec, &ev); !ok || err != nil {
					t.Fatal(ok, err)
				}
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("%v allocs per record, want 0", n)
	}
}

func TestTooLong(t *testing.T) {
	a := NewAssembler()
	a.Add([]byte("# Time: 2024-05-20T10:11:12+08:00"), parse.Pos{Line: 1})
	big := bytes.Repeat([]byte("x"), 64<<10)
	for range 40 { // 2.5 MiB of SQL
		if _, _, ok := a.Add(big, parse.Pos{}); ok {
			t.Fatal("record ended early")
		}
	}
	rec, start, ok := a.Add([]byte("from t;"), parse.Pos{})
	if !ok || start.Line != 1 || len(rec) != MaxRecord+1 {
		t.Fatalf("ok=%v start=%v len=%d", ok, start, len(rec))
	}
	var ev event.Event
	_, err := New().Parse(rec, &ev)
	if parse.ReasonOf(err) != parse.ReasonTooLong {
		t.Fatalf("err = %v, want too_long", err)
	}
	// The next record is unaffected.
	a.Add([]byte("# Time: 2024-05-20T10:11:13+08:00"), parse.Pos{Line: 50})
	rec, _, ok = a.Add([]byte("select 1;"), parse.Pos{})
	if !ok || string(rec) != "# Time: 2024-05-20T10:11:13+08:00\nselect 1;" {
		t.Fatalf("next record %q", rec)
	}
}

func BenchmarkParse(b *testing.B) {
	p := New()
	a := NewAssembler()
	lines := bytes.Split(record, []byte("\n"))
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(record)))
	for b.Loop() {
		for _, l := range lines {
			if rec, _, ok := a.Add(l, parse.Pos{}); ok {
				ev.Reset()
				_, _ = p.Parse(rec, &ev)
			}
		}
	}
}
