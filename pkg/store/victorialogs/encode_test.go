package victorialogs

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/store/storetest"
)

// TestNeedsEscape8 compares the eight-byte test with a byte loop.
func TestNeedsEscape8(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	special := []byte{0, 0x1f, 0x20, 0x21, '"', '\\', 0x7f, 0x80, 0xff, 'a', '[', ']', '#', '!'}
	for range 200000 {
		var b [8]byte
		for i := range b {
			if rng.IntN(3) == 0 {
				b[i] = special[rng.IntN(len(special))]
			} else {
				b[i] = byte(rng.IntN(256))
			}
		}
		want := false
		for _, c := range b {
			if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				want = true
			}
		}
		if got := needsEscape8(binary.LittleEndian.Uint64(b[:])); got != want {
			t.Fatalf("%q: %v, want %v", b, got, want)
		}
	}
}

// TestAppendJSONString reads back what it writes.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain ascii text long enough for words", "a\"b\\c\nd\te\x01f", "é ü 日本語 and more text", "bad \xff utf8 \xc3", strings.Repeat("x\"", 20), "12345678\"12345678"} {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil || got != strings.ToValidUTF8(s, "\ufffd") && got != cleanUTF8(s) {
			// invalid bytes become one U+FFFD each
			if err != nil || strings.Count(got, "\ufffd") == 0 {
				t.Errorf("%q: read back %q %v", s, got, err)
			}
		}
	}
}

// TestEventRecordFormat2: a record written by appendEvent reads back as
// the event, and the canonical form recomputed from the record read back
// is the one that was hashed (the writer emits the fields in key order).
func TestEventRecordFormat2(t *testing.T) {
	evs := storetest.HandMade(event.NewIDGen())
	g := storetest.New(3, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Hour, 300)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		evs = append(evs, ev)
	}
	// The statement inside raw (cut out and put back) and at its ends.
	evs = append(evs, &event.Event{ID: "019ca6b1dc0020be00000001", Time: time.UnixMilli(0x019ca6b1dc00).UTC(), Statement: "SELECT 1 FROM t", Raw: "SELECT 1 FROM t"},
		&event.Event{ID: "019ca6b1dc0020be00000002", Time: time.UnixMilli(0x019ca6b1dc00).UTC(), Statement: "SELECT 1 FROM t", Raw: "SELECT 1 FROM t;"},
		&event.Event{ID: "019ca6b1dc0020be00000003", Time: time.UnixMilli(0x019ca6b1dc00).UTC(), Statement: "SELECT 1 FROM t", Raw: "x\"SELECT 1 FROM t"},
		&event.Event{ID: "019ca6b1dc0020be00000004", Time: time.UnixMilli(0x019ca6b1dc00).UTC(), Statement: "é SELECT \"1\"", Raw: "{\"q\":\"é SELECT \"1\"\"} é SELECT \"1\""})
	var e evEnc
	prev := make([]byte, 32)
	tested := 0
	defer func() {
		if tested < len(evs)-2 {
			t.Errorf("%d of %d events tested", tested, len(evs))
		}
	}()
	for i, ev := range evs {
		c := *ev
		c.Statement, c.Raw, c.Reason = cleanUTF8(c.Statement), cleanUTF8(c.Raw), cleanUTF8(c.Reason)
		if ms, ok := idTime(c.ID); !ok || ms != c.Time.UnixMilli() {
			continue
		}
		seq := int64(i + 1)
		b, h := e.appendEvent(nil, &c, "exp", exporterKey("exp"), seq, prev)
		r, err := parseRow(b)
		if err != nil {
			t.Fatalf("event %d: %v\n%s", i, err, b)
		}
		if !r.isV2() || r["seq"] == "" || (seq%checkpointEvery == 0) != (r["hash"] != "") {
			t.Fatalf("event %d: record %s", i, b)
		}
		tm, _ := r.time()
		if got := r.rowHash(prev, tm, seq); got != h {
			t.Fatalf("event %d: hash from the record read back differs\n%s\nwriter %q\nreader %q", i, b, e.canon, r.canonV2(nil))
		}
		if ok, _ := r.checkHash(h); !ok {
			t.Fatalf("event %d: stored hashes do not match", i)
		}
		got, err := r.toEvent()
		if err != nil {
			t.Fatal(err)
		}
		want := c
		want.Hits, want.Traffic = nil, false
		want.Time = want.Time.UTC()
		if want.Objects != nil && len(want.Objects) == 0 {
			want.Objects = nil
		}
		if want.Detections != nil && len(want.Detections) == 0 {
			want.Detections = nil
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("event %d reads back as\n%+v\nwant\n%+v\n%s", i, *got, want, b)
		}
		prev = h[:]
		tested++
	}
}

// TestParseRowFast reads what encoding/json reads.
func TestParseRowFast(t *testing.T) {
	lines := []string{
		`{}`, ` { } `, `{"a":"b"}`, `{"_time":"2026-03-01T00:00:00Z","user":"x\"y\\z\n\u00e9\ud83d\ude00","n":"1"}`,
		`{"a":"b","a":"c"}`, `{"a":"\xff"}`, `{"a":1}`, `{"a":["x"]}`, `{"a":"b"`, `{"a":"b"}x`, `{"a" : "b" , "c":"d"}`, `[]`, ``, `{"a":"\u0000"}`,
		`{"a":"b\\"}`, `{"a":"\\\"","b":"c"}`, `{"a":"\ud800x"}`, `{"a":"\ud800\u0041"}`, `{"a":"\udc00\ud800"}`, `{"a":"\ud83d\ude00\u00e9\/\b\f\r\t"}`,
		`{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12G4"}`, "{\"a\":\"\xff\\n\xc3\"}", `{"a":"\ud800\ud800"}`, `{"a":"\ud800\\"}`,
	}
	g := storetest.New(4, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Hour, 50)
	var e evEnc
	prev := make([]byte, 32)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		b, _ := e.appendEvent(nil, ev, "x", "1", 1, prev)
		lines = append(lines, strings.TrimSpace(string(b)))
	}
	for _, l := range lines {
		want, werr := parseRow([]byte(l))
		got, gerr := parseRowFast([]byte(l))
		if (werr != nil) != (gerr != nil) || werr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v %v\nwant %v %v", l, got, gerr, want, werr)
		}
	}
}

func BenchmarkParseRow(b *testing.B) {
	var e evEnc
	ev := storetest.New(4, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Hour, 1).Next()
	line, _ := e.appendEvent(nil, ev, "x", "1", 1, make([]byte, 32))
	series := []byte(`{"_time":"2026-03-01T00:01:00Z","category":"read","c":"1234"}`)
	for _, bc := range []struct {
		name string
		line []byte
		fn   func([]byte) (row, error)
	}{{"event/json", line, parseRow}, {"event/fast", line, parseRowFast}, {"series/json", series, parseRow}, {"series/fast", series, parseRowFast}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.fn(bc.line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
