package victorialogs

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/dbsec/dbsec/pkg/event"
)

// Event records, format 2 (written since format 1's successor; both are
// read and verified).
//
// Format 1 stored on every event the fields of eventFields, seq, the full
// chain hash as 64 hex digits (hash) and tb, and chained the fields as
// sorted "key=len:value" text. Format 2 is what Consume writes now, built
// by appending into one reused buffer (no reflection, no maps, no
// allocation per event):
//
//   - h is the first 4 bytes of the event's chain hash (8 hex digits);
//     the full hash (hash) is stored only on every checkpointEvery-th
//     event (seq a multiple of it). A verifier recomputes every hash from
//     the fields, compares h on each event and the full hash at each
//     checkpoint, and starts a window from the checkpoint before it. The
//     full hash of every event cost 35 of about 160 bytes per event on
//     disk (32 random bytes do not compress).
//   - no id when it has the form of event.IDGen's (24 lowercase hex
//     digits: the time in ms, which is _time's, a 16-bit generator
//     instance and a 32-bit sequence number): ii is the instance and ig
//     the generator's sequence number less seq, both numbers that are
//     nearly constant from record to record (24 hex digits of id cost 8
//     bytes per event on disk). Other ids are stored as id.
//   - no tb: events are paged in the order (_time, seq, xk), seq being
//     the exporter's chain number (the order SQLite uses too); tb stays
//     on detections and drift changes.
//   - raw without the statement when the statement occurs in it: rs is
//     the byte offset where it was cut out, and the reader puts it back,
//     so the API returns the record unchanged.
//   - the chain's canonical form is binary: the stored fields sorted by
//     key, each as key, 0x00, uvarint length, value; then the event time
//     (Unix ns) and seq as 8-byte big-endian numbers.
//
// A record is of format 2 when it has h.
const checkpointEvery = 128

// shortHashLen is the number of hash bytes stored on every event (h).
const shortHashLen = 4

// canonV2Prefix starts the canonical form of format 2.
const canonV2Prefix = "dbsec.vlogs.event/v2\x00"

// evEnc builds one event record: its JSON line and, beside it, its
// canonical form for the chain. It is reused from event to event.
type evEnc struct {
	b     []byte // the JSON line(s)
	canon []byte // canonical form of the current event
	tmp   []byte // scratch for lists
}

// str writes field k (a constant key that needs no escaping, written in
// sorted order) with value v, unless v is empty. v must be valid UTF-8
// (see cleanUTF8): the hash covers what VictoriaLogs gives back.
func (e *evEnc) str(k, v string) {
	if v == "" {
		return
	}
	e.key(k)
	e.b = appendJSONString(e.b, v)
	e.canonKey(k, len(v))
	e.canon = append(e.canon, v...)
}

// str2 writes field k with the value a+b (both valid UTF-8).
func (e *evEnc) str2(k, a, b string) {
	if a == "" && b == "" {
		return
	}
	e.key(k)
	e.b = append(e.b, '"')
	e.b = appendJSONBody(e.b, a)
	e.b = appendJSONBody(e.b, b)
	e.b = append(e.b, '"')
	e.canonKey(k, len(a)+len(b))
	e.canon = append(e.canon, a...)
	e.canon = append(e.canon, b...)
}

// int writes field k as a decimal number.
func (e *evEnc) int(k string, v int64) {
	e.key(k)
	e.b = append(e.b, '"')
	n := len(e.b)
	e.b = strconv.AppendInt(e.b, v, 10)
	d := e.b[n:]
	e.b = append(e.b, '"')
	e.canonKey(k, len(d))
	e.canon = append(e.canon, e.b[n:n+len(d)]...)
}

// list writes field k as a JSON array of strings.
func (e *evEnc) list(k string, vs []string) {
	if len(vs) == 0 {
		return
	}
	e.tmp = appendJSONList(e.tmp[:0], vs)
	e.str(k, unsafe.String(unsafe.SliceData(e.tmp), len(e.tmp)))
}

