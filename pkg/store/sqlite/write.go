package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/redact"
	"github.com/dbsec/dbsec/pkg/store"
)

// Rollups ("cubes") are maintained at write time so that series, top and
// values never group raw events over long ranges. Each cube counts events
// per rollupBucket for one combination of dimensions; a query uses the
// smallest cube that holds its group-by dimension and every filtered
// dimension, and reads raw events only for the partial buckets at the edges
// of its range.
type cube struct {
	table string
	dims  []store.Dimension
	// bucket is the width of a rollup bucket in milliseconds.
	bucket int64
}

// Low-cardinality cubes count per minute; the per-entity cubes (about one
// row per event per minute otherwise) per 10 minutes.
const (
	fineBucket   = int64(time.Minute / time.Millisecond)
	coarseBucket = int64(10 * time.Minute / time.Millisecond)
)

var cubes = []cube{
	{"r_co", []store.Dimension{store.DimCategory, store.DimOutcome}, fineBucket},
	{"r_main", []store.Dimension{store.DimSource, store.DimSystem, store.DimCategory, store.DimAction, store.DimOutcome}, fineBucket},
	{"r_user", []store.Dimension{store.DimUser, store.DimSource, store.DimCategory, store.DimOutcome}, coarseBucket},
	{"r_ip", []store.Dimension{store.DimClientIP, store.DimSource, store.DimCategory, store.DimOutcome}, coarseBucket},
	{"r_dig", []store.Dimension{store.DimDigest, store.DimSource, store.DimCategory, store.DimOutcome}, coarseBucket},
	{"r_rule", []store.Dimension{store.DimRule, store.DimSource, store.DimCategory, store.DimOutcome}, fineBucket},
}

// column is the events (and rollup) column of a dimension.
var column = map[store.Dimension]string{
	store.DimSource: "src", store.DimSystem: "sys", store.DimCategory: "cat", store.DimAction: "act", store.DimOutcome: "outc",
	store.DimUser: "usr", store.DimClientIP: "ip", store.DimDigest: "dig", store.DimRule: "rule",
}

// dictKind is the dictionary kind of a dictionary-encoded dimension.
var dictKind = map[store.Dimension]int{store.DimSource: kSource, store.DimUser: kUser, store.DimClientIP: kIP, store.DimDigest: kDigest, store.DimRule: kRule}

var rollupSchema = func() string {
	var b strings.Builder
	for _, c := range cubes {
		cols := make([]string, len(c.dims))
		for i, d := range c.dims {
			cols[i] = column[d]
		}
		fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s(b INTEGER NOT NULL, %s INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(b, %s)) WITHOUT ROWID;\n",
			c.table, strings.Join(cols, " INTEGER NOT NULL, "), strings.Join(cols, ", "))
	}
	return b.String()
}()

type rowIDs struct {
	src, usr, ip, dig int64
	rules, hits       []int64
}

func (r *rowIDs) dim(ev *event.Event, d store.Dimension) int64 {
	switch d {
	case store.DimSource:
		return r.src
	case store.DimSystem:
		return int64(ev.System)
	case store.DimCategory:
		return int64(ev.Category)
	case store.DimAction:
		return int64(ev.Action)
	case store.DimOutcome:
		return int64(ev.Outcome)
	case store.DimUser:
		return r.usr
	case store.DimClientIP:
		return r.ip
	case store.DimDigest:
		return r.dig
	}
	return 0
}

const maxDims = 5

type rollKey struct {
	b int64
	d [maxDims]int64
}

// prepared is a batch after the CPU-heavy work that needs no database:
// redaction, block encoding and compression, canonical forms. It runs on
// its own goroutine, beside the SQL writer.
type prepared struct {
	evs    []*event.Event
	blocks [][]byte
	canon  [][]byte
	// control messages
	done   chan struct{}
	retain bool
}

func prepare(batch []*event.Event) *prepared {
	p := &prepared{evs: batch, canon: make([][]byte, len(batch))}
	for i, ev := range batch {
		redact.Event(ev)
		p.canon[i] = canonical(nil, ev)
	}
	for start := 0; start < len(batch); start += blockEvents {
		end := min(start+blockEvents, len(batch))
		recs := make([][]byte, 0, end-start)
		for _, ev := range batch[start:end] {
			recs = append(recs, appendRecord(nil, ev))
		}
		p.blocks = append(p.blocks, compressBlock(recs))
	}
	return p
}

