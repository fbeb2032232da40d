package sqlite

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The chain's head is pinned outside the database, in a checkpoint file
// next to it (<path>.head) signed with an HMAC key: the sequence number and
// hash of the newest event and the anchor (the last event removed by
// retention). The store rewrites it after every committed batch and every
// retention run. At open and in Integrity the database is compared with
// it, so that deleting the newest events, all events, or the oldest ones
// together with a forged anchor is reported, though each of these leaves a
// chain that verifies on its own. A head that went backwards is recorded
// in the checkpoint itself and stays reported until an operator removes
// the file (the next open then trusts the database as it is).
//
// The checkpoint protects against changes made to the database alone.
// Someone who can write both the database and the checkpoint, and read the
// key, can rewrite history; the head sequence and hash are therefore also
// exported as metrics (dbsec_store_chain_head_seq and
// dbsec_store_chain_head_hash_prefix), so that Prometheus keeps a record outside
// the host.

type headCheckpoint struct {
	Seq        int64        `json:"seq"`
	Hash       string       `json:"hash"`
	AnchorSeq  int64        `json:"anchor_seq"`
	AnchorHash string       `json:"anchor_hash,omitempty"`
	Time       time.Time    `json:"time"`
	Regressed  []Regression `json:"regressed,omitempty"`
	MAC        string       `json:"mac,omitempty"`
}

// Regression is a chain head found behind its signed checkpoint.
type Regression struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

func (c *headCheckpoint) mac(key []byte) string {
	m := hmac.New(sha256.New, key)
	cc := *c
	cc.MAC = ""
	b, _ := json.Marshal(cc)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Store) headPath() string { return s.opts.Path + ".head" }