func (e *evEnc) key(k string) {
	e.b = append(e.b, ',', '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

func (e *evEnc) canonKey(k string, n int) {
	e.canon = append(e.canon, k...)
	e.canon = append(e.canon, 0)
	e.canon = binary.AppendUvarint(e.canon, uint64(n))
}

func appendJSONList(b []byte, vs []string) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, cleanUTF8(v))
	}
	return append(b, ']')
}

// appendEvent appends the format 2 record of c (redacted, with valid
// ids) with sequence number seq, chained to prev; it returns the
// record's full chain hash.
func (e *evEnc) appendEvent(b []byte, c *event.Event, exporter, xk string, seq int64, prev []byte) ([]byte, [32]byte) {
	e.b = b
	e.canon = append(e.canon[:0], canonV2Prefix...)
	e.b = append(e.b, `{"_time":"`...)
	e.b = c.Time.UTC().AppendFormat(e.b, time.RFC3339Nano)
	e.b = append(e.b, `","_msg":"`...)
	// The message: short, for people browsing VictoriaLogs (names of
	// closed sets: nothing to escape).
	e.b = append(e.b, c.Category.String()...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, c.Action.String()...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, c.Outcome.String()...)
	e.b = append(e.b, '"')

	// Every field, in key order.
	e.str("action", c.Action.String())
	e.str("category", c.Category.String())
	e.str("client_ip", cleanUTF8(c.ClientIP))
	if c.ClientPort != 0 {
		e.int("client_port", int64(c.ClientPort))
	}
	e.str("connection_id", cleanUTF8(c.ConnectionID))
	e.str("database", cleanUTF8(c.Database))
	e.list("detections", c.Detections)
	e.str("digest", cleanUTF8(c.Digest))
	if c.HasDuration {
		// With a unit, so that VictoriaLogs keeps the text: a column it
		// stores as floats can come back with other digits
		// (0.0031 as 0.0031000000000000003).
		e.tmp = strconv.AppendFloat(e.tmp[:0], c.Duration, 'f', -1, 64)
		e.tmp = append(e.tmp, 's')
		e.str("duration", unsafe.String(unsafe.SliceData(e.tmp), len(e.tmp)))
	}
	e.str("exporter", exporter)
	e.str("format", cleanUTF8(c.Format))
	if ii, gs, ok := splitID(c.ID); ok {
		// The id without its time (that of _time): the generator's
		// instance and its sequence number less seq, both numbers that
		// change little from record to record.
		e.int("ig", int64(gs)-seq)
		e.int("ii", int64(ii))
	} else {
		e.str("id", c.ID)
	}
	e.str("kind", kindEvent)
	e.list("objects", c.Objects)
	e.str("origin_file", cleanUTF8(c.Origin.File))
	if c.Origin.Line != 0 {
		e.int("origin_line", c.Origin.Line)
	}
	if c.Origin.Offset != 0 {
		e.int("origin_offset", c.Origin.Offset)
	}
	e.str("outcome", c.Outcome.String())
	raw, stmt := c.Raw, c.Statement
	cut := -1
	if len(stmt) >= minCut && len(raw) > len(stmt) {
		cut = strings.Index(raw, stmt)
	}
	if cut >= 0 {
		e.str2("raw", raw[:cut], raw[cut+len(stmt):])
	} else {
		e.str("raw", raw)
	}
	e.str("reason", c.Reason)
	if c.HasRows {
		e.int("rows", c.Rows)
	}
	if cut >= 0 {
		e.int("rs", int64(cut))
	}
	e.str("server", cleanUTF8(c.Server))
	e.str("source", cleanUTF8(c.Source))
	e.str("statement", stmt)
	e.str("status_code", cleanUTF8(c.StatusCode))
	e.str("system", c.System.String())
	e.str("user", cleanUTF8(c.User))
	e.str("xk", xk)

	t := c.Time.UnixNano()
	h := chainHashV2(prev, e.canon, t, seq)
	e.b = append(e.b, `,"seq":"`...)
	e.b = strconv.AppendInt(e.b, seq, 10)
	e.b = append(e.b, `","h":"`...)
	e.b = hex.AppendEncode(e.b, h[:shortHashLen])
	if seq%checkpointEvery == 0 {
		e.b = append(e.b, `","hash":"`...)
		e.b = hex.AppendEncode(e.b, h[:])
	}
	e.b = append(e.b, '"', '}', '\n')
	return e.b, h
}

