package victorialogs

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dbsec/dbsec/pkg/store"
)

// LogsQL is built from constant field names and quoted values only. Every
// value that comes from a filter is a double-quoted string literal
// (strconv.Quote, which VictoriaLogs reads back with strconv.Unquote), and
// values that end up in a regular expression are escaped with
// regexp.QuoteMeta first, so no value can change the query's structure.

// lit quotes a value as a LogsQL string literal.
func lit(s string) string { return strconv.Quote(s) }

// ts formats a time for a _time filter, always with nine fractional
// digits: VictoriaLogs reads a shorter timestamp as the whole period it
// names (…:05Z is the whole second), which would widen the bound.
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") }

// query accumulates filters that are ANDed.
type query struct{ parts []string }

func (q *query) add(s string) {
	if s != "" {
		q.parts = append(q.parts, s)
	}
}

func (q *query) String() string {
	if len(q.parts) == 0 {
		return "*"
	}
	return strings.Join(q.parts, " ")
}

// in is field:in("v1", "v2") (exact match of any value).
func in(field string, vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	qs := make([]string, len(vs))
	for i, v := range vs {
		qs[i] = lit(v)
	}
	return field + ":in(" + strings.Join(qs, ",") + ")"
}

func names[T interface{ String() string }](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

// ruleRE matches one rule name as a whole element of the JSON array in
// the detections field.
func ruleRE(rule string) string {
	return `(?:^\[|,)` + regexp.QuoteMeta(string(appendJSONString(nil, rule))) + `(?:,|\]$)`
}

func rules(field string, vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	ors := make([]string, len(vs))
	for i, v := range vs {
		ors[i] = field + ":~" + lit(ruleRE(v))
	}
	return "(" + strings.Join(ors, " or ") + ")"
}

// timeRange is the _time filter of [from, to).
func timeRange(from, to time.Time) string {
	switch {
	case !from.IsZero() && !to.IsZero():
		return "_time:[" + ts(from) + ", " + ts(to) + ")"
	case !from.IsZero():
		return "_time:>=" + ts(from)
	case !to.IsZero():
		return "_time:<" + ts(to)
	}
	return ""
}

// streamIn is the stream filter {field in("v1", "v2")} over a stream
// field (source, system): VictoriaLogs selects the streams from its index
// and reads no other block, where a field filter reads every block's
// column.
func streamIn(field string, vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	qs := make([]string, len(vs))
	for i, v := range vs {
		qs[i] = lit(v)
	}
	return "{" + field + " in(" + strings.Join(qs, ",") + ")}"
}

// exporterStream is the stream filter of one exporter's records.
func exporterStream(name string) string { return "{exporter=" + lit(name) + "}" }

// eventFilter is the LogsQL filter of f over event records: the time
// range first, then the stream filters, then the field filters.
func eventFilter(f *store.Filter) *query {
	q := &query{}
	q.add(timeRange(f.From, f.To))
	q.add(streamIn("source", f.Source))
	q.add(streamIn("system", names(f.System)))
	q.add("kind:=" + kindEvent)
	q.add(in("category", names(f.Category)))
	q.add(in("outcome", names(f.Outcome)))
	q.add(in("action", names(f.Action)))
	q.add(in("user", f.User))
	q.add(in("client_ip", f.ClientIP))
	q.add(in("digest", f.Digest))
	q.add(in("connection_id", f.ConnectionID))
	q.add(rules("detections", f.Rule))
	if f.Q != "" {
		re := lit("(?i)" + regexp.QuoteMeta(f.Q))
		q.add("(statement:~" + re + " or raw:~" + re + ")")
	}
	if n := f.Not; n != nil {
		for _, x := range []string{
			in("source", n.Source), in("system", names(n.System)), in("category", names(n.Category)), in("outcome", names(n.Outcome)),
			in("action", names(n.Action)), in("user", n.User), in("client_ip", n.ClientIP), in("digest", n.Digest),
			in("connection_id", n.ConnectionID), rules("detections", n.Rule),
		} {
			if x != "" {
				q.add("!" + x)
			}
		}
	}
	return q
}

// dimField is the record field of a dimension.
var dimField = map[store.Dimension]string{
	store.DimSource: "source", store.DimSystem: "system", store.DimCategory: "category", store.DimOutcome: "outcome",
	store.DimAction: "action", store.DimUser: "user", store.DimClientIP: "client_ip", store.DimDigest: "digest", store.DimRule: "detections",
}

// groupBy returns the pipes that make the field of dimension d groupable
// (rules are a JSON array: one row per rule) and the field to group by.
// With rule filters, grouping by rule keeps only the rules asked for.
func groupBy(d store.Dimension, f *store.Filter) (pre, field string) {
	if d != store.DimRule {
		return "", dimField[d]
	}
	pre = " | unroll by (detections) | filter detections:*"
	if len(f.Rule) > 0 {
		pre += " " + in("detections", f.Rule)
	}
	return pre, "detections"
}

// Cursors are opaque: base64url of "kind:a:b" or "kind:a:b:x".
func encodeCursor(kind string, a int64, b uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(a, 10) + ":" + strconv.FormatUint(b, 10)))
}

