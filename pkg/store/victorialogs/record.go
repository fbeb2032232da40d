package victorialogs

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/store"
)

// Every record is one JSON object (a line of /insert/jsonline) whose
// values are all strings. kind says what it is:
//
//	event      an audit event: every field of event.Event, plus seq and
//	           hash (its place in the exporter's hash chain) and tb (the
//	           id's last 48 bits as a number, the tie-break of pages)
//	detection  one rule hit, tied to an event (event_id) or not
//	findings   a PutFindings call: the target's findings are replaced by
//	           the finding records of the same gen
//	finding    one finding of a gen, whole as JSON in doc
//	drift      one drift change, whole as JSON in doc
//	resend     a batch was sent again: records in [lo, hi] may be stored
//	           twice (see Store.markResend)
//
// xk (event, detection, drift) is the exporter key: a number derived from
// the exporter name that orders two exporters' records with the same time
// and tb in pages (see exporterKey).
//
// exporter, source and system are the stream fields (low cardinality);
// everything else is an ordinary field. Empty values are left out
// (VictoriaLogs does not keep them).
const (
	kindEvent     = "event"
	kindDetection = "detection"
	kindFindings  = "findings"
	kindFinding   = "finding"
	kindDrift     = "drift"
	// kindResend marks a time range [lo, hi] (Unix ns) in which a batch
	// was sent more than once.
	kindResend = "resend"
)

// streamFields are the stream fields, for _stream_fields.
const streamFields = "exporter,source,system"

// kv is one field of a record.
type kv struct{ k, v string }

// exporterKey is the exporter's key xk: the first 48 bits of
// sha256(name), a number (VictoriaLogs sorts numbers and compares them
// with :< alike, unlike strings, which sort naturally but compare
// bytewise).
func exporterKey(name string) string {
	h := sha256.Sum256([]byte(name))
	return strconv.FormatUint(uint64(h[0])<<40|uint64(h[1])<<32|uint64(h[2])<<24|uint64(h[3])<<16|uint64(h[4])<<8|uint64(h[5]), 10)
}

// jsonList encodes a list of strings as a JSON array.
func jsonList(vs []string) string {
	b := []byte{'['}
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return string(append(b, ']'))
}

func parseList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	if json.Unmarshal([]byte(s), &out) != nil {
		return []string{s}
	}
	return out
}

// chainHash is sha256(prev || canonical form): the canonical form is the
// event's fields sorted by key, each as key, length, value, followed by
// the event time in Unix nanoseconds and the sequence number. It is
// computed from what is written and recomputed from what is read back.
func chainHash(prev []byte, fields []kv, ts int64, seq int64) []byte {
	h := sha256.New()
	h.Write(prev)
	var b []byte
	b = append(b, "dbsec.vlogs.event/v1\n"...)
	for _, f := range fields {
		b = append(b, f.k...)
		b = append(b, '=')
		b = strconv.AppendInt(b, int64(len(f.v)), 10)
		b = append(b, ':')
		b = append(b, f.v...)
		b = append(b, '\n')
		if len(b) > 4096 {
			h.Write(b)
			b = b[:0]
		}
	}
	b = append(b, "ts="...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, "\nseq="...)
	b = strconv.AppendInt(b, seq, 10)
	h.Write(b)
	return h.Sum(nil)
}

// appendRecord appends the JSON line of a record: _time, _msg, the fields
// and the extra fields (which need not be sorted).
func appendRecord(b []byte, t time.Time, msg string, fields []kv, extra ...kv) []byte {
	b = append(b, `{"_time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","_msg":`...)
	b = appendJSONString(b, msg)
	for _, fs := range [][]kv{fields, extra} {
		for _, f := range fs {
			if f.v == "" {
				continue
			}
			b = append(b, ',')
			b = appendJSONString(b, f.k)
			b = append(b, ':')
			b = appendJSONString(b, f.v)
		}
	}
	return append(b, '}', '\n')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD (as encoding/json does).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONBody(b, s)
	return append(b, '"')
}

