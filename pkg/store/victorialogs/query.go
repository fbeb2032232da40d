package victorialogs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/store"
)

const (
	defaultLimit = 100
	maxLimit     = 10000
	// maxValues bounds the distinct values read for Values.
	maxValues = 100000
)

func clampLimit(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return min(n, maxLimit)
}

func jsonMarshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// page reads records newest first (_time desc, tie desc, xk desc) after
// the cursor, skipping duplicates of a retried batch (same exporter and
// same key: identical records, adjacent in that order), until it has
// limit+1 distinct records or no more match. It returns the cursor of
// the last record returned and whether there are more.
//
// Two exporters' records can share time, tie-break number and key (their
// id generators drew the same instance number and read the same file):
// the exporter key xk orders them and the exporter tells them apart.
func (s *Store) page(ctx context.Context, filter, key, tie string, cur pageCursor, hasCursor bool, limit int, fn func(row) error) (last pageCursor, more bool, err error) {
	n := 0
	var lastKey, lastExp string
	for {
		q := filter
		if hasCursor {
			q += " " + after(tie, cur)
		}
		want := limit + 1 - n
		order := " | sort by (_time desc, " + tie + " desc, xk desc) | limit " + strconv.Itoa(want)
		// First the order keys alone: the time range that the next
		// records span (VictoriaLogs reads three small columns over the
		// whole range instead of every column).
		keys := 0
		var oldest string
		if err := s.cl.query(ctx, q+" | fields _time, "+tie+", xk"+order, func(r row) bool {
			keys++
			oldest = r["_time"]
			return true
		}); err != nil {
			return last, more, err
		}
		if keys == 0 {
			return last, more, nil
		}
		if t, err := time.Parse(time.RFC3339Nano, oldest); err == nil {
			// Then the records whole, from that range only.
			q += " _time:>=" + ts(t)
		}
		q += order
		got := 0
		var qerr error
		err := s.cl.query(ctx, q, func(r row) bool {
			got++
			t, err := r.time()
			if err != nil {
				qerr = err
				return false
			}
			cur, hasCursor = rowCursor(r, tie, t), true
			if r[key] == lastKey && r["exporter"] == lastExp {
				return true // a duplicate from a retried batch
			}
			lastKey, lastExp = r[key], r["exporter"]
			if n == limit {
				more = true
				return false
			}
			n++
			last = cur
			if err := fn(r); err != nil {
				qerr = err
				return false
			}
			return true
		})
		if err == nil {
			err = qerr
		}
		if err != nil || more || got < want {
			return last, more, err
		}
	}
}

// rowCursor is the place of record r (at time t) in the page order.
func rowCursor(r row, tie string, t time.Time) pageCursor {
	c := pageCursor{t: t.UnixNano(), xk: -1}
	c.tb, _ = strconv.ParseUint(r[tie], 10, 64)
	if v, err := strconv.ParseInt(r["xk"], 10, 64); err == nil && v >= 0 {
		c.xk = v
	}
	return c
}

// Events returns one page of matching events, newest first.
func (s *Store) Events(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	page := store.EventPage{Events: []*event.Event{}}
	var cur pageCursor
	if q.Cursor != "" {
		var err error
		if cur, err = decodePageCursor("e", q.Cursor); err != nil {
			return page, err
		}
	}
	limit := clampLimit(q.Limit)
	last, more, err := s.page(ctx, eventFilter(&q.Filter).String(), "seq", "seq", cur, q.Cursor != "", limit, func(r row) error {
		ev, err := r.toEvent()
		if err != nil {
			return err
		}
		page.Events = append(page.Events, ev)
		return nil
	})
	if err != nil {
		return page, err
	}
	if more {
		page.Next = last.encode("e")
	}
	return page, nil
}

