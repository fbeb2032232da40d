package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/store"
)

// Every query below is a constant SQL text with ? placeholders; filter
// values are only ever bound as parameters. Query plans are pinned with
// INDEXED BY so that the planner cannot pick a full scan.

const (
	defaultLimit = 100
	maxLimit     = 10000
)

type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) in(col string, vals []int64) {
	if len(vals) == 0 {
		return
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	w.add(col+" IN ("+placeholders(len(vals))+")", args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return "1"
	}
	return strings.Join(w.conds, " AND ")
}

func enumIDs[T ~uint8](vs []T) []int64 {
	out := make([]int64, len(vs))
	for i, v := range vs {
		out[i] = int64(v)
	}
	return out
}

// filterIDs resolves the values of every filtered dimension to ids.
func (s *Store) filterIDs(ctx context.Context, f *store.Filter) (map[store.Dimension][]int64, bool, error) {
	m := map[store.Dimension][]int64{}
	none := false
	dict := func(d store.Dimension, vs []string) error {
		if len(vs) == 0 {
			return nil
		}
		ids, err := s.lookupIDs(ctx, dictKind[d], vs)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			none = true
		}
		m[d] = ids
		return nil
	}
	for _, x := range []struct {
		d  store.Dimension
		vs []string
	}{{store.DimSource, f.Source}, {store.DimUser, f.User}, {store.DimClientIP, f.ClientIP}, {store.DimDigest, f.Digest}, {store.DimRule, f.Rule}} {
		if err := dict(x.d, x.vs); err != nil {
			return nil, false, err
		}
	}
	if len(f.System) > 0 {
		m[store.DimSystem] = enumIDs(f.System)
	}
	if len(f.Category) > 0 {
		m[store.DimCategory] = enumIDs(f.Category)
	}
	if len(f.Outcome) > 0 {
		m[store.DimOutcome] = enumIDs(f.Outcome)
	}
	if len(f.Action) > 0 {
		m[store.DimAction] = enumIDs(f.Action)
	}
	if !f.Not.Empty() {
		// Exclusions live under "!"+dimension; a value the store has never
		// seen excludes nothing. Their presence also keeps the rollups out
		// of the plan (no cube has a "!" dimension).
		neg, _, err := s.filterIDs(ctx, &store.Filter{Source: f.Not.Source, System: f.Not.System, Category: f.Not.Category,
			Outcome: f.Not.Outcome, Action: f.Not.Action, User: f.Not.User, ClientIP: f.Not.ClientIP, Digest: f.Not.Digest})
		if err != nil {
			return nil, false, err
		}
		for d, vs := range neg {
			m["!"+d] = vs
		}
		if len(f.Not.Rule) > 0 {
			m["!"+store.DimRule] = nil
		}
		if len(f.Not.ConnectionID) > 0 {
			m["!connection_id"] = nil
		}
	}
	if len(f.ConnectionID) > 0 {
		m["connection_id"] = nil
	}
	return m, none, nil
}

// notRaw adds the exclusions and the connection filter of f to w.
func notRaw(w *where, f *store.Filter, ids map[store.Dimension][]int64) {
	conn := func(vs []string) string {
		var ors []string
		for _, v := range vs {
			ors = append(ors, "dbsec_conn((SELECT data FROM blocks WHERE id = e.blk), e.bix, ?)")
			w.args = append(w.args, v)
		}
		return "(" + strings.Join(ors, " OR ") + ")"
	}
	if len(f.ConnectionID) > 0 {
		w.conds = append(w.conds, conn(f.ConnectionID))
	}
	if f.Not.Empty() {
		return
	}
	for _, d := range store.Dimensions() {
		vs := ids["!"+d]
		if len(vs) == 0 || d == store.DimRule {
			continue
		}
		args := make([]any, len(vs))
		for i, v := range vs {
			args[i] = v
		}
		w.add("e."+column[d]+" NOT IN ("+placeholders(len(vs))+")", args...)
	}
	for _, r := range f.Not.Rule {
		w.add("(e.dets IS NULL OR instr(e.dets, ?) = 0)", ","+r+",")
	}
	if len(f.Not.ConnectionID) > 0 {
		w.conds = append(w.conds, "NOT "+conn(f.Not.ConnectionID))
	}
}