// pageCursor is the place of the last record of a page in the order
// _time desc, tie desc, xk desc (tie: seq for events, tb for detections
// and drift changes, in tb): xk (the exporter key) breaks the tie of two
// exporters' records with the same time and tie number (-1: the record
// has none, as records written before xk existed).
type pageCursor struct {
	t  int64
	tb uint64
	xk int64
}

func (c pageCursor) encode(kind string) string {
	s := kind + ":" + strconv.FormatInt(c.t, 10) + ":" + strconv.FormatUint(c.tb, 10)
	if c.xk >= 0 {
		s += ":" + strconv.FormatInt(c.xk, 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodePageCursor(kind, s string) (pageCursor, error) {
	bad := &store.ParamError{Param: "cursor", Msg: "invalid cursor (pass next_cursor from a previous page unchanged)"}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageCursor{}, bad
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 && len(parts) != 4 || parts[0] != kind {
		return pageCursor{}, bad
	}
	c := pageCursor{xk: -1}
	var e1, e2, e3 error
	c.t, e1 = strconv.ParseInt(parts[1], 10, 64)
	c.tb, e2 = strconv.ParseUint(parts[2], 10, 64)
	if len(parts) == 4 {
		c.xk, e3 = strconv.ParseInt(parts[3], 10, 64)
		if e3 == nil && c.xk < 0 {
			e3 = strconv.ErrRange
		}
	}
	if e1 != nil || e2 != nil || e3 != nil {
		return pageCursor{}, bad
	}
	return c, nil
}

func decodeCursor(kind, s string) (int64, uint64, error) {
	bad := &store.ParamError{Param: "cursor", Msg: "invalid cursor (pass next_cursor from a previous page unchanged)"}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, 0, bad
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != kind {
		return 0, 0, bad
	}
	a, e1 := strconv.ParseInt(parts[1], 10, 64)
	b, e2 := strconv.ParseUint(parts[2], 10, 64)
	if e1 != nil || e2 != nil {
		return 0, 0, bad
	}
	return a, b, nil
}

// after is the keyset condition "strictly after c" in the order _time
// desc, tie desc, xk desc. Records without xk sort after those with one.
func after(tie string, c pageCursor) string {
	at := ts(time.Unix(0, c.t))
	tb := strconv.FormatUint(c.tb, 10)
	// The plain upper bound first, so that VictoriaLogs can skip
	// blocks by time.
	q := "_time:<=" + at + " (_time:<" + at + " or " + tie + ":<" + tb
	if c.xk >= 0 {
		q += " or (" + tie + ":=" + tb + " (xk:<" + strconv.FormatInt(c.xk, 10) + " or !xk:*))"
	}
	return q + ")"
}