// headKey returns the HMAC key: Options.HeadKey, or a key generated on
// first use next to the database (<path>.head.key, mode 0600).
func headKey(opts Options) ([]byte, error) {
	if len(opts.HeadKey) > 0 {
		return opts.HeadKey, nil
	}
	p := opts.Path + ".head.key"
	if b, err := os.ReadFile(p); err == nil && len(b) >= 16 {
		return b, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := writeFile0600(p, b); err != nil {
		return nil, fmt.Errorf("head key: %w", err)
	}
	return b, nil
}

// writeFile0600 writes b to p atomically (temporary file and rename), mode
// 0600.
func writeFile0600(p string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), filepath.Base(p)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// readHead returns the checkpoint (nil if there is none) and whether its
// signature holds.
func (s *Store) readHead() (*headCheckpoint, bool, error) {
	b, err := os.ReadFile(s.headPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	var c headCheckpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return &c, false, nil
	}
	return &c, hmac.Equal([]byte(c.mac(s.headKey)), []byte(c.MAC)), nil
}

// dbHead reads the newest event and the anchor from the database.
func dbHead(db *sql.DB) (seq int64, h []byte, aseq int64, ah []byte, err error) {
	err = db.QueryRow(`SELECT seq, h FROM events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &h)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	if err != nil {
		return
	}
	err = db.QueryRow(`SELECT seq, h FROM anchor WHERE id = 1`).Scan(&aseq, &ah)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	if seq == 0 {
		seq, h = aseq, ah // everything removed by retention: the head is the anchor
	}
	return
}

// checkHead compares the database with the signed checkpoint and returns
// what does not hold ("" if all does). seqHash looks up the hash of an
// event by sequence (nil, nil if it is gone).
func checkHead(c *headCheckpoint, sigOK bool, seq int64, aseq int64, ah []byte, seqHash func(int64) ([]byte, error)) (string, error) {
	if c == nil {
		return "", nil
	}
	if !sigOK {
		return "the signed head checkpoint does not verify (modified, or signed with another key)", nil
	}
	if seq < c.Seq {
		return fmt.Sprintf("the chain head went backwards: the checkpoint pins seq %d, the store ends at seq %d (the newest events were deleted)", c.Seq, seq), nil
	}
	if aseq != c.AnchorSeq || (aseq > 0 && hex.EncodeToString(ah) != c.AnchorHash) {
		// Retention re-pins the anchor as soon as it moves it.
		return fmt.Sprintf("the chain anchor (seq %d) is not the one the checkpoint pins (seq %d): the oldest events were removed outside retention", aseq, c.AnchorSeq), nil
	}
	if c.Seq > aseq {
		h, err := seqHash(c.Seq)
		if err != nil {
			return "", err
		}
		if h == nil || hex.EncodeToString(h) != c.Hash {
			return fmt.Sprintf("the event the checkpoint pins (seq %d) is missing or changed", c.Seq), nil
		}
	}
	return "", nil
}

func (s *Store) seqHash(db *sql.DB) func(int64) ([]byte, error) {
	return func(seq int64) ([]byte, error) {
		var h []byte
		err := db.QueryRow(`SELECT h FROM events WHERE seq = ?`, seq).Scan(&h)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return h, err
	}
}

// verifyHeadAtOpen records, in the checkpoint, a database found behind it.
func (s *Store) verifyHeadAtOpen() error {
	c, ok, err := s.readHead()
	if err != nil {
		return err
	}
	seq, _, aseq, ah, err := dbHead(s.wdb)
	if err != nil {
		return err
	}
	why, err := checkHead(c, ok, seq, aseq, ah, s.seqHash(s.wdb))
	if err != nil {
		return err
	}
	if c != nil {
		s.regressed = append(s.regressed, c.Regressed...)
	}
	if why != "" {
		s.log.Error("event store integrity: "+why, "path", s.opts.Path)
		s.regressed = append(s.regressed, Regression{At: s.opts.Now().UTC(), Reason: why})
	}
	return s.saveHead()
}

// saveHead signs and writes the checkpoint of the database's current head.
func (s *Store) saveHead() error {
	s.headMu.Lock()
	defer s.headMu.Unlock()
	seq, h, aseq, ah, err := dbHead(s.wdb)
	if err != nil {
		return err
	}
	c := headCheckpoint{Seq: seq, Hash: hex.EncodeToString(h), AnchorSeq: aseq, Time: s.opts.Now().UTC(), Regressed: s.regressed}
	if aseq > 0 {
		c.AnchorHash = hex.EncodeToString(ah)
	}
	c.MAC = c.mac(s.headKey)
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := writeFile0600(s.headPath(), b); err != nil {
		return err
	}
	s.headSeq.Store(seq)
	var h48 uint64
	for _, x := range h[:min(6, len(h))] {
		h48 = h48<<8 | uint64(x)
	}
	s.headHash48.Store(h48)
	return nil
}

// Head returns the sequence number of the chain's head and the first 48
// bits of its hash as an integer (for the metrics), as last pinned.
func (s *Store) Head() (seq int64, hash48 uint64) {
	return s.headSeq.Load(), s.headHash48.Load()
}

// headProblem compares the database with the signed checkpoint, with the
// regressions recorded so far and with the head this process last pinned.
func (s *Store) headProblem(ctx context.Context) (string, error) {
	s.headMu.Lock()
	reg := append([]Regression(nil), s.regressed...)
	pinned := s.headSeq.Load()
	s.headMu.Unlock()
	if len(reg) > 0 {
		r := reg[len(reg)-1]
		return fmt.Sprintf("%s (recorded %s; remove %s once resolved)", r.Reason, r.At.Format(time.RFC3339), s.headPath()), nil
	}
	c, ok, err := s.readHead()
	if err != nil {
		return "", err
	}
	if c == nil && pinned > 0 {
		return "the signed head checkpoint " + s.headPath() + " was removed", nil
	}
	seq, _, aseq, ah, err := dbHeadCtx(ctx, s.rdb)
	if err != nil {
		return "", err
	}
	if seq < pinned {
		return fmt.Sprintf("the chain head went backwards: seq %d was committed, the store ends at seq %d (the newest events were deleted)", pinned, seq), nil
	}
	return checkHead(c, ok, seq, aseq, ah, s.seqHash(s.rdb))
}

func dbHeadCtx(ctx context.Context, db *sql.DB) (int64, []byte, int64, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, 0, nil, err
	}
	return dbHead(db)
}

// detMAC signs a detection row: what it says (time, rule, severity,
// message, rule id, entity, evidence) and which event it belongs to. The
// rows are not chained to each other; Integrity checks each row's MAC and
// that every event of the chain that names detections has rows for them.
func (s *Store) detMAC(ts, rule int64, severity string, eseq int64, eventID, msg, doc string) string {
	m := hmac.New(sha256.New, s.headKey)
	fmt.Fprintf(m, "%d\x00%d\x00%s\x00%d\x00%s\x00%s\x00%s", ts, rule, severity, eseq, eventID, msg, doc)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// checkDetections verifies the detection rows of the events with seq in
// [lo, hi]: each row's MAC, and for each event the set of rule names
// against the names the (chained) event carries. want maps seq to the
// event's rule names.
func (s *Store) checkDetections(ctx context.Context, lo, hi int64, want map[int64][]string) (int64, string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT d.eseq, d.ts, d.rule, d.severity, d.event_id, d.msg, d.doc, d.mac, COALESCE(k.v, '')
		FROM detections d LEFT JOIN dict k ON k.id = d.rule WHERE d.eseq BETWEEN ? AND ?`, lo, hi)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	got := map[int64]map[string]bool{}
	for rows.Next() {
		var eseq, ts, rule int64
		var sev, eid, msg, doc, mac, name string
		if err := rows.Scan(&eseq, &ts, &rule, &sev, &eid, &msg, &doc, &mac, &name); err != nil {
			return 0, "", err
		}
		if mac != "" && mac != s.detMAC(ts, rule, sev, eseq, eid, msg, doc) {
			return eseq, "a detection of this event was modified (its MAC does not verify)", nil
		}
		if got[eseq] == nil {
			got[eseq] = map[string]bool{}
		}
		got[eseq][name] = true
	}
	if err := rows.Err(); err != nil {
		return 0, "", err
	}
	for seq := lo; seq <= hi; seq++ {
		names := want[seq]
		if len(names) == 0 && len(got[seq]) == 0 {
			continue
		}
		for _, n := range names {
			if !got[seq][n] {
				return seq, fmt.Sprintf("detection %q of this event is missing", n), nil
			}
		}
		if len(got[seq]) > len(names) {
			return seq, "a detection row names a rule the event does not carry", nil
		}
	}
	return 0, "", nil
}

// maxRollupBuckets bounds the buckets checkRollups recomputes per cube.
const maxRollupBuckets = 256

// checkRollups recomputes a sample of the rollup buckets behind series and
// top from the events table (which the chain covers) and reports the first
// bucket whose total differs. The oldest bucket is skipped: retention
// removes events one by one but rollups by whole buckets.
func (s *Store) checkRollups(ctx context.Context) (string, error) {
	var lo, hi sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, `SELECT MIN(ts), MAX(ts) FROM events`).Scan(&lo, &hi); err != nil || !lo.Valid {
		return "", err
	}
	for _, c := range cubes {
		if c.table == "r_rule" {
			continue // one row per rule hit, not per event
		}
		first := bucketOf(lo.Int64, c.bucket) + c.bucket
		last := bucketOf(hi.Int64, c.bucket)
		n := (last-first)/c.bucket + 1
		step := max(int64(1), n/maxRollupBuckets) * c.bucket
		for b := first; b <= last; b += step {
			if err := ctx.Err(); err != nil {
				return "", err
			}
			var ev, roll int64
			if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE ts >= ? AND ts < ?`, b, b+c.bucket).Scan(&ev); err != nil {
				return "", err
			}
			if err := s.rdb.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM `+c.table+` WHERE b = ?`, b).Scan(&roll); err != nil {
				return "", err
			}
			if ev != roll {
				return fmt.Sprintf("rollup %s bucket %s counts %d events, the events table %d (series and top would be wrong)",
					c.table, time.UnixMilli(b).UTC().Format(time.RFC3339), roll, ev), nil
			}
		}
	}
	return "", nil
}
