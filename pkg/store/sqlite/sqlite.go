// Package sqlite is the embedded event store engine: one SQLite file (pure
// Go, modernc.org/sqlite, WAL mode) with a single batched writer, events in
// zstd-compressed blocks, rollups for series and top, a hash chain and
// retention by age and size. It implements store.Engine.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/redact"
	"github.com/dbsec/dbsec/pkg/store"
)

// Options configure the embedded store. Zero values take the defaults.
type Options struct {
	// Path of the database file (required).
	Path string
	// Retention drops events older than this (0: keep by age forever).
	Retention time.Duration
	// MaxBytes drops the oldest events while the database is larger
	// (0: no size limit).
	MaxBytes int64
	Policy   store.Policy
	// BatchSize is the maximum number of events per write transaction (5000).
	BatchSize int
	// FlushInterval bounds how long an event waits in a partial batch (500ms).
	FlushInterval time.Duration
	// QueueSize is the bounded queue between Consume and the writer (65536).
	QueueSize int
	// BlockWait is how long Consume blocks on a full queue before it drops
	// the event (20ms).
	BlockWait time.Duration
	// RetentionInterval is how often retention runs (1m).
	RetentionInterval time.Duration
	// CacheMiB is the SQLite page cache per connection (16; the writer
	// and up to four readers: at most 80 MiB). The operating system's page
	// cache holds the file anyway; 64 MiB per connection made a daemon
	// catching up a 10 M-line backlog peak at 298 MiB RSS against 194 MiB
	// with 16, at the same CPU (docs/BENCHMARKS.md, issue 16).
	CacheMiB int
	// Now is the clock for retention (time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// HeadKey signs the head checkpoint (<Path>.head). Empty: a key is
	// generated on first use and kept in <Path>.head.key (mode 0600).
	HeadKey []byte
}

// Store is the embedded SQLite store. Consume, the Add/Put methods and
// every query are safe for concurrent use; a single writer goroutine owns
// all event writes.
type Store struct {
	opts Options
	wdb  *sql.DB // one connection: the writer
	rdb  *sql.DB // readers (WAL lets them run beside the writer)
	ids  *event.IDGen
	log  *slog.Logger

	queue   chan *event.Event
	flushCh chan chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
	closed  atomic.Bool
	closeMu sync.RWMutex

	queued, stored, dropped, skipped, werrs atomic.Int64
	writeNanos                              atomic.Int64 // time spent in write transactions
	lastErr                                 atomic.Value // string

	// writer state (writer goroutine only, or under wmu)
	wmu      sync.Mutex
	seq      int64
	blk      int64
	prevHash []byte
	dict     *dictCache
	stmts    map[int]*sql.Stmt

	// the signed head checkpoint (head.go)
	headKey    []byte
	headMu     sync.Mutex
	regressed  []Regression // under headMu after Open
	headSeq    atomic.Int64
	headHash48 atomic.Uint64
}

var (
	_ store.Appender = (*Store)(nil)
	_ store.Querier  = (*Store)(nil)
)

var registerOnce sync.Once

func registerFuncs() {
	registerOnce.Do(func() {
		// dbsec_conn(block, index, connection id): the ConnectionID filter.
		_ = msqlite.RegisterDeterministicScalarFunction("dbsec_conn", 3, func(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			data, _ := args[0].([]byte)
			ix, _ := args[1].(int64)
			id, _ := args[2].(string)
			recs, err := blocks.get(data)
			if err != nil || ix < 0 || ix >= int64(len(recs)) {
				return int64(0), nil
			}
			var ev event.Event
			if decodeRecord(recs[ix], &ev) != nil || ev.ConnectionID != id {
				return int64(0), nil
			}
			return int64(1), nil
		})
		// dbsec_match(block, index, lowercased q): the Q filter, evaluated
		// inside SQLite so that paging and LIMIT stay in the database.
		_ = msqlite.RegisterDeterministicScalarFunction("dbsec_match", 3, func(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			data, _ := args[0].([]byte)
			ix, _ := args[1].(int64)
			q, _ := args[2].(string)
			recs, err := blocks.get(data)
			if err != nil || ix < 0 || ix >= int64(len(recs)) {
				return int64(0), nil
			}
			if matchRecord(recs[ix], q) {
				return int64(1), nil
			}
			return int64(0), nil
		})
	})
}