// Event returns the event with the given id, or ErrNotFound.
func (s *Store) Event(ctx context.Context, id string) (*event.Event, error) {
	ms, ok := idTime(id)
	if !ok {
		return nil, store.ErrNotFound
	}
	t := time.UnixMilli(ms)
	q := timeRange(t, t.Add(time.Millisecond)) + " kind:=event "
	if ii, _, ok := splitID(id); ok {
		// Stored as ii and ig (format 2) or whole (format 1).
		q += "(ii:=" + strconv.FormatUint(uint64(ii), 10) + " or id:=" + lit(id) + ") | limit 10000"
	} else {
		q += "id:=" + lit(id) + " | limit 1"
	}
	var ev *event.Event
	var derr error
	err := s.cl.query(ctx, q, func(r row) bool {
		if r.eventID() != id {
			return true
		}
		ev, derr = r.toEvent()
		return false
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return nil, err
	}
	if ev == nil {
		return nil, store.ErrNotFound
	}
	return ev, nil
}

func stepOf(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// aggregate runs "stats by (…) count()" over the events of f; step
// 0 groups by the dimension only.
func (s *Store) aggregate(ctx context.Context, f *store.Filter, by store.Dimension, step time.Duration, only []string, tail string, fn func(r row)) error {
	fq := eventFilter(f)
	var pre, field string
	if by != "" {
		pre, field = groupBy(by, f)
		if by != store.DimRule && len(only) > 0 {
			fq.add(in(field, only))
		}
		if by == store.DimRule && len(only) > 0 {
			pre += " " + in("detections", only)
		}
	}
	var groups []string
	if step > 0 {
		groups = append(groups, "_time:"+stepOf(step))
	}
	if field != "" {
		groups = append(groups, field)
	}
	// Counting records is much cheaper than counting distinct records;
	// it is exact unless a batch in the range was sent twice. The check
	// for that runs beside the count, which is run again counting
	// distinct records when a resend marker overlaps the range.
	q := fq.String() + pre + " | stats"
	if len(groups) > 0 {
		q += " by (" + strings.Join(groups, ", ") + ")"
	}
	var dups bool
	var derr error
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		dups, derr = s.mayHaveDuplicates(ctx, f.From, f.To)
	}()
	var rows []row
	collect := func(r row) bool { rows = append(rows, r); return true }
	err := s.cl.query(ctx, q+" count() c"+tail, collect)
	<-checked
	if err == nil {
		err = derr
	}
	if err == nil && dups {
		// A copy is a record with the same exporter and seq (two
		// exporters' events may share an id).
		rows = rows[:0]
		err = s.cl.query(ctx, q+" count_uniq(exporter, seq) c"+tail, collect)
	}
	if err != nil {
		return err
	}
	for _, r := range rows {
		fn(r)
	}
	return nil
}

// mayHaveDuplicates reports whether a resend marker overlaps [from, to).
// Markers are records without source and system, so their streams are
// apart from the events' ({source="",system=""} reads only those
// streams), and a marker's time is the start of its range (lo).
func (s *Store) mayHaveDuplicates(ctx context.Context, from, to time.Time) (bool, error) {
	q := &query{}
	if !to.IsZero() {
		q.add("_time:<" + ts(to))
	}
	q.add(`{source="",system=""} kind:=` + kindResend)
	if !from.IsZero() {
		q.add("hi:>=" + strconv.FormatInt(from.UnixNano(), 10))
	}
	found := false
	err := s.cl.query(ctx, q.String()+" | limit 1 | fields lo", func(row) bool { found = true; return false })
	return found, err
}

func validDim(d store.Dimension) bool {
	_, ok := dimField[d]
	return ok
}

// Top ranks the values of q.By.
func (s *Store) Top(ctx context.Context, q store.TopQuery) (store.TopResult, error) {
	res := store.TopResult{By: q.By, Items: []store.TopItem{}}
	if !validDim(q.By) {
		return res, &store.ParamError{Param: "by", Msg: fmt.Sprintf("unknown dimension %q", q.By)}
	}
	items, err := s.top(ctx, &q.Filter, q.By, clampLimit(q.Limit))
	res.Items = append(res.Items, items...)
	return res, err
}

func (s *Store) top(ctx context.Context, f *store.Filter, by store.Dimension, limit int) ([]store.TopItem, error) {
	var out []store.TopItem
	field := dimField[by]
	tail := " | sort by (c desc) | limit " + strconv.Itoa(limit)
	err := s.aggregate(ctx, f, by, 0, nil, tail, func(r row) {
		out = append(out, store.TopItem{Value: r[field], Count: r.int("c")})
	})
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Count > out[j].Count || out[i].Count == out[j].Count && out[i].Value < out[j].Value
	})
	return out, err
}