// rawWhere is the WHERE clause on events (alias e) for a filter, without
// the time range.
func rawWhere(f *store.Filter, ids map[store.Dimension][]int64) where {
	var w where
	for _, d := range store.Dimensions() {
		vs, ok := ids[d]
		if !ok {
			continue
		}
		if d == store.DimRule {
			var ors []string
			for _, r := range f.Rule {
				ors = append(ors, "instr(e.dets, ?) > 0")
				w.args = append(w.args, ","+r+",")
			}
			w.conds = append(w.conds, "("+strings.Join(ors, " OR ")+")")
			continue
		}
		w.in("e."+column[d], vs)
	}
	if f.Q != "" {
		w.add("dbsec_match((SELECT data FROM blocks WHERE id = e.blk), e.bix, ?)", strings.ToLower(f.Q))
	}
	notRaw(&w, f, ids)
	return w
}

// eventIndex pins the index for a raw query: the most selective filtered
// column that has a (column, ts) index, else the time index.
func eventIndex(ids map[store.Dimension][]int64) string {
	switch {
	case len(ids[store.DimDigest]) > 0:
		return "ev_dig"
	case len(ids[store.DimUser]) > 0:
		return "ev_usr"
	case len(ids[store.DimClientIP]) > 0:
		return "ev_ip"
	case len(ids[store.DimCategory]) > 0:
		return "ev_cat"
	}
	return "ev_ts"
}

func timeRange(f *store.Filter) (int64, int64) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !f.From.IsZero() {
		lo = msOf(f.From)
	}
	if !f.To.IsZero() {
		hi = msOf(f.To)
		if f.To.Nanosecond()%1e6 != 0 {
			hi++ // [From, To) at millisecond precision
		}
	}
	return lo, hi
}

func clampLimit(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return min(n, maxLimit)
}

// Events returns one page of matching events, newest first.
func (s *Store) Events(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	page := store.EventPage{Events: []*event.Event{}}
	ids, none, err := s.filterIDs(ctx, &q.Filter)
	if err != nil || none {
		return page, err
	}
	limit := clampLimit(q.Limit)
	lo, hi := timeRange(&q.Filter)
	w := rawWhere(&q.Filter, ids)
	w.conds = append([]string{"e.ts >= ? AND e.ts < ?"}, w.conds...)
	w.args = append([]any{lo, hi}, w.args...)
	if q.Cursor != "" {
		cts, cseq, err := decodeCursor("e", q.Cursor)
		if err != nil {
			return page, err
		}
		w.add("e.ts <= ? AND (e.ts < ? OR e.seq < ?)", cts, cts, cseq)
	}
	query := `SELECT e.seq, e.ts, e.src, e.sys, e.cat, e.act, e.outc, e.usr, e.ip, e.dig, e.dets, e.blk, e.bix FROM events e INDEXED BY ` +
		eventIndex(ids) + ` WHERE ` + w.sql() + ` ORDER BY e.ts DESC, e.seq DESC LIMIT ?`
	rows, err := s.readRows(ctx, query, append(w.args, limit+1)...)
	if err != nil {
		return page, err
	}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		page.Next = encodeCursor("e", last.ts, last.seq)
	}
	evs, err := s.decodeRows(ctx, rows, false)
	if err != nil {
		return page, err
	}
	for _, r := range evs {
		page.Events = append(page.Events, r.ev)
	}
	return page, nil
}

// Event returns the event with the given id, or ErrNotFound.
func (s *Store) Event(ctx context.Context, id string) (*event.Event, error) {
	ms, ok := idTime(id)
	if !ok {
		return nil, store.ErrNotFound
	}
	rows, err := s.readRows(ctx, `SELECT e.seq, e.ts, e.src, e.sys, e.cat, e.act, e.outc, e.usr, e.ip, e.dig, e.dets, e.blk, e.bix FROM events e INDEXED BY ev_ts WHERE e.ts = ?`, ms)
	if err != nil {
		return nil, err
	}
	evs, err := s.decodeRows(ctx, rows, false)
	if err != nil {
		return nil, err
	}
	for _, r := range evs {
		if r.ev.ID == id {
			return r.ev, nil
		}
	}
	return nil, store.ErrNotFound
}

type evRow struct {
	seq, ts                  int64
	src, sys, cat, act, outc int64
	usr, ip, dig             int64
	dets                     sql.NullString
	blk, bix                 int64
	h                        []byte
}