// writeBatch stores one batch in one transaction.
func (s *Store) writeBatch(p *prepared) (err error) {
	batch := p.evs
	s.wmu.Lock()
	defer s.wmu.Unlock()
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	seq, blk, prev := s.seq, s.blk, s.prevHash
	s.stmts = map[int]*sql.Stmt{}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			s.dict.reset()
		}
	}()

	ids := make([]rowIDs, len(batch))
	for i, ev := range batch {
		r := &ids[i]
		if r.src, err = s.dictID(ctx, tx, kSource, ev.Source); err != nil {
			return err
		}
		if r.usr, err = s.dictID(ctx, tx, kUser, ev.User); err != nil {
			return err
		}
		if r.ip, err = s.dictID(ctx, tx, kIP, ev.ClientIP); err != nil {
			return err
		}
		if r.dig, err = s.dictID(ctx, tx, kDigest, ev.Digest); err != nil {
			return err
		}
		for _, rule := range ev.Detections {
			id, err := s.dictID(ctx, tx, kRule, rule)
			if err != nil {
				return err
			}
			r.rules = append(r.rules, id)
		}
		for i := range ev.Hits {
			id, err := s.dictID(ctx, tx, kRule, ev.Hits[i].Rule)
			if err != nil {
				return err
			}
			r.hits = append(r.hits, id)
		}
	}

	// Blocks, hashes and event rows.
	const perRow = 14
	args := make([]any, 0, blockEvents*perRow)
	var dets []any
	for bi, start := 0, 0; start < len(batch); bi, start = bi+1, start+blockEvents {
		end := min(start+blockEvents, len(batch))
		blk++
		if _, err = s.stmt(ctx, tx, stmtBlock, 1).ExecContext(ctx, blk, p.blocks[bi]); err != nil {
			return fmt.Errorf("insert block: %w", err)
		}
		args = args[:0]
		for i, ev := range batch[start:end] {
			seq++
			h := chainHash(prev, p.canon[start+i])
			prev = h
			r := &ids[start+i]
			var dt any
			if len(ev.Detections) > 0 {
				dt = "," + strings.Join(ev.Detections, ",") + ","
			}
			if len(ev.Hits) > 0 {
				// The detection stage's hits, whole.
				for j := range ev.Hits {
					h := &ev.Hits[j]
					ts := h.Time
					if ts.IsZero() {
						ts = ev.Time
					}
					msg, doc := redact.String(h.Message), detDocOf(h)
					dets = append(dets, msOf(ts), r.hits[j], h.Severity, r.src, r.usr, r.ip, seq, ev.ID, msg, doc,
						s.detMAC(msOf(ts), r.hits[j], h.Severity, seq, ev.ID, msg, doc))
				}
			} else {
				// Rule names without hits (events detected elsewhere).
				for j := range ev.Detections {
					dets = append(dets, msOf(ev.Time), r.rules[j], "", r.src, r.usr, r.ip, seq, ev.ID, "", "",
						s.detMAC(msOf(ev.Time), r.rules[j], "", seq, ev.ID, "", ""))
				}
			}
			args = append(args, seq, msOf(ev.Time), r.src, int64(ev.System), int64(ev.Category), int64(ev.Action), int64(ev.Outcome),
				r.usr, r.ip, r.dig, dt, blk, int64(i), h)
		}
		if _, err = s.stmt(ctx, tx, stmtEvents, end-start).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
	}
	for len(dets) > 0 {
		n := min(len(dets)/detCols, 100)
		if _, err = s.stmt(ctx, tx, stmtDetections, n).ExecContext(ctx, dets[:n*detCols]...); err != nil {
			return fmt.Errorf("insert detections: %w", err)
		}
		dets = dets[n*detCols:]
	}

	// Rollups.
	for ci, c := range cubes {
		agg := map[rollKey]int64{}
		for i, ev := range batch {
			k := rollKey{b: bucketOf(msOf(ev.Time), c.bucket)}
			if c.dims[0] == store.DimRule {
				for _, rid := range ids[i].rules {
					k.d[0] = rid
					for j, d := range c.dims[1:] {
						k.d[j+1] = ids[i].dim(ev, d)
					}
					agg[k]++
				}
				continue
			}
			for j, d := range c.dims {
				k.d[j] = ids[i].dim(ev, d)
			}
			agg[k]++
		}
		if err = s.upsertRollup(ctx, tx, ci, agg); err != nil {
			return fmt.Errorf("rollup %s: %w", c.table, err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.seq, s.blk, s.prevHash = seq, blk, prev
	s.stored.Add(int64(len(batch)))
	return nil
}

const blockEvents = 128

// bucketOf is the start of the bucket of width w holding ms.
func bucketOf(ms, w int64) int64 {
	b := ms - ms%w
	if ms < 0 && ms%w != 0 {
		b -= w
	}
	return b
}

// detCols is the number of columns of a detection row insert.
const detCols = 11

const (
	stmtBlock = iota
	stmtEvents
	stmtDetections
	stmtRollup // + cube index
)

// stmt returns a prepared multi-row insert for n rows, prepared on tx
// (the writer has one connection; statements live for one transaction).
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, kind, n int) *sql.Stmt {
	key := kind<<16 | n
	st, ok := s.stmts[key]
	if !ok {
		var q string
		switch {
		case kind == stmtBlock:
			q = `INSERT INTO blocks(id, data) VALUES (?, ?)`
		case kind == stmtEvents:
			q = `INSERT INTO events(seq, ts, src, sys, cat, act, outc, usr, ip, dig, dets, blk, bix, h) VALUES ` + rowsOf(n, 14)
		case kind == stmtDetections:
			q = `INSERT INTO detections(ts, rule, severity, src, usr, ip, eseq, event_id, msg, doc, mac) VALUES ` + rowsOf(n, detCols)
		default:
			c := cubes[kind-stmtRollup]
			cols := make([]string, len(c.dims))
			for i, d := range c.dims {
				cols[i] = column[d]
			}
			q = fmt.Sprintf(`INSERT INTO %s(b, %s, n) VALUES %s ON CONFLICT(b, %s) DO UPDATE SET n = n + excluded.n`,
				c.table, strings.Join(cols, ", "), rowsOf(n, len(cols)+2), strings.Join(cols, ", "))
		}
		var err error
		st, err = tx.PrepareContext(ctx, q)
		if err != nil {
			panic(fmt.Sprintf("store: prepare %q: %v", q, err)) // the SQL is constant
		}
		s.stmts[key] = st
	}
	return st
}

func rowsOf(n, cols int) string {
	row := "(" + placeholders(cols) + ")"
	return strings.Repeat(row+",", n-1) + row
}

func (s *Store) upsertRollup(ctx context.Context, tx *sql.Tx, ci int, agg map[rollKey]int64) error {
	nd := len(cubes[ci].dims)
	const chunk = 100
	args := make([]any, 0, chunk*(nd+2))
	n := 0
	exec := func() error {
		if n == 0 {
			return nil
		}
		_, err := s.stmt(ctx, tx, stmtRollup+ci, n).ExecContext(ctx, args...)
		args, n = args[:0], 0
		return err
	}
	for k, c := range agg {
		args = append(args, k.b)
		for j := range nd {
			args = append(args, k.d[j])
		}
		args = append(args, c)
		n++
		if n == chunk {
			if err := exec(); err != nil {
				return err
			}
		}
	}
	return exec()
}

// AddDetections stores detections from stateful detectors. Message is
// redacted; ID is assigned when empty.
func (s *Store) AddDetections(ctx context.Context, ds []store.Detection) (err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			s.dict.reset()
		}
	}()
	for _, d := range ds {
		if d.Rule == "" {
			return errors.New("add detection: rule is empty")
		}
		rid, err := s.dictID(ctx, tx, kRule, d.Rule)
		if err != nil {
			return err
		}
		src, err := s.dictID(ctx, tx, kSource, d.Source)
		if err != nil {
			return err
		}
		usr, err := s.dictID(ctx, tx, kUser, d.User)
		if err != nil {
			return err
		}
		ip, err := s.dictID(ctx, tx, kIP, d.ClientIP)
		if err != nil {
			return err
		}
		msg, doc := redact.String(d.Message), detDocOf(&d)
		if _, err := tx.ExecContext(ctx, `INSERT INTO detections(ts, rule, severity, src, usr, ip, eseq, event_id, msg, doc, mac) VALUES (?,?,?,?,?,?,0,?,?,?,?)`,
			msOf(d.Time), rid, d.Severity, src, usr, ip, d.EventID, msg, doc, s.detMAC(msOf(d.Time), rid, d.Severity, 0, d.EventID, msg, doc)); err != nil {
			return fmt.Errorf("add detection: %w", err)
		}
	}
	return tx.Commit()
}