// Series counts matching events per step.
func (s *Store) Series(ctx context.Context, q store.SeriesQuery) (store.SeriesResult, error) {
	res := store.SeriesResult{From: q.From, To: q.To, Step: q.Step.Seconds(), By: q.By, Series: []store.Series{}}
	if q.Step < time.Millisecond {
		return res, &store.ParamError{Param: "step", Msg: "must be at least 1ms"}
	}
	if q.By != "" && !validDim(q.By) {
		return res, &store.ParamError{Param: "by", Msg: fmt.Sprintf("unknown dimension %q", q.By)}
	}
	var only []string
	if q.By != "" && q.Top > 0 {
		items, err := s.top(ctx, &q.Filter, q.By, q.Top)
		if err != nil {
			return res, err
		}
		if len(items) == 0 {
			return res, nil
		}
		for _, it := range items {
			only = append(only, it.Value)
		}
	}
	field := ""
	if q.By != "" {
		field = dimField[q.By]
	}
	byVal := map[string]*store.Series{}
	var perr error
	err := s.aggregate(ctx, &q.Filter, q.By, q.Step, only, "", func(r row) {
		t, err := r.time()
		if err != nil {
			perr = err
			return
		}
		v := ""
		if field != "" {
			v = r[field]
		}
		sr, ok := byVal[v]
		if !ok {
			sr = &store.Series{Value: v, Points: []store.Point{}}
			byVal[v] = sr
		}
		n := r.int("c")
		sr.Points = append(sr.Points, store.Point{Time: t, Count: n})
		sr.Total += n
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return res, err
	}
	for _, sr := range byVal {
		slices.SortFunc(sr.Points, func(a, b store.Point) int { return a.Time.Compare(b.Time) })
		res.Series = append(res.Series, *sr)
	}
	sort.Slice(res.Series, func(i, j int) bool {
		if res.Series[i].Total != res.Series[j].Total {
			return res.Series[i].Total > res.Series[j].Total
		}
		return res.Series[i].Value < res.Series[j].Value
	})
	return res, nil
}

// Values lists the distinct values of q.Field among matching events
// (exact, also with a time range), sorted.
func (s *Store) Values(ctx context.Context, q store.ValuesQuery) ([]string, error) {
	out := []string{}
	if !validDim(q.Field) {
		return out, &store.ParamError{Param: "field", Msg: fmt.Sprintf("unknown field %q", q.Field)}
	}
	limit := clampLimit(q.Limit)
	fq := eventFilter(&q.Filter)
	pre, field := groupBy(q.Field, &q.Filter)
	if q.Field != store.DimRule {
		fq.add(field + ":*")
	}
	query := fq.String() + pre + " | uniq by (" + field + ") limit " + strconv.Itoa(maxValues)
	err := s.cl.query(ctx, query, func(r row) bool {
		if v := r[field]; v != "" {
			out = append(out, v)
		}
		return true
	})
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// Detections returns one page of detections, newest first.
func (s *Store) Detections(ctx context.Context, q store.DetectionQuery) (store.DetectionPage, error) {
	page := store.DetectionPage{Detections: []store.Detection{}}
	var cur pageCursor
	if q.Cursor != "" {
		var err error
		if cur, err = decodePageCursor("d", q.Cursor); err != nil {
			return page, err
		}
	}
	fq := &query{}
	fq.add(timeRange(q.From, q.To))
	fq.add(streamIn("source", q.Source))
	fq.add("kind:=" + kindDetection)
	fq.add(in("rule", q.Rule))
	fq.add(in("severity", q.Severity))
	fq.add(in("user", q.User))
	fq.add(in("client_ip", q.ClientIP))
	limit := clampLimit(q.Limit)
	last, more, err := s.page(ctx, fq.String(), "did", "tb", cur, q.Cursor != "", limit, func(r row) error {
		d, err := r.toDetection()
		if err != nil {
			return err
		}
		page.Detections = append(page.Detections, d)
		return nil
	})
	if err != nil {
		return page, err
	}
	if more {
		page.Next = last.encode("d")
	}
	return page, nil
}

// Findings returns one page of the current findings: per target, the
// findings of its newest generation.
func (s *Store) Findings(ctx context.Context, q store.FindingQuery) (store.FindingPage, error) {
	page := store.FindingPage{Findings: []finding.Finding{}}
	var offset int64
	if q.Cursor != "" {
		var err error
		if offset, _, err = decodeCursor("f", q.Cursor); err != nil || offset < 0 {
			return page, &store.ParamError{Param: "cursor", Msg: "invalid cursor (pass next_cursor from a previous page unchanged)"}
		}
	}
	gq := &query{}
	gq.add("kind:=" + kindFindings)
	gq.add(in("target", q.Target))
	gens := map[string]string{}
	err := s.cl.query(ctx, gq.String()+" | stats by (target) max(gen) gen | limit 100000", func(r row) bool {
		gens[r["target"]] = r["gen"]
		return true
	})
	if err != nil || len(gens) == 0 {
		return page, err
	}
	targets := make([]string, 0, len(gens))
	for t := range gens {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	var ors []string
	for _, t := range targets {
		ors = append(ors, "(target:="+lit(t)+" gen:="+lit(gens[t])+")")
	}
	fq := &query{}
	fq.add("kind:=" + kindFinding)
	fq.add("(" + strings.Join(ors, " or ") + ")")
	fq.add(in("rule", q.Rule))
	fq.add(in("severity", names(q.Severity)))
	var st []string
	for _, x := range q.Status {
		st = append(st, string(x))
	}
	fq.add(in("status", st))
	limit := clampLimit(q.Limit)
	// Duplicates of a retried batch are identical records: uniq drops them.
	query := fq.String() + " | uniq by (target, idx, doc) limit 1000000 | sort by (target, idx) | offset " + strconv.FormatInt(offset, 10) +
		" | limit " + strconv.Itoa(limit+1)
	var perr error
	err = s.cl.query(ctx, query, func(r row) bool {
		if len(page.Findings) == limit {
			page.Next = encodeCursor("f", offset+int64(limit), 0)
			return false
		}
		var f finding.Finding
		if err := json.Unmarshal([]byte(r["doc"]), &f); err != nil {
			perr = fmt.Errorf("finding of %s: %w", r["target"], err)
			return false
		}
		page.Findings = append(page.Findings, f)
		return true
	})
	if err == nil {
		err = perr
	}
	return page, err
}

// DriftChanges returns one page of drift changes, newest first.
func (s *Store) DriftChanges(ctx context.Context, q store.DriftQuery) (store.DriftPage, error) {
	page := store.DriftPage{Changes: []store.DriftChange{}}
	var cur pageCursor
	if q.Cursor != "" {
		var err error
		if cur, err = decodePageCursor("c", q.Cursor); err != nil {
			return page, err
		}
	}
	fq := &query{}
	fq.add(timeRange(q.From, q.To))
	fq.add("kind:=" + kindDrift)
	fq.add(in("target", q.Target))
	limit := clampLimit(q.Limit)
	last, more, err := s.page(ctx, fq.String(), "cid", "tb", cur, q.Cursor != "", limit, func(r row) error {
		var c store.DriftChange
		if err := json.Unmarshal([]byte(r["doc"]), &c); err != nil {
			return fmt.Errorf("drift change %s: %w", r["cid"], err)
		}
		page.Changes = append(page.Changes, c)
		return nil
	})
	if err != nil {
		return page, err
	}
	if more {
		page.Next = last.encode("c")
	}
	return page, nil
}

// integrityChunk is the number of sequence numbers read per query.
const integrityChunk = 20000

// Integrity verifies each exporter's hash chain over sequence numbers
// [q.Start, q.End] (0: its first or last event), reports each chain in
// Chains and, in FirstBreak, the first break in exporter name order: a
// missing event (a lost batch: a gap in the sequence), an event whose
// hash does not verify (an edit), or two different records with the same
// sequence number. Records repeated by a retry are identical and verify.
// With one exporter, Head is its head hash; with several, the sha256 of
// "exporter:head" lines in name order (no head when a chain breaks).
func (s *Store) Integrity(ctx context.Context, q store.IntegrityQuery) (store.IntegrityReport, error) {
	rep := store.IntegrityReport{OK: true}
	type chain struct {
		name   string
		lo, hi int64
	}
	var chains []chain
	err := s.cl.query(ctx, "kind:=event | stats by (exporter) min(seq) lo, max(seq) hi | limit 100000", func(r row) bool {
		chains = append(chains, chain{r["exporter"], r.int("lo"), r.int("hi")})
		return true
	})
	if err != nil {
		return rep, err
	}
	slices.SortFunc(chains, func(a, b chain) int { return strings.Compare(a.name, b.name) })
	heads := sha256.New()
	first := true
	for _, c := range chains {
		start, end := c.lo, c.hi
		if q.Start > 0 {
			start = max(q.Start, c.lo)
		}
		if q.End > 0 {
			end = min(q.End, c.hi)
		}
		if start > end {
			continue
		}
		if first {
			rep.Start, rep.End = start, end
			first = false
		} else {
			rep.Start, rep.End = min(rep.Start, start), max(rep.End, end)
		}
		// Every chain is verified, a break in one does not stop the
		// others: each is reported on its own.
		checked, head, brk, err := s.verifyChain(ctx, c.name, start, end, c.lo)
		if err != nil {
			return rep, err
		}
		rep.Checked += checked
		cr := store.ChainReport{Exporter: c.name, OK: brk == nil, Start: start, End: end, Checked: checked, Break: brk, Head: head}
		rep.Chains = append(rep.Chains, cr)
		if brk != nil {
			if rep.OK {
				b := *brk
				b.Reason = "exporter " + c.name + ": " + b.Reason
				rep.FirstBreak = &b
			}
			rep.OK = false
			continue
		}
		if len(chains) == 1 {
			rep.Head = head
		}
		fmt.Fprintf(heads, "%s:%s\n", c.name, head)
	}
	if !rep.OK {
		rep.Head = ""
		return rep, nil
	}
	if len(chains) > 1 {
		rep.Head = hex.EncodeToString(heads.Sum(nil))
	}
	return rep, nil
}

// verifyChain verifies one exporter's chain over [start, end] (lo: its
// oldest sequence number). The walk starts at the newest record before
// start that stores its full hash (every record of format 1, every
// checkpointEvery-th of format 2), or at the chain's first record, and
// recomputes every hash from there; only records in [start, end] count as
// checked. After retention removed the chain's beginning (lo > 1 and no
// full hash before start), the records up to the first full hash can be
// checked for gaps only, and that hash is trusted.
func (s *Store) verifyChain(ctx context.Context, exporter string, start, end, lo int64) (checked int64, head string, brk *store.IntegrityBreak, err error) {
	base := exporterStream(exporter) + " kind:=event"
	prev := make([]byte, 32)
	anchored := true
	from := start
	if start > 1 {
		var cp row
		err := s.cl.query(ctx, base+" seq:<"+strconv.FormatInt(start, 10)+" hash:* | sort by (seq desc) | limit 1 | fields seq, hash", func(r row) bool {
			cp = r
			return false
		})
		if err != nil {
			return 0, "", nil, err
		}
		switch hb, ok := cp.fullHash(); {
		case ok:
			prev, from = hb, cp.int("seq")+1
		case lo <= 1:
			from = 1
		default:
			from, anchored = lo, false
		}
	}
	next := from
	var prevRow row
	for next <= end {
		if err := ctx.Err(); err != nil {
			return checked, "", nil, err
		}
		hi := min(next+integrityChunk-1, end)
		q := base + " seq:range[" + strconv.FormatInt(next, 10) + ", " + strconv.FormatInt(hi, 10) + "] | sort by (seq) | limit " + strconv.Itoa(4*integrityChunk)
		var qerr error
		rows := 0
		err := s.cl.query(ctx, q, func(r row) bool {
			rows++
			seq := r.int("seq")
			if prevRow != nil && seq == prevRow.int("seq") {
				// A retried batch repeats records whole; anything else
				// with the same number is a forgery.
				if r["hash"] != prevRow["hash"] || fmt.Sprint(r.fields()) != fmt.Sprint(prevRow.fields()) || r["_time"] != prevRow["_time"] {
					brk = &store.IntegrityBreak{Seq: seq, ID: r.eventID(), Reason: "two different events carry this sequence number"}
					return false
				}
				return true
			}
			if seq != next {
				brk = &store.IntegrityBreak{Seq: next, Reason: fmt.Sprintf("events %d to %d are missing (a lost batch or deleted records)", next, seq-1)}
				return false
			}
			t, err := r.time()
			if err != nil {
				qerr = err
				return false
			}
			if anchored {
				h := r.rowHash(prev, t, seq)
				if ok, _ := r.checkHash(h); !ok {
					brk = &store.IntegrityBreak{Seq: seq, ID: r.eventID(), Reason: "hash mismatch: the event or its predecessor was modified"}
					return false
				}
				prev = h[:]
			} else if hb, ok := r.fullHash(); ok {
				prev, anchored = hb, true
			}
			prevRow = r
			if seq >= start {
				checked++
			}
			next++
			return true
		})
		if err == nil {
			err = qerr
		}
		if err != nil || brk != nil {
			return checked, "", brk, err
		}
		if rows == 0 || next <= hi {
			return checked, "", &store.IntegrityBreak{Seq: next, Reason: fmt.Sprintf("events %d to %d are missing (a lost batch or deleted records)", next, hi)}, nil
		}
	}
	if !anchored {
		// After a retention cut, no full hash up to end: the records
		// were checked for gaps only, and there is no head to report.
		return checked, "", nil, nil
	}
	return checked, hex.EncodeToString(prev), nil, nil
}