func (s *Store) readRows(ctx context.Context, query string, args ...any) ([]evRow, error) {
	return scanRows(ctx, s.rdb, query, false, args...)
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func scanRows(ctx context.Context, db queryer, query string, withHash bool, args ...any) ([]evRow, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	defer rows.Close()
	var out []evRow
	for rows.Next() {
		var r evRow
		dst := []any{&r.seq, &r.ts, &r.src, &r.sys, &r.cat, &r.act, &r.outc, &r.usr, &r.ip, &r.dig, &r.dets, &r.blk, &r.bix}
		if withHash {
			dst = append(dst, &r.h)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("query events: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

type decoded struct {
	row evRow
	ev  *event.Event
	err error
}

// decodeRows turns rows into events: dictionary names and block records.
// With fresh, names bypass the cache (integrity checks read the truth).
func (s *Store) decodeRows(ctx context.Context, rows []evRow, fresh bool) ([]decoded, error) {
	idset := map[int64]bool{}
	blkset := map[int64]bool{}
	for _, r := range rows {
		idset[r.src], idset[r.usr], idset[r.ip], idset[r.dig] = true, true, true, true
		blkset[r.blk] = true
	}
	names, err := s.namesOf(ctx, keys(idset), fresh)
	if err != nil {
		return nil, err
	}
	blks, err := s.blocksOf(ctx, keys(blkset))
	if err != nil {
		return nil, err
	}
	out := make([]decoded, len(rows))
	for i, r := range rows {
		ev := &event.Event{
			Time: msTime(r.ts), Source: names[r.src], System: event.System(r.sys), Category: event.Category(r.cat),
			Action: event.Action(r.act), Outcome: event.Outcome(r.outc), User: names[r.usr], ClientIP: names[r.ip], Digest: names[r.dig],
		}
		if r.dets.Valid && r.dets.String != "" {
			ev.Detections = strings.Split(strings.Trim(r.dets.String, ","), ",")
		}
		out[i] = decoded{row: r, ev: ev}
		recs, ok := blks[r.blk]
		switch {
		case !ok:
			out[i].err = fmt.Errorf("block %d is missing", r.blk)
		case r.bix < 0 || r.bix >= int64(len(recs)):
			out[i].err = fmt.Errorf("block %d has no record %d", r.blk, r.bix)
		default:
			if err := decodeRecord(recs[r.bix], ev); err != nil {
				out[i].err = fmt.Errorf("block %d record %d: %w", r.blk, r.bix, err)
			}
		}
		if out[i].err != nil && !fresh {
			return nil, out[i].err
		}
	}
	return out, nil
}

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (s *Store) namesOf(ctx context.Context, ids []int64, fresh bool) (map[int64]string, error) {
	if !fresh {
		return s.names(ctx, ids)
	}
	out := map[int64]string{0: ""}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		ids = ids[n:]
		rows, err := s.rdb.QueryContext(ctx, `SELECT id, v FROM dict WHERE id IN (`+placeholders(n)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = v
		}
		rows.Close()
	}
	return out, nil
}

func (s *Store) blocksOf(ctx context.Context, ids []int64) (map[int64][][]byte, error) {
	out := map[int64][][]byte{}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		ids = ids[n:]
		rows, err := s.rdb.QueryContext(ctx, `SELECT id, data FROM blocks WHERE id IN (`+placeholders(n)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read blocks: %w", err)
		}
		for rows.Next() {
			var id int64
			var data []byte
			if err := rows.Scan(&id, &data); err != nil {
				rows.Close()
				return nil, err
			}
			recs, err := blocks.get(data)
			if err != nil {
				continue // reported as missing by the caller
			}
			out[id] = recs
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Aggregations.

// planCube returns the smallest cube that holds every dimension in need
// and whose buckets tile the step (0: any).
func planCube(need []store.Dimension, step int64) (int, bool) {
	for i, c := range cubes {
		ok := step == 0 || step%c.bucket == 0
		for _, d := range need {
			if !slices.Contains(c.dims, d) {
				ok = false
				break
			}
		}
		if ok {
			return i, true
		}
	}
	return 0, false
}

type aggPlan struct {
	parts []string
	args  []any
}

// aggregate builds one SQL over the rollup (for whole buckets) and raw
// events (for the edges), yielding rows (bucket, dim id, count). With
// step 0 it groups by the dimension only.
func (s *Store) aggregate(f *store.Filter, ids map[store.Dimension][]int64, by store.Dimension, step int64, restrict []int64) aggPlan {
	var p aggPlan
	lo, hi := timeRange(f)
	need := []store.Dimension{}
	for d := range ids {
		need = append(need, d)
	}
	if by != "" {
		need = append(need, by)
	}
	ci, haveCube := planCube(need, step)
	if f.Q != "" {
		haveCube = false
	}
	rawLo, rawHi := lo, hi
	if haveCube {
		w := cubes[ci].bucket
		a := lo
		if a == math.MinInt64 {
			a = bucketOf(math.MinInt64/2, w)
		} else if a%w != 0 {
			a = bucketOf(a, w) + w
		}
		b := hi
		if b == math.MaxInt64 {
			b = math.MaxInt64 / 2
		}
		b = bucketOf(b, w)
		if a < b {
			c := cubes[ci]
			var w where
			w.add("b >= ? AND b < ?", a, b)
			for d, vs := range ids {
				w.in(column[d], vs)
			}
			if by != "" && restrict != nil {
				w.in(column[by], restrict)
			}
			dcol := "0"
			if by != "" {
				dcol = column[by]
			}
			p.parts = append(p.parts, fmt.Sprintf(`SELECT %s AS bb, %s AS d, SUM(n) AS n FROM %s WHERE %s GROUP BY 1, 2`, bucketExpr("b", step), dcol, c.table, w.sql()))
			p.args = append(p.args, w.args...)
			// raw edges: [lo, a) and [b, hi)
			s.rawPart(&p, f, ids, by, step, restrict, lo, a)
			s.rawPart(&p, f, ids, by, step, restrict, b, hi)
			return p
		}
	}
	s.rawPart(&p, f, ids, by, step, restrict, rawLo, rawHi)
	return p
}

func bucketExpr(col string, step int64) string {
	if step == 0 {
		return "0"
	}
	return fmt.Sprintf("(%s / %d) * %d", col, step, step)
}

func (s *Store) rawPart(p *aggPlan, f *store.Filter, ids map[store.Dimension][]int64, by store.Dimension, step int64, restrict []int64, lo, hi int64) {
	if lo >= hi {
		return
	}
	w := rawWhere(f, ids)
	if by == store.DimRule {
		// One row per (event, rule): count from the detections of stored
		// events.
		w.conds = append([]string{"r.ts >= ? AND r.ts < ? AND r.eseq <> 0"}, w.conds...)
		w.args = append([]any{lo, hi}, w.args...)
		if restrict != nil {
			w.in("r.rule", restrict)
		}
		if vs, ok := ids[store.DimRule]; ok {
			w.in("r.rule", vs)
		}
		p.parts = append(p.parts, fmt.Sprintf(`SELECT %s AS bb, r.rule AS d, COUNT(*) AS n FROM detections r INDEXED BY det_ts JOIN events e ON e.seq = r.eseq WHERE %s GROUP BY 1, 2`,
			bucketExpr("r.ts", step), w.sql()))
		p.args = append(p.args, w.args...)
		return
	}
	w.conds = append([]string{"e.ts >= ? AND e.ts < ?"}, w.conds...)
	w.args = append([]any{lo, hi}, w.args...)
	dcol := "0"
	if by != "" {
		dcol = "e." + column[by]
		if restrict != nil {
			w.in(dcol, restrict)
		}
	}
	p.parts = append(p.parts, fmt.Sprintf(`SELECT %s AS bb, %s AS d, COUNT(*) AS n FROM events e INDEXED BY %s WHERE %s GROUP BY 1, 2`,
		bucketExpr("e.ts", step), dcol, eventIndex(ids), w.sql()))
	p.args = append(p.args, w.args...)
}

func (p *aggPlan) union() string {
	return "SELECT bb, d, SUM(n) FROM (" + strings.Join(p.parts, " UNION ALL ") + ") GROUP BY bb, d"
}

// dimNames maps the ids of dimension d to their names.
func (s *Store) dimNames(ctx context.Context, d store.Dimension, ids []int64) (map[int64]string, error) {
	if _, ok := dictKind[d]; ok {
		return s.names(ctx, ids)
	}
	out := map[int64]string{}
	for _, id := range ids {
		switch d {
		case store.DimSystem:
			out[id] = event.System(id).String()
		case store.DimCategory:
			out[id] = event.Category(id).String()
		case store.DimOutcome:
			out[id] = event.Outcome(id).String()
		case store.DimAction:
			out[id] = event.Action(id).String()
		default:
			out[id] = ""
		}
	}
	return out, nil
}

// Top ranks the values of q.By.
func (s *Store) Top(ctx context.Context, q store.TopQuery) (store.TopResult, error) {
	res := store.TopResult{By: q.By, Items: []store.TopItem{}}
	if _, ok := column[q.By]; !ok {
		return res, &store.ParamError{Param: "by", Msg: fmt.Sprintf("unknown dimension %q", q.By)}
	}
	ids, none, err := s.filterIDs(ctx, &q.Filter)
	if err != nil || none {
		return res, err
	}
	items, err := s.top(ctx, &q.Filter, ids, q.By, clampLimit(q.Limit))
	if err != nil {
		return res, err
	}
	names, err := s.dimNames(ctx, q.By, idsOf(items))
	if err != nil {
		return res, err
	}
	for _, it := range items {
		res.Items = append(res.Items, store.TopItem{Value: names[it.id], Count: it.n})
	}
	return res, nil
}

type idCount struct{ id, n int64 }

func idsOf(xs []idCount) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = x.id
	}
	return out
}

func (s *Store) top(ctx context.Context, f *store.Filter, ids map[store.Dimension][]int64, by store.Dimension, limit int) ([]idCount, error) {
	p := s.aggregate(f, ids, by, 0, nil)
	if len(p.parts) == 0 {
		return nil, nil
	}
	query := "SELECT d, SUM(n) AS c FROM (" + strings.Join(p.parts, " UNION ALL ") + ") GROUP BY d ORDER BY c DESC, d LIMIT ?"
	rows, err := s.rdb.QueryContext(ctx, query, append(p.args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	defer rows.Close()
	var out []idCount
	for rows.Next() {
		var x idCount
		if err := rows.Scan(&x.id, &x.n); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// Series counts matching events per step.
func (s *Store) Series(ctx context.Context, q store.SeriesQuery) (store.SeriesResult, error) {
	res := store.SeriesResult{From: q.From, To: q.To, Step: q.Step.Seconds(), By: q.By, Series: []store.Series{}}
	if q.Step < time.Millisecond {
		return res, &store.ParamError{Param: "step", Msg: "must be at least 1ms"}
	}
	if q.By != "" {
		if _, ok := column[q.By]; !ok {
			return res, &store.ParamError{Param: "by", Msg: fmt.Sprintf("unknown dimension %q", q.By)}
		}
	}
	ids, none, err := s.filterIDs(ctx, &q.Filter)
	if err != nil || none {
		return res, err
	}
	var restrict []int64
	if q.By != "" && q.Top > 0 {
		items, err := s.top(ctx, &q.Filter, ids, q.By, q.Top)
		if err != nil {
			return res, err
		}
		if len(items) == 0 {
			return res, nil
		}
		restrict = idsOf(items)
	}
	p := s.aggregate(&q.Filter, ids, q.By, q.Step.Milliseconds(), restrict)
	if len(p.parts) == 0 {
		return res, nil
	}
	rows, err := s.rdb.QueryContext(ctx, p.union()+" ORDER BY bb", p.args...)
	if err != nil {
		return res, fmt.Errorf("series: %w", err)
	}
	defer rows.Close()
	byID := map[int64]*store.Series{}
	var order []int64
	for rows.Next() {
		var b, d, n int64
		if err := rows.Scan(&b, &d, &n); err != nil {
			return res, err
		}
		sr, ok := byID[d]
		if !ok {
			sr = &store.Series{Points: []store.Point{}}
			byID[d] = sr
			order = append(order, d)
		}
		sr.Points = append(sr.Points, store.Point{Time: msTime(b), Count: n})
		sr.Total += n
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	names, err := s.dimNames(ctx, q.By, order)
	if err != nil {
		return res, err
	}
	for _, d := range order {
		sr := byID[d]
		if q.By != "" {
			sr.Value = names[d]
		}
		res.Series = append(res.Series, *sr)
	}
	sort.SliceStable(res.Series, func(i, j int) bool {
		if res.Series[i].Total != res.Series[j].Total {
			return res.Series[i].Total > res.Series[j].Total
		}
		return res.Series[i].Value < res.Series[j].Value
	})
	return res, nil
}

// Values lists the distinct values of q.Field among matching events. With
// a time range, values come from the rollups at bucket (minute) precision.
func (s *Store) Values(ctx context.Context, q store.ValuesQuery) ([]string, error) {
	out := []string{}
	if _, ok := column[q.Field]; !ok {
		return out, &store.ParamError{Param: "field", Msg: fmt.Sprintf("unknown field %q", q.Field)}
	}
	limit := clampLimit(q.Limit)
	ids, none, err := s.filterIDs(ctx, &q.Filter)
	if err != nil || none {
		return out, err
	}
	k, isDict := dictKind[q.Field]
	if isDict && len(ids) == 0 && q.From.IsZero() && q.To.IsZero() && q.Q == "" {
		rows, err := s.rdb.QueryContext(ctx, `SELECT v FROM dict WHERE k = ? ORDER BY v LIMIT ?`, k, limit)
		if err != nil {
			return out, err
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return out, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
	// Distinct ids via the aggregation plan (rollups + edges), widened to
	// whole buckets.
	f := q.Filter
	if !f.From.IsZero() {
		f.From = msTime(bucketOf(msOf(f.From), coarseBucket))
	}
	if !f.To.IsZero() {
		if t := msOf(f.To); t%coarseBucket != 0 {
			f.To = msTime(bucketOf(t, coarseBucket) + coarseBucket)
		}
	}
	p := s.aggregate(&f, ids, q.Field, 0, nil)
	if len(p.parts) == 0 {
		return out, nil
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT DISTINCT d FROM ("+strings.Join(p.parts, " UNION ALL ")+")", p.args...)
	if err != nil {
		return out, fmt.Errorf("values: %w", err)
	}
	var vids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return out, err
		}
		vids = append(vids, id)
	}
	rows.Close()
	names, err := s.dimNames(ctx, q.Field, vids)
	if err != nil {
		return out, err
	}
	for _, id := range vids {
		if v := names[id]; v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Detections, findings and drift changes.

// Detections returns one page of detections, newest first.
func (s *Store) Detections(ctx context.Context, q store.DetectionQuery) (store.DetectionPage, error) {
	page := store.DetectionPage{Detections: []store.Detection{}}
	f := store.Filter{From: q.From, To: q.To, Rule: q.Rule, Source: q.Source, User: q.User, ClientIP: q.ClientIP}
	ids, none, err := s.filterIDs(ctx, &f)
	if err != nil || none {
		return page, err
	}
	lo, hi := timeRange(&f)
	var w where
	w.add("r.ts >= ? AND r.ts < ?", lo, hi)
	w.in("r.rule", ids[store.DimRule])
	w.in("r.src", ids[store.DimSource])
	w.in("r.usr", ids[store.DimUser])
	w.in("r.ip", ids[store.DimClientIP])
	if len(q.Severity) > 0 {
		args := make([]any, len(q.Severity))
		for i, v := range q.Severity {
			args[i] = v
		}
		w.add("r.severity IN ("+placeholders(len(args))+")", args...)
	}
	if q.Cursor != "" {
		cts, cid, err := decodeCursor("d", q.Cursor)
		if err != nil {
			return page, err
		}
		w.add("r.ts <= ? AND (r.ts < ? OR r.id < ?)", cts, cts, cid)
	}
	idx := "det_ts"
	if len(ids[store.DimRule]) > 0 {
		idx = "det_rule"
	}
	limit := clampLimit(q.Limit)
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.id, r.ts, r.rule, r.severity, r.src, r.usr, r.ip, r.event_id, r.msg, r.doc FROM detections r INDEXED BY `+idx+
		` WHERE `+w.sql()+` ORDER BY r.ts DESC, r.id DESC LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("detections: %w", err)
	}
	type drow struct {
		id, ts, rule, src, usr, ip int64
		sev, eid, msg, doc         string
	}
	var rs []drow
	for rows.Next() {
		var r drow
		if err := rows.Scan(&r.id, &r.ts, &r.rule, &r.sev, &r.src, &r.usr, &r.ip, &r.eid, &r.msg, &r.doc); err != nil {
			rows.Close()
			return page, err
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, err
	}
	if len(rs) > limit {
		rs = rs[:limit]
		page.Next = encodeCursor("d", rs[limit-1].ts, rs[limit-1].id)
	}
	var all []int64
	for _, r := range rs {
		all = append(all, r.rule, r.src, r.usr, r.ip)
	}
	names, err := s.names(ctx, all)
	if err != nil {
		return page, err
	}
	for _, r := range rs {
		d := store.Detection{
			ID: fmt.Sprintf("d%d", r.id), Time: msTime(r.ts), Rule: names[r.rule], Severity: r.sev, Source: names[r.src],
			User: names[r.usr], ClientIP: names[r.ip], EventID: r.eid, Message: r.msg,
		}
		if r.doc != "" {
			var x detDoc
			if err := json.Unmarshal([]byte(r.doc), &x); err != nil {
				return page, fmt.Errorf("detection d%d: %w", r.id, err)
			}
			d.RuleID, d.Title, d.Entity, d.Evidence = x.RuleID, x.Title, x.Entity, x.Evidence
		}
		page.Detections = append(page.Detections, d)
	}
	return page, nil
}

// Findings returns one page of the current findings.
func (s *Store) Findings(ctx context.Context, q store.FindingQuery) (store.FindingPage, error) {
	page := store.FindingPage{Findings: []finding.Finding{}}
	var w where
	strIn := func(col string, vs []string) {
		if len(vs) == 0 {
			return
		}
		args := make([]any, len(vs))
		for i, v := range vs {
			args[i] = v
		}
		w.add(col+" IN ("+placeholders(len(vs))+")", args...)
	}
	strIn("target", q.Target)
	strIn("rule", q.Rule)
	var st []string
	for _, x := range q.Status {
		st = append(st, string(x))
	}
	strIn("status", st)
	w.in("severity", enumIDs(q.Severity))
	if q.Cursor != "" {
		id, _, err := decodeCursor("f", q.Cursor)
		if err != nil {
			return page, err
		}
		w.add("id > ?", id)
	}
	limit := clampLimit(q.Limit)
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, doc FROM findings WHERE `+w.sql()+` ORDER BY id LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("findings: %w", err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		var id int64
		var doc string
		if err := rows.Scan(&id, &doc); err != nil {
			return page, err
		}
		if len(page.Findings) == limit {
			page.Next = encodeCursor("f", last, 0)
			break
		}
		var f finding.Finding
		if err := json.Unmarshal([]byte(doc), &f); err != nil {
			return page, fmt.Errorf("finding %d: %w", id, err)
		}
		page.Findings = append(page.Findings, f)
		last = id
	}
	return page, rows.Err()
}

// DriftChanges returns one page of drift changes, newest first.
func (s *Store) DriftChanges(ctx context.Context, q store.DriftQuery) (store.DriftPage, error) {
	page := store.DriftPage{Changes: []store.DriftChange{}}
	// drift.ts holds Unix nanoseconds.
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.From.IsZero() {
		lo = q.From.UnixNano()
	}
	if !q.To.IsZero() {
		hi = q.To.UnixNano()
	}
	var w where
	w.add("ts >= ? AND ts < ?", lo, hi)
	if len(q.Target) > 0 {
		args := make([]any, len(q.Target))
		for i, v := range q.Target {
			args[i] = v
		}
		w.add("target IN ("+placeholders(len(args))+")", args...)
	}
	if q.Cursor != "" {
		cts, cid, err := decodeCursor("c", q.Cursor)
		if err != nil {
			return page, err
		}
		w.add("ts <= ? AND (ts < ? OR id < ?)", cts, cts, cid)
	}
	limit := clampLimit(q.Limit)
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, ts, doc FROM drift WHERE `+w.sql()+` ORDER BY ts DESC, id DESC LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("drift changes: %w", err)
	}
	defer rows.Close()
	var lastID, lastTS int64
	for rows.Next() {
		var id, ts int64
		var doc string
		if err := rows.Scan(&id, &ts, &doc); err != nil {
			return page, err
		}
		if len(page.Changes) == limit {
			page.Next = encodeCursor("c", lastTS, lastID)
			break
		}
		var c store.DriftChange
		if err := json.Unmarshal([]byte(doc), &c); err != nil {
			return page, fmt.Errorf("drift change %d: %w", id, err)
		}
		page.Changes = append(page.Changes, c)
		lastID, lastTS = id, ts
	}
	return page, rows.Err()
}

// Integrity verifies the hash chain over [q.Start, q.End] and reports the
// first event that does not verify: a changed row, dictionary value or
// block, a deleted or reordered row. The hash of event Start-1 (or the
// retention anchor) is trusted as the starting point.
func (s *Store) Integrity(ctx context.Context, q store.IntegrityQuery) (store.IntegrityReport, error) {
	rep := store.IntegrityReport{OK: true}
	// The head first: a chain cut at either end verifies on its own, so it
	// is compared with the signed checkpoint (head.go) and with the head
	// the writer last committed.
	if why, err := s.headProblem(ctx); err != nil {
		return rep, err
	} else if why != "" {
		rep.OK = false
		rep.FirstBreak = &store.IntegrityBreak{Reason: why}
		return rep, nil
	}
	var lo, hi sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, `SELECT MIN(seq), MAX(seq) FROM events`).Scan(&lo, &hi); err != nil {
		return rep, err
	}
	if !lo.Valid {
		return rep, nil
	}
	start, end := lo.Int64, hi.Int64
	if q.Start > 0 {
		start = max(q.Start, lo.Int64)
	}
	if q.End > 0 {
		end = min(q.End, hi.Int64)
	}
	rep.Start, rep.End = start, end
	if start > end {
		return rep, nil
	}
	// The hash before start.
	prev := make([]byte, 32)
	var aseq int64
	var ah []byte
	if err := s.rdb.QueryRowContext(ctx, `SELECT seq, h FROM anchor WHERE id = 1`).Scan(&aseq, &ah); err == nil && aseq == start-1 {
		prev = ah
	} else if start > 1 {
		err := s.rdb.QueryRowContext(ctx, `SELECT h FROM events WHERE seq = ?`, start-1).Scan(&prev)
		if errors.Is(err, sql.ErrNoRows) {
			rep.OK = false
			rep.FirstBreak = &store.IntegrityBreak{Seq: start - 1, Reason: "event is missing (the chain before the range cannot be anchored)"}
			return rep, nil
		} else if err != nil {
			return rep, err
		}
	}
	next := start
	var canon []byte
	for next <= end {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rows, err := scanRows(ctx, s.rdb, `SELECT seq, ts, src, sys, cat, act, outc, usr, ip, dig, dets, blk, bix, h FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT 5000`,
			true, next, end)
		if err != nil {
			return rep, err
		}
		if len(rows) == 0 {
			break
		}
		evs, err := s.decodeRows(ctx, rows, true)
		if err != nil {
			return rep, err
		}
		want := map[int64][]string{}
		batchLo := next
		for _, d := range evs {
			if d.row.seq != next {
				rep.OK = false
				rep.FirstBreak = &store.IntegrityBreak{Seq: next, Reason: "event is missing"}
				return rep, nil
			}
			if d.err != nil {
				rep.OK = false
				rep.FirstBreak = &store.IntegrityBreak{Seq: d.row.seq, ID: d.ev.ID, Reason: d.err.Error()}
				return rep, nil
			}
			canon = canonical(canon[:0], d.ev)
			h := chainHash(prev, canon)
			if string(h) != string(d.row.h) {
				rep.OK = false
				rep.FirstBreak = &store.IntegrityBreak{Seq: d.row.seq, ID: d.ev.ID, Reason: "hash mismatch: the event or its predecessor was modified"}
				return rep, nil
			}
			prev = d.row.h
			rep.Checked++
			if len(d.ev.Detections) > 0 {
				want[d.row.seq] = d.ev.Detections
			}
			next++
		}
		// The detections of the verified events (head.go).
		if seq, why, err := s.checkDetections(ctx, batchLo, next-1, want); err != nil {
			return rep, err
		} else if why != "" {
			rep.OK = false
			rep.FirstBreak = &store.IntegrityBreak{Seq: seq, Reason: why}
			return rep, nil
		}
	}
	if next <= end {
		rep.OK = false
		rep.FirstBreak = &store.IntegrityBreak{Seq: next, Reason: "event is missing"}
		return rep, nil
	}
	rep.Head = hex.EncodeToString(prev)
	if q.Start == 0 && q.End == 0 {
		if why, err := s.checkRollups(ctx); err != nil {
			return rep, err
		} else if why != "" {
			rep.OK = false
			rep.FirstBreak = &store.IntegrityBreak{Reason: why}
		}
	}
	return rep, nil
}