// PutFindings replaces the current findings of target.
func (s *Store) PutFindings(ctx context.Context, target string, at time.Time, fs []finding.Finding) (err error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err = tx.ExecContext(ctx, `DELETE FROM findings WHERE target = ?`, target); err != nil {
		return fmt.Errorf("put findings: %w", err)
	}
	for i := range fs {
		f := fs[i]
		if f.Target == "" {
			f.Target = target
		}
		doc, err := json.Marshal(&f)
		if err != nil {
			return fmt.Errorf("put findings: %w", err)
		}
		if _, err = tx.ExecContext(ctx, `INSERT INTO findings(target, rule, severity, status, updated, doc) VALUES (?,?,?,?,?,?)`,
			target, f.RuleID, int64(f.Severity), string(f.Status), at.UnixNano(), string(doc)); err != nil {
			return fmt.Errorf("put findings: %w", err)
		}
	}
	return tx.Commit()
}

// AddDriftChanges records drift changes seen at time at (Old and New are
// expected to be redacted by the drift checker; they are redacted again).
func (s *Store) AddDriftChanges(ctx context.Context, at time.Time, cs []store.DriftChange) (err error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for i := range cs {
		c := cs[i]
		if c.Time.IsZero() {
			c.Time = at
		}
		c.Old, c.New = redact.String(c.Old), redact.String(c.New)
		if c.Secret {
			c.Old, c.New = "", ""
		}
		doc, err := json.Marshal(&c)
		if err != nil {
			return err
		}
		k := sha256.Sum256([]byte(c.Identity()))
		if _, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO drift(ts, target, doc, k) VALUES (?,?,?,?)`, c.Time.UnixNano(), c.Target, string(doc), k[:]); err != nil {
			return fmt.Errorf("add drift changes: %w", err)
		}
	}
	return tx.Commit()
}

// Retain applies retention by age and by size. It deletes a prefix of the
// chain (by sequence), records the hash of the last deleted event as the
// chain's anchor, and drops rollups, blocks and detections that are older
// than the oldest remaining event. It runs on the writer every
// RetentionInterval; tests may call it directly.
func (s *Store) Retain(ctx context.Context) error {
	if s.opts.Retention <= 0 && s.opts.MaxBytes <= 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	deleted := false
	defer func() {
		// The anchor moved: pin it (head.go).
		if deleted {
			if err := s.saveHead(); err != nil {
				s.log.Warn("store head checkpoint not written", "path", s.headPath(), "err", err)
			}
		}
	}()
	if s.opts.Retention > 0 {
		cutoff := msOf(s.opts.Now().Add(-s.opts.Retention))
		for {
			var maxSeq, maxTS sql.NullInt64
			if err := s.wdb.QueryRowContext(ctx, `SELECT MAX(seq), MAX(ts) FROM (SELECT seq, ts FROM events ORDER BY seq LIMIT 20000)`).Scan(&maxSeq, &maxTS); err != nil {
				return err
			}
			if !maxSeq.Valid {
				break
			}
			upTo := maxSeq.Int64
			last := maxTS.Int64 < cutoff
			if !last {
				var first sql.NullInt64
				if err := s.wdb.QueryRowContext(ctx, `SELECT MIN(seq) FROM (SELECT seq, ts FROM events ORDER BY seq LIMIT 20000) WHERE ts >= ?`, cutoff).Scan(&first); err != nil {
					return err
				}
				upTo = first.Int64 - 1
			}
			if upTo > 0 {
				n, err := s.deletePrefix(ctx, upTo)
				if err != nil {
					return err
				}
				deleted = deleted || n > 0
			}
			if !last {
				break
			}
		}
	}
	if s.opts.MaxBytes > 0 {
		for range 100 {
			used, err := s.usedBytes(ctx)
			if err != nil {
				return err
			}
			if used <= s.opts.MaxBytes {
				break
			}
			var lo, hi sql.NullInt64
			if err := s.wdb.QueryRowContext(ctx, `SELECT MIN(seq), MAX(seq) FROM events`).Scan(&lo, &hi); err != nil {
				return err
			}
			if !lo.Valid {
				break
			}
			step := max((hi.Int64-lo.Int64+1)/50, 1000)
			if _, err := s.deletePrefix(ctx, lo.Int64+step-1); err != nil {
				return err
			}
			deleted = true
		}
	}
	if deleted {
		if _, err := s.wdb.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) usedBytes(ctx context.Context) (int64, error) {
	var pc, fl, ps int64
	if err := s.wdb.QueryRowContext(ctx, `SELECT * FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()`).Scan(&pc, &fl, &ps); err != nil {
		return 0, err
	}
	return (pc - fl) * ps, nil
}

// deletePrefix deletes the events with seq <= upTo and what only they used.
func (s *Store) deletePrefix(ctx context.Context, upTo int64) (n int64, err error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var aseq int64
	var ah []byte
	err = tx.QueryRowContext(ctx, `SELECT seq, h FROM events WHERE seq <= ? ORDER BY seq DESC LIMIT 1`, upTo).Scan(&aseq, &ah)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, tx.Rollback()
	}
	if err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq <= ?`, upTo)
	if err != nil {
		return 0, err
	}
	n, _ = res.RowsAffected()
	if _, err = tx.ExecContext(ctx, `INSERT INTO anchor(id, seq, h) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, h = excluded.h`, aseq, ah); err != nil {
		return 0, err
	}
	var firstBlk, firstTS sql.NullInt64
	if err = tx.QueryRowContext(ctx, `SELECT blk, ts FROM events ORDER BY seq LIMIT 1`).Scan(&firstBlk, &firstTS); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	if firstBlk.Valid {
		if _, err = tx.ExecContext(ctx, `DELETE FROM blocks WHERE id < ?`, firstBlk.Int64); err != nil {
			return 0, err
		}
		minTS := s.minTS(ctx, tx, firstTS.Int64)
		if _, err = tx.ExecContext(ctx, `DELETE FROM detections WHERE eseq <> 0 AND eseq <= ?`, upTo); err != nil {
			return 0, err
		}
		for _, c := range cubes {
			if _, err = tx.ExecContext(ctx, `DELETE FROM `+c.table+` WHERE b < ?`, bucketOf(minTS, c.bucket)); err != nil {
				return 0, err
			}
		}
	} else {
		for _, q := range []string{`DELETE FROM blocks`, `DELETE FROM detections WHERE eseq <> 0`} {
			if _, err = tx.ExecContext(ctx, q); err != nil {
				return 0, err
			}
		}
		for _, c := range cubes {
			if _, err = tx.ExecContext(ctx, `DELETE FROM `+c.table); err != nil {
				return 0, err
			}
		}
	}
	if s.opts.Retention > 0 {
		if _, err = tx.ExecContext(ctx, `DELETE FROM detections WHERE ts < ?`, msOf(s.opts.Now().Add(-s.opts.Retention))); err != nil {
			return 0, err
		}
	}
	return n, tx.Commit()
}

// minTS is the oldest remaining event time (the first by seq is a good
// upper bound; the time index gives the exact value).
func (s *Store) minTS(ctx context.Context, tx *sql.Tx, fallback int64) int64 {
	var ts int64
	if err := tx.QueryRowContext(ctx, `SELECT ts FROM events INDEXED BY ev_ts ORDER BY ts LIMIT 1`).Scan(&ts); err != nil {
		return fallback
	}
	return ts
}