// Open opens (creating if needed) the store at opts.Path and starts its
// writer. Close stops it.
func Open(opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("store: path is empty")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 500 * time.Millisecond
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 65536
	}
	if opts.BlockWait <= 0 {
		opts.BlockWait = 20 * time.Millisecond
	}
	if opts.RetentionInterval <= 0 {
		opts.RetentionInterval = time.Minute
	}
	if opts.CacheMiB <= 0 {
		opts.CacheMiB = 16
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	registerFuncs()
	// The database and its WAL and shared-memory files (which SQLite
	// creates with the database's mode) hold the audit trail: 0600, like
	// the export and the detector state.
	if err := createPrivate(opts.Path); err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	key, err := headKey(opts)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	pragmas := fmt.Sprintf("_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-%d)&_pragma=temp_store(MEMORY)", opts.CacheMiB*1024)
	// auto_vacuum must be set before the first table is created.
	wdb, err := sql.Open("sqlite", "file:"+opts.Path+"?_pragma=auto_vacuum(INCREMENTAL)&"+pragmas)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetConnMaxIdleTime(0)
	wdb.SetConnMaxLifetime(0)
	if _, err := wdb.Exec(schema); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open store %s: create schema: %w", opts.Path, err)
	}
	if err := migrate(wdb); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open store %s: upgrade schema: %w", opts.Path, err)
	}
	rdb, err := sql.Open("sqlite", "file:"+opts.Path+"?_pragma=query_only(1)&"+pragmas)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	rdb.SetMaxOpenConns(4)
	rdb.SetMaxIdleConns(4)
	s := &Store{
		opts:    opts,
		wdb:     wdb,
		rdb:     rdb,
		ids:     event.NewIDGen(),
		log:     opts.Logger,
		queue:   make(chan *event.Event, opts.QueueSize),
		flushCh: make(chan chan struct{}),
		done:    make(chan struct{}),
		dict:    newDictCache(),
		stmts:   map[int]*sql.Stmt{},
		headKey: key,
	}
	if err := s.loadState(); err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	if err := s.verifyHeadAtOpen(); err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("open store %s: head checkpoint: %w", opts.Path, err)
	}
	s.wg.Go(s.writer)
	return s, nil
}

// createPrivate creates the database file with mode 0600 if it does not
// exist yet, and narrows the mode of an existing one.
func createPrivate(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return f.Chmod(0o600)
	}
	return nil
}

func (s *Store) loadState() error {
	row := s.wdb.QueryRow(`SELECT seq, h FROM events ORDER BY seq DESC LIMIT 1`)
	var h []byte
	switch err := row.Scan(&s.seq, &h); {
	case errors.Is(err, sql.ErrNoRows):
		s.seq, s.prevHash = 0, make([]byte, 32)
		// After retention removed everything, continue from the anchor.
		var aseq int64
		var ah []byte
		if err := s.wdb.QueryRow(`SELECT seq, h FROM anchor WHERE id = 1`).Scan(&aseq, &ah); err == nil {
			s.seq, s.prevHash = aseq, ah
		}
	case err != nil:
		return err
	default:
		s.prevHash = h
	}
	return s.wdb.QueryRow(`SELECT COALESCE(MAX(id), 0) FROM blocks`).Scan(&s.blk)
}

var schema = `
CREATE TABLE IF NOT EXISTS dict(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v TEXT NOT NULL, UNIQUE(k, v));
CREATE TABLE IF NOT EXISTS blocks(id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS anchor(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, h BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  seq INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  src INTEGER NOT NULL, sys INTEGER NOT NULL, cat INTEGER NOT NULL, act INTEGER NOT NULL, outc INTEGER NOT NULL,
  usr INTEGER NOT NULL, ip INTEGER NOT NULL, dig INTEGER NOT NULL,
  dets TEXT,
  blk INTEGER NOT NULL, bix INTEGER NOT NULL,
  h BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS ev_ts ON events(ts);
CREATE INDEX IF NOT EXISTS ev_cat ON events(cat, ts);
CREATE INDEX IF NOT EXISTS ev_usr ON events(usr, ts);
CREATE INDEX IF NOT EXISTS ev_ip ON events(ip, ts);
CREATE INDEX IF NOT EXISTS ev_dig ON events(dig, ts);
CREATE TABLE IF NOT EXISTS detections(
  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, rule INTEGER NOT NULL, severity TEXT NOT NULL,
  src INTEGER NOT NULL, usr INTEGER NOT NULL, ip INTEGER NOT NULL, eseq INTEGER NOT NULL, event_id TEXT NOT NULL, msg TEXT NOT NULL,
  doc TEXT NOT NULL DEFAULT '', mac TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS det_ts ON detections(ts);
CREATE INDEX IF NOT EXISTS det_rule ON detections(rule, ts);
CREATE TABLE IF NOT EXISTS findings(
  id INTEGER PRIMARY KEY, target TEXT NOT NULL, rule TEXT NOT NULL, severity INTEGER NOT NULL, status TEXT NOT NULL,
  updated INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fin_target ON findings(target);
CREATE TABLE IF NOT EXISTS drift(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, target TEXT NOT NULL, doc TEXT NOT NULL, k BLOB);
CREATE INDEX IF NOT EXISTS drift_target ON drift(target, ts);
` + rollupSchema