// appendJSONBody appends s escaped for a JSON string, without the quotes.
func appendJSONBody(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs escaping or is not
		// ASCII.
		for i+8 <= len(s) && !needsEscape8(binary.LittleEndian.Uint64([]byte(s[i:i+8]))) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// needsEscape8 reports whether any of the 8 bytes in x is a control
// character, '"', '\\' or not ASCII.
func needsEscape8(x uint64) bool {
	ctl := (x - 0x20*lo8) &^ x & hi8
	quote := (x ^ '"'*lo8 - lo8) &^ (x ^ '"'*lo8) & hi8
	bslash := (x ^ '\\'*lo8 - lo8) &^ (x ^ '\\'*lo8) & hi8
	return ctl|quote|bslash|x&hi8 != 0
}

// cleanUTF8 replaces invalid UTF-8 as the JSON encoding does, so that the
// hash covers what is stored.
func cleanUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\ufffd")
}

// idTB is the tie-break of an event id: its last 12 hex digits (generator
// instance and sequence number) as a number. Ids of event.IDGen sort by
// time first, and within one millisecond tb orders them.
func idTB(id string) (uint64, bool) {
	if len(id) != 24 {
		return 0, false
	}
	v, err := strconv.ParseUint(id[12:], 16, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// idTime is the time in an event id (Unix milliseconds).
func idTime(id string) (int64, bool) {
	if len(id) != 24 {
		return 0, false
	}
	v, err := strconv.ParseUint(id[:12], 16, 64)
	if err != nil {
		return 0, false
	}
	for i := 12; i < 24; i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return 0, false
		}
	}
	return int64(v), true
}

// row is one record read back: its fields as strings.
type row map[string]string

func (r row) time() (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, r["_time"])
	if err != nil {
		return time.Time{}, fmt.Errorf("record with a bad _time %q", r["_time"])
	}
	return t.UTC(), nil
}

func (r row) int(k string) int64 {
	v, _ := strconv.ParseInt(r[k], 10, 64)
	return v
}

// fields returns the event fields of r sorted by key, as chainHash wants
// them: without the record's own fields (_time, _msg, _stream…), seq and
// hash.
func (r row) fields() []kv {
	out := make([]kv, 0, len(r))
	for k, v := range r {
		if v == "" || strings.HasPrefix(k, "_") || k == "seq" || k == "hash" {
			continue
		}
		out = append(out, kv{k, v})
	}
	slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	return out
}

