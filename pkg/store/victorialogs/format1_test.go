package victorialogs

import (
	"context"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/storetest"
	"github.com/dbsec/dbsec/pkg/store/victorialogs/vltest"
)

// Format 1 event records, as Consume wrote them before format 2: for the
// test that old records still verify.

// eventFields returns the fields of ev (without seq, hash and the
// record's _time/_msg), sorted by key.
func eventFields(dst []kv, ev *event.Event, exporter string) []kv {
	add := func(k, v string) {
		if v != "" {
			dst = append(dst, kv{k, v})
		}
	}
	add("action", ev.Action.String())
	add("category", ev.Category.String())
	add("client_ip", ev.ClientIP)
	if ev.ClientPort != 0 {
		add("client_port", strconv.FormatUint(uint64(ev.ClientPort), 10))
	}
	add("connection_id", ev.ConnectionID)
	add("database", ev.Database)
	if len(ev.Detections) > 0 {
		add("detections", jsonList(ev.Detections))
	}
	add("digest", ev.Digest)
	if ev.HasDuration {
		// With a unit, so that VictoriaLogs keeps the text: a column it
		// stores as floats can come back with other digits
		// (0.0031 as 0.0031000000000000003).
		add("duration", strconv.FormatFloat(ev.Duration, 'f', -1, 64)+"s")
	}
	add("exporter", exporter)
	add("format", ev.Format)
	add("id", ev.ID)
	add("kind", kindEvent)
	if len(ev.Objects) > 0 {
		add("objects", jsonList(ev.Objects))
	}
	add("origin_file", ev.Origin.File)
	if ev.Origin.Line != 0 {
		add("origin_line", strconv.FormatInt(ev.Origin.Line, 10))
	}
	if ev.Origin.Offset != 0 {
		add("origin_offset", strconv.FormatInt(ev.Origin.Offset, 10))
	}
	add("outcome", ev.Outcome.String())
	add("raw", ev.Raw)
	add("reason", ev.Reason)
	if ev.HasRows {
		add("rows", strconv.FormatInt(ev.Rows, 10))
	}
	add("server", ev.Server)
	add("source", ev.Source)
	add("statement", ev.Statement)
	add("status_code", ev.StatusCode)
	add("system", ev.System.String())
	if tb, ok := idTB(ev.ID); ok {
		add("tb", strconv.FormatUint(tb, 10))
	}
	add("user", ev.User)
	return dst
}

// appendEventV1 is the record of format 1 and its hash.
func appendEventV1(b []byte, c *event.Event, exporter string, seq int64, prev []byte) ([]byte, []byte) {
	fields := eventFields(nil, c, exporter)
	for i := range fields {
		fields[i].v = cleanUTF8(fields[i].v)
	}
	h := chainHash(prev, fields, c.Time.UnixNano(), seq)
	return appendRecord(b, c.Time, msgOf(c), fields, kv{"seq", strconv.FormatInt(seq, 10)}, kv{"hash", hex.EncodeToString(h)}), h
}

// msgOf is the message of a format 1 record.
func msgOf(ev *event.Event) string {
	return ev.Category.String() + " " + ev.Action.String() + " " + ev.Outcome.String()
}

// TestFormat1And2Chain: an exporter's chain written in format 1 and
// continued in format 2 (an upgrade) verifies as a whole and in windows
// on either side of the change and across it; an edited record of either
// format breaks it; a new state directory recovers the head from
// VictoriaLogs (the last checkpoint, hashed on over the records after it).
func TestFormat1And2Chain(t *testing.T) {
	n := vltest.StartNode(t)
	ctx := context.Background()
	const n1, total = 150, 400
	g := storetest.New(9, faultStart, time.Hour, total)
	var lines [][]byte
	prev := make([]byte, 32)
	var e evEnc
	for seq := int64(1); seq <= total; seq++ {
		c := *g.Next()
		var b []byte
		if seq <= n1 {
			b, prev = appendEventV1(nil, &c, "upgraded", seq, prev)
		} else {
			var h [32]byte
			b, h = e.appendEvent(nil, &c, "upgraded", exporterKey("upgraded"), seq, prev)
			b = append([]byte(nil), b...)
			prev = h[:]
		}
		lines = append(lines, b)
	}
	head := hex.EncodeToString(prev)
	insert := func(tenant uint32, lines [][]byte) *Store {
		s, err := Open(Options{InsertURL: n.URL(), Exporter: "upgraded", QueueDir: t.TempDir(), AccountID: tenant})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(ctx) })
		var body []byte
		for _, l := range lines {
			body = append(body, l...)
		}
		if err := s.cl.insert(ctx, body); err != nil {
			t.Fatal(err)
		}
		s.cl.forceFlush(ctx)
		return s
	}
	s := insert(1, lines)
	var rep store.IntegrityReport
	var err error
	waitUntil(t, 10*time.Second, "the records are searchable", func() bool {
		rep, err = s.Integrity(ctx, store.IntegrityQuery{})
		return err == nil && rep.End == total
	})
	if !rep.OK || rep.Checked != total || rep.Head != head {
		t.Fatalf("whole chain: %+v %+v, want %d verified with head %s", rep, rep.FirstBreak, total, head)
	}
	for _, w := range [][2]int64{{1, 10}, {140, 160}, {151, 151}, {200, 300}, {255, 257}, {257, 400}} {
		rep, err := s.Integrity(ctx, store.IntegrityQuery{Start: w[0], End: w[1]})
		if err != nil || !rep.OK || rep.Checked != w[1]-w[0]+1 {
			t.Errorf("window %v: %+v %+v %v", w, rep, rep.FirstBreak, err)
		}
	}
	// A new state directory: the head comes from VictoriaLogs.
	s2, err := Open(Options{InsertURL: n.URL(), Exporter: "upgraded", QueueDir: t.TempDir(), AccountID: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close(ctx)
	if s2.seq != total || hex.EncodeToString(s2.prev) != head {
		t.Errorf("head recovered from VictoriaLogs: %d %x, want %d %s", s2.seq, s2.prev, total, head)
	}
	// Edits of either format.
	for i, seq := range []int{77, 333} {
		r, err := parseRow(lines[seq-1])
		if err != nil {
			t.Fatal(err)
		}
		r["user"] = "someone_else"
		var fs []kv
		for k, v := range r {
			if k != "_time" && k != "_msg" {
				fs = append(fs, kv{k, v})
			}
		}
		tm, _ := r.time()
		edited := append([][]byte(nil), lines...)
		edited[seq-1] = appendRecord(nil, tm, r["_msg"], fs)
		s := insert(uint32(2+i), edited)
		waitUntil(t, 10*time.Second, "the edited records are searchable", func() bool {
			rep, err = s.Integrity(ctx, store.IntegrityQuery{})
			return err == nil && rep.End == total
		})
		if rep.OK || rep.FirstBreak == nil || rep.FirstBreak.Seq != int64(seq) {
			t.Errorf("edit at %d: %+v %+v", seq, rep, rep.FirstBreak)
		}
	}
}