// migrate brings a store written by an older version up to the schema:
// detections gained doc (rule id, title, entity, evidence as JSON).
func migrate(db *sql.DB) error {
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('detections') WHERE name = 'doc'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if _, err := db.Exec(`ALTER TABLE detections ADD COLUMN doc TEXT NOT NULL DEFAULT ''`); err != nil {
			return err
		}
	}
	// drift gained k, the hash of DriftChange.Identity, unique: a change is
	// recorded once.
	if err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('drift') WHERE name = 'k'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if _, err := db.Exec(`ALTER TABLE drift ADD COLUMN k BLOB`); err != nil {
			return err
		}
	}
	if _, err := db.Exec(`CREATE UNIQUE INDEX IF NOT EXISTS drift_k ON drift(k)`); err != nil {
		return err
	}
	// detections gained mac: an HMAC of the row with the head key, checked
	// by Integrity (rows written before have none).
	if err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('detections') WHERE name = 'mac'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if _, err := db.Exec(`ALTER TABLE detections ADD COLUMN mac TEXT NOT NULL DEFAULT ''`); err != nil {
			return err
		}
	}
	return nil
}

// detDoc is the part of a detection kept as JSON in detections.doc.
type detDoc struct {
	RuleID   string   `json:"rule_id,omitempty"`
	Title    string   `json:"title,omitempty"`
	Entity   string   `json:"entity,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
}

func detDocOf(d *store.Detection) string {
	if d.RuleID == "" && d.Title == "" && d.Entity == "" && len(d.Evidence) == 0 {
		return ""
	}
	b, _ := json.Marshal(detDoc{RuleID: d.RuleID, Title: d.Title, Entity: redact.String(d.Entity), Evidence: d.Evidence})
	return string(b)
}

// Consume implements pipeline.Sink: it applies the storage policy, copies
// the event and queues it for the writer. When the queue is full it blocks
// for at most Options.BlockWait and then drops the event (counted in
// Stats().Dropped).
func (s *Store) Consume(ev *event.Event) {
	if !s.opts.Policy.Keep(ev) {
		s.skipped.Add(1)
		return
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed.Load() {
		s.drop("store closed")
		return
	}
	c := ev.Clone()
	if ms, ok := idTime(c.ID); !ok || ms != c.Time.UnixMilli() {
		c.ID = s.ids.Next(c.Time)
	}
	select {
	case s.queue <- c:
		s.queued.Add(1)
		return
	default:
	}
	t := time.NewTimer(s.opts.BlockWait)
	defer t.Stop()
	select {
	case s.queue <- c:
		s.queued.Add(1)
	case <-t.C:
		s.drop("queue full")
	}
}

// drop counts an event the store could not queue and logs the first drops
// and then every power of two, so that an overload is visible in the log
// without flooding it.
func (s *Store) drop(why string) {
	n := s.dropped.Add(1)
	if n <= 10 || n&(n-1) == 0 {
		s.log.Warn("event store dropped an event", "reason", why, "dropped_so_far", n,
			"hint", "a network source sends faster than the store writes; file sources wait instead")
	}
}

// ConsumeWait implements store.Waiter: Consume that waits for room in the
// queue instead of dropping.
func (s *Store) ConsumeWait(ctx context.Context, ev *event.Event) error {
	if !s.opts.Policy.Keep(ev) {
		s.skipped.Add(1)
		return nil
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed.Load() {
		s.drop("store closed")
		return errors.New("store closed")
	}
	c := ev.Clone()
	if ms, ok := idTime(c.ID); !ok || ms != c.Time.UnixMilli() {
		c.ID = s.ids.Next(c.Time)
	}
	select {
	case s.queue <- c:
		s.queued.Add(1)
		return nil
	case <-ctx.Done():
		s.drop("source stopped while the queue was full")
		return ctx.Err()
	case <-s.done:
		s.drop("store writer stopped")
		return errors.New("store writer stopped")
	}
}

// Flush waits until every event queued before the call is committed.
func (s *Store) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case s.flushCh <- done:
	case <-s.done:
		return errors.New("store closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes the queue and closes the database. Events consumed after
// Close are dropped.
func (s *Store) Close(ctx context.Context) error {
	s.closeMu.Lock()
	if s.closed.Swap(true) {
		s.closeMu.Unlock()
		return nil
	}
	close(s.queue)
	s.closeMu.Unlock()
	waited := make(chan struct{})
	go func() { s.wg.Wait(); close(waited) }()
	var err error
	select {
	case <-waited:
	case <-ctx.Done():
		err = fmt.Errorf("close store: %w", ctx.Err())
	}
	if err == nil {
		_, _ = s.wdb.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		err = errors.Join(s.wdb.Close(), s.rdb.Close())
	}
	return err
}

// Stats returns the counters and the stored range (cheap: two indexed
// look-ups and the page count).
func (s *Store) Stats() store.Stats {
	st := store.Stats{
		Queued:  int64(len(s.queue)),
		Stored:  s.stored.Load(),
		Dropped: s.dropped.Load(),
		Skipped: s.skipped.Load(),
		Errors:  s.werrs.Load(),
	}
	if v, ok := s.lastErr.Load().(string); ok {
		st.LastError = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var lo, hi, cnt sql.NullInt64
	if s.rdb.QueryRowContext(ctx, `SELECT (SELECT ts FROM events INDEXED BY ev_ts ORDER BY ts LIMIT 1), (SELECT ts FROM events INDEXED BY ev_ts ORDER BY ts DESC LIMIT 1), (SELECT MAX(seq) - MIN(seq) + 1 FROM events)`).Scan(&lo, &hi, &cnt) == nil {
		if lo.Valid {
			st.Oldest, st.Newest = msTime(lo.Int64), msTime(hi.Int64)
		}
		st.Events = cnt.Int64
	}
	st.Bytes = s.fileBytes()
	return st
}

func (s *Store) fileBytes() int64 {
	var n int64
	for _, suf := range []string{"", "-wal"} {
		if fi, err := os.Stat(s.opts.Path + suf); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// writer owns all event writes. Three stages run concurrently: the
// batcher (this goroutine) fills batches from the queue, prepare redacts,
// encodes and compresses them, and apply writes them in one transaction
// each. Flush markers and retention ride the same pipeline, so they are
// ordered with the writes.
func (s *Store) writer() {
	defer close(s.done)
	prepCh := make(chan *prepared, 2)
	sqlCh := make(chan *prepared, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(sqlCh)
		for p := range prepCh {
			if len(p.evs) > 0 {
				q := prepare(p.evs)
				q.done, q.retain = p.done, p.retain
				p = q
			}
			sqlCh <- p
		}
	})
	wg.Go(func() {
		for p := range sqlCh {
			s.apply(p)
		}
	})
	defer wg.Wait()
	defer close(prepCh)

	batch := make([]*event.Event, 0, s.opts.BatchSize)
	tick := time.NewTicker(s.opts.FlushInterval)
	defer tick.Stop()
	ret := time.NewTicker(s.opts.RetentionInterval)
	defer ret.Stop()
	send := func(done chan struct{}, retain bool) {
		if len(batch) == 0 && done == nil && !retain {
			return
		}
		prepCh <- &prepared{evs: batch, done: done, retain: retain}
		batch = make([]*event.Event, 0, s.opts.BatchSize)
	}
	for {
		select {
		case ev, ok := <-s.queue:
			if !ok {
				send(nil, false)
				return
			}
			batch = append(batch, ev)
			if len(batch) >= s.opts.BatchSize {
				send(nil, false)
			}
		case <-tick.C:
			send(nil, false)
		case done := <-s.flushCh:
			// take what is already queued
			for n := len(s.queue); n > 0; n-- {
				ev, ok := <-s.queue
				if !ok {
					break
				}
				batch = append(batch, ev)
				if len(batch) >= s.opts.BatchSize {
					send(nil, false)
				}
			}
			send(done, false)
		case <-ret.C:
			send(nil, true)
		}
	}
}

// apply runs on the SQL stage.
func (s *Store) apply(p *prepared) {
	if len(p.evs) > 0 {
		t0 := time.Now()
		err := s.writeBatch(p)
		s.writeNanos.Add(int64(time.Since(t0)))
		if err != nil {
			s.werrs.Add(1)
			s.lastErr.Store(err.Error())
			s.dropped.Add(int64(len(p.evs)))
			s.log.Error("store write failed", "events", len(p.evs), "err", err)
		} else if err := s.saveHead(); err != nil {
			s.log.Warn("store head checkpoint not written", "path", s.headPath(), "err", err)
		}
	}
	if p.retain {
		if err := s.Retain(context.Background()); err != nil {
			s.log.Warn("store retention failed", "err", err)
		}
	}
	if p.done != nil {
		close(p.done)
	}
}

// dictCache maps (kind, value) to dictionary ids. It is bounded: when it
// grows past its limit it starts over (the table stays the truth).
type dictCache struct {
	mu  sync.RWMutex
	fwd map[dictKey]int64
	rev map[int64]string
}

type dictKey struct {
	k int
	v string
}

const (
	kSource = iota + 1
	kUser
	kIP
	kDigest
	kRule
)

const dictCacheMax = 1 << 20

func newDictCache() *dictCache {
	return &dictCache{fwd: map[dictKey]int64{}, rev: map[int64]string{}}
}

func (c *dictCache) lookup(k int, v string) (int64, bool) {
	c.mu.RLock()
	id, ok := c.fwd[dictKey{k, v}]
	c.mu.RUnlock()
	return id, ok
}

func (c *dictCache) name(id int64) (string, bool) {
	c.mu.RLock()
	v, ok := c.rev[id]
	c.mu.RUnlock()
	return v, ok
}

func (c *dictCache) put(k int, v string, id int64) {
	c.mu.Lock()
	if len(c.fwd) > dictCacheMax {
		c.fwd, c.rev = map[dictKey]int64{}, map[int64]string{}
	}
	c.fwd[dictKey{k, v}] = id
	c.rev[id] = v
	c.mu.Unlock()
}

func (c *dictCache) reset() {
	c.mu.Lock()
	c.fwd, c.rev = map[dictKey]int64{}, map[int64]string{}
	c.mu.Unlock()
}

// dictID returns the id of v (0 for ""), inserting it within tx.
func (s *Store) dictID(ctx context.Context, tx *sql.Tx, k int, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	if id, ok := s.dict.lookup(k, v); ok {
		return id, nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO dict(k, v) VALUES(?, ?) ON CONFLICT(k, v) DO UPDATE SET k = excluded.k RETURNING id`, k, v).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("dictionary: %w", err)
	}
	s.dict.put(k, v, id)
	return id, nil
}