// raw is the raw record of an event: stored whole, or (format 2) with
// the statement cut out at byte offset rs.
func (r row) raw() string {
	raw := r["raw"]
	v, ok := r["rs"]
	if !ok {
		return raw
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 || i > len(raw) {
		return raw
	}
	return raw[:i] + r["statement"] + raw[i:]
}

// toEvent decodes an event record.
func (r row) toEvent() (*event.Event, error) {
	t, err := r.time()
	if err != nil {
		return nil, err
	}
	ev := &event.Event{
		ID: r.eventID(), Time: t, Source: r["source"], Format: r["format"], User: r["user"], ClientIP: r["client_ip"],
		Server: r["server"], Database: r["database"], Objects: parseList(r["objects"]), Statement: r["statement"], Digest: r["digest"],
		StatusCode: r["status_code"], Reason: r["reason"], ConnectionID: r["connection_id"], Detections: parseList(r["detections"]),
		Raw: r.raw(), Origin: event.Origin{File: r["origin_file"], Offset: r.int("origin_offset"), Line: r.int("origin_line")},
	}
	ev.System, _ = event.ParseSystem(r["system"])
	ev.Category, _ = event.ParseCategory(r["category"])
	ev.Action, _ = event.ParseAction(r["action"])
	ev.Outcome, _ = event.ParseOutcome(r["outcome"])
	if v, ok := r["client_port"]; ok {
		p, _ := strconv.ParseUint(v, 10, 16)
		ev.ClientPort = uint16(p)
	}
	if v, ok := r["rows"]; ok && v != "" {
		ev.Rows, _ = strconv.ParseInt(v, 10, 64)
		ev.HasRows = true
	}
	if v, ok := r["duration"]; ok && v != "" {
		ev.Duration, _ = strconv.ParseFloat(strings.TrimSuffix(v, "s"), 64)
		ev.HasDuration = true
	}
	return ev, nil
}

// detection fields, sorted by key.
func detectionFields(dst []kv, d *store.Detection, exporter, xk, did string, tb uint64) []kv {
	add := func(k, v string) {
		if v != "" {
			dst = append(dst, kv{k, v})
		}
	}
	add("client_ip", d.ClientIP)
	add("did", did)
	add("entity", d.Entity)
	add("event_id", d.EventID)
	if len(d.Evidence) > 0 {
		add("evidence", jsonList(d.Evidence))
	}
	add("exporter", exporter)
	add("kind", kindDetection)
	add("message", d.Message)
	add("rule", d.Rule)
	add("rule_id", d.RuleID)
	add("severity", d.Severity)
	add("source", d.Source)
	add("tb", strconv.FormatUint(tb, 10))
	add("title", d.Title)
	add("user", d.User)
	add("xk", xk)
	return dst
}

func (r row) toDetection() (store.Detection, error) {
	t, err := r.time()
	if err != nil {
		return store.Detection{}, err
	}
	return store.Detection{
		ID: r["did"], Time: t, RuleID: r["rule_id"], Rule: r["rule"], Title: r["title"], Severity: r["severity"], Message: r["message"],
		Source: r["source"], User: r["user"], ClientIP: r["client_ip"], Entity: r["entity"], EventID: r["event_id"], Evidence: parseList(r["evidence"]),
	}, nil
}

// parseRowFast decodes a flat JSON object of string values (each line of
// VictoriaLogs' answer) without reflection; anything else goes to
// encoding/json.
func parseRowFast(b []byte) (row, error) {
	r := make(row, 16)
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return parseRow(b)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return r, nil
	}
	for {
		k, j, ok := jsonStr(b, i)
		if !ok {
			return parseRow(b)
		}
		j = skipSpace(b, j)
		if j >= len(b) || b[j] != ':' {
			return parseRow(b)
		}
		v, j2, ok := jsonStr(b, skipSpace(b, j+1))
		if !ok {
			return parseRow(b)
		}
		r[k] = v
		i = skipSpace(b, j2)
		if i >= len(b) {
			return parseRow(b)
		}
		if b[i] == '}' {
			if skipSpace(b, i+1) != len(b) {
				return parseRow(b)
			}
			return r, nil
		}
		if b[i] != ',' {
			return parseRow(b)
		}
		i = skipSpace(b, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// jsonStr reads the JSON string at b[i:] and returns it and the index
// after it; strings with escapes are decoded by encoding/json.
func jsonStr(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			esc = true
			j++
		case c == '"':
			if !esc && utf8.Valid(b[i+1:j]) {
				return string(b[i+1 : j]), j + 1, true
			}
			s, ok := unescapeJSON(b[i+1 : j])
			return s, j + 1, ok
		case c < 0x20:
			return "", j, false
		}
	}
	return "", len(b), false
}

// unescapeJSON decodes the body of a JSON string with escapes as
// encoding/json does (invalid UTF-8 and lone surrogates become U+FFFD).
func unescapeJSON(b []byte) (string, bool) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				out = append(out, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(b[i:])
			out = utf8.AppendRune(out, r) // U+FFFD for an invalid byte
			i += size
			continue
		}
		if i+1 >= len(b) {
			return "", false
		}
		switch b[i+1] {
		case '"', '\\', '/':
			out = append(out, b[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b[i+2:])
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					r2, ok := hex4(b[i+2:])
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