// minCut is the shortest statement cut out of raw.
const minCut = 8

// chainHashV2 is sha256(prev || canonical form || time || seq), canon
// starting with canonV2Prefix.
func chainHashV2(prev []byte, canon []byte, ts, seq int64) [32]byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(canon)
	var n [16]byte
	binary.BigEndian.PutUint64(n[:8], uint64(ts))
	binary.BigEndian.PutUint64(n[8:], uint64(seq))
	h.Write(n[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// canonV2 is the canonical form of a format 2 record read back.
func (r row) canonV2(dst []byte) []byte {
	keys := make([]string, 0, len(r))
	for k, v := range r {
		if v == "" || isMeta(k) {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, canonV2Prefix...)
	for _, k := range keys {
		v := r[k]
		dst = append(dst, k...)
		dst = append(dst, 0)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// isMeta reports whether field k is outside the chain's canonical form:
// the record's own fields (_time, _msg, _stream…), seq and the hashes.
func isMeta(k string) bool {
	return strings.HasPrefix(k, "_") || k == "seq" || k == "hash" || k == "h"
}

// isV2 reports whether r is an event record of format 2.
func (r row) isV2() bool { _, ok := r["h"]; return ok }

// rowHash recomputes the chain hash of event record r after prev.
func (r row) rowHash(prev []byte, t time.Time, seq int64) [32]byte {
	if r.isV2() {
		return chainHashV2(prev, r.canonV2(nil), t.UnixNano(), seq)
	}
	var out [32]byte
	copy(out[:], chainHash(prev, r.fields(), t.UnixNano(), seq))
	return out
}

// checkHash compares the hashes stored on r with h: the short one (format
// 2) and the full one where stored. full reports whether r stores the
// full hash.
func (r row) checkHash(h [32]byte) (ok, full bool) {
	if v, has := r["hash"]; has {
		if v != hex.EncodeToString(h[:]) {
			return false, true
		}
		full = true
	}
	if r.isV2() {
		return r["h"] == hex.EncodeToString(h[:shortHashLen]), full
	}
	return full, full
}

// fullHash is the full hash stored on r, if any.
func (r row) fullHash() ([]byte, bool) {
	hb, err := hex.DecodeString(r["hash"])
	return hb, err == nil && len(hb) == 32
}

// splitID splits an id of event.IDGen's form (24 lowercase hex digits)
// into its instance and sequence number.
func splitID(id string) (ii uint16, gs uint32, ok bool) {
	if len(id) != 24 {
		return 0, 0, false
	}
	var v uint64
	for i := 0; i < 24; i++ {
		c := id[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			return 0, 0, false
		}
		if i >= 12 {
			v = v<<4 | uint64(c)
		}
	}
	return uint16(v >> 32), uint32(v), true
}

// eventID is the id of event record r: stored whole (format 1, or an id
// not of event.IDGen's form), or put together from _time, ii, ig and seq.
func (r row) eventID() string {
	if id := r["id"]; id != "" {
		return id
	}
	ii, err1 := strconv.ParseUint(r["ii"], 10, 16)
	ig, err2 := strconv.ParseInt(r["ig"], 10, 64)
	t, err3 := r.time()
	gs := r.int("seq") + ig
	ms := t.UnixMilli()
	if err1 != nil || err2 != nil || err3 != nil || gs < 0 || gs > 1<<32-1 || ms < 0 || ms >= 1<<48 {
		return ""
	}
	var b [24]byte
	v := uint64(ms)<<16 | ii
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
	g := uint64(gs)
	for i := 23; i >= 16; i-- {
		b[i] = hexDigits[g&0xf]
		g >>= 4
	}
	return string(b[:])
}