// lookupIDs maps filter values to dictionary ids for reading; unknown
// values are left out (they cannot match).
func (s *Store) lookupIDs(ctx context.Context, k int, vs []string) ([]int64, error) {
	var out []int64
	for _, v := range vs {
		if v == "" {
			out = append(out, 0)
			continue
		}
		if id, ok := s.dict.lookup(k, v); ok {
			out = append(out, id)
			continue
		}
		var id int64
		err := s.rdb.QueryRowContext(ctx, `SELECT id FROM dict WHERE k = ? AND v = ?`, k, v).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.dict.put(k, v, id)
		out = append(out, id)
	}
	return out, nil
}

// names resolves dictionary ids to values.
func (s *Store) names(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	var missing []any
	for _, id := range ids {
		if id == 0 {
			out[0] = ""
			continue
		}
		if v, ok := s.dict.name(id); ok {
			out[id] = v
			continue
		}
		missing = append(missing, id)
	}
	for len(missing) > 0 {
		n := min(len(missing), 500)
		chunk := missing[:n]
		missing = missing[n:]
		rows, err := s.rdb.QueryContext(ctx, `SELECT id, k, v FROM dict WHERE id IN (`+placeholders(n)+`)`, chunk...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var k int
			var v string
			if err := rows.Scan(&id, &k, &v); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = v
			s.dict.put(k, v, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}
