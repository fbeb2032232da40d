// Package victorialogs is the scale-out store engine: events, detections,
// findings and drift changes are records in VictoriaLogs (single node or
// cluster), written by every exporter of a fleet and queried with LogsQL
// by any of them. It implements store.Engine and store.Waiter.
//
// Writes go through a bounded on-disk queue in the state directory, so
// delivery is at least once and nothing is lost while VictoriaLogs is
// unreachable: when the queue is full, ConsumeWait (file sources) blocks
// (back-pressure) and Consume (network sources) drops after a short wait,
// counted; queued batches are retried with backoff. Retried batches may
// be stored twice; a copy has the same exporter and key (seq for events),
// pages skip repeated keys, and aggregations count distinct (exporter,
// seq) wherever a resend marker says a batch went twice, so duplicates are
// invisible. Each exporter keeps its own hash chain (exporter, seq and the
// hash of every event; see encode.go), which Integrity verifies.
package victorialogs

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/redact"
	"github.com/dbsec/dbsec/pkg/store"
)

// Options configure the engine. Zero values take the defaults.
type Options struct {
	// InsertURL and SelectURL are VictoriaLogs' base URLs
	// (http://host:9428): /insert/jsonline and /select/logsql/query are
	// appended. One node of a cluster started with -storageNode serves both.
	InsertURL, SelectURL string
	// Username/Password (basic auth) or BearerToken.
	Username, Password, BearerToken string
	// TLS to VictoriaLogs.
	TLSCAFile, TLSCertFile, TLSKeyFile string
	TLSInsecureSkipVerify              bool
	// AccountID and ProjectID select the tenant (headers of every request).
	AccountID, ProjectID uint32
	// Exporter names this exporter's stream and hash chain (default: the
	// host name).
	Exporter string
	// QueueDir holds the on-disk queue (required unless the engine only
	// queries; it then still needs a directory for its chain head).
	QueueDir string
	// MaxQueueBytes bounds the on-disk queue (1 GiB). When it is full,
	// ConsumeWait (file sources) blocks and Consume (network sources)
	// waits for at most BlockWait and then drops the event (counted).
	MaxQueueBytes int64
	// BlockWait is how long Consume waits for room in a full queue
	// (20ms, as the SQLite engine).
	BlockWait time.Duration
	// BatchSize is the number of records per insert request (10,000).
	BatchSize int
	// FlushInterval bounds how long a record waits in a partial batch (1s).
	FlushInterval time.Duration
	// Timeout of one request (30s).
	Timeout time.Duration
	// MaxBackoff caps the retry backoff (30s).
	MaxBackoff time.Duration
	// VerifyAfter is how long a sent batch stays on disk before a query
	// confirms that VictoriaLogs still has all of its events (15s; it
	// keeps the newest data in memory for up to 5 s, lost if a storage
	// node is killed). Batches found incomplete are sent again.
	VerifyAfter time.Duration
	// MaxResponseBytes bounds what one query reads (256 MiB).
	MaxResponseBytes int64
	Policy           store.Policy
	Logger           *slog.Logger
}

// Store is the VictoriaLogs engine.
type Store struct {
	opts Options
	cl   *client
	q    *queue
	log  *slog.Logger
	ids  *event.IDGen
	xk   string // exporterKey(opts.Exporter)

	// chain state, under mu
	mu      sync.Mutex
	seq     int64
	prev    []byte
	enc     evEnc
	buf     []byte
	genLast int64

	stop    chan struct{}
	wg      sync.WaitGroup
	closing atomic.Bool
	closed  atomic.Bool

	verifyMu sync.Mutex

	stored, dropped, skipped, werrs, resent atomic.Int64
	lastErr                                 atomic.Value // string

	statsMu   sync.Mutex
	fleet     store.Stats // Events, Oldest, Newest from VictoriaLogs
	fleetAt   time.Time
	fleetBusy bool
}

var _ store.Engine = (*Store)(nil)

// Open starts the engine: it recovers the on-disk queue and the chain
// head, and starts the sender. VictoriaLogs need not be reachable.
func Open(opts Options) (*Store, error) {
	if opts.InsertURL == "" && opts.SelectURL != "" {
		opts.InsertURL = opts.SelectURL
	}
	if opts.SelectURL == "" {
		opts.SelectURL = opts.InsertURL
	}
	if opts.InsertURL == "" {
		return nil, errors.New("victorialogs: insert_url is empty")
	}
	if opts.QueueDir == "" {
		return nil, errors.New("victorialogs: the queue directory is empty")
	}
	if opts.Exporter == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return nil, errors.New("victorialogs: set exporter (the host name is unknown)")
		}
		opts.Exporter = h
	}
	if opts.MaxQueueBytes <= 0 {
		opts.MaxQueueBytes = 1 << 30
	}
	if opts.BlockWait <= 0 {
		opts.BlockWait = 20 * time.Millisecond
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 10000
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.VerifyAfter <= 0 {
		opts.VerifyAfter = 15 * time.Second
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = 256 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cl, err := newClient(&opts)
	if err != nil {
		return nil, err
	}
	q, err := openQueue(filepath.Join(opts.QueueDir, "queue"), opts.MaxQueueBytes, min(opts.MaxQueueBytes/4, 16<<20), opts.BatchSize)
	if err != nil {
		return nil, err
	}
	s := &Store{opts: opts, cl: cl, q: q, log: opts.Logger, ids: event.NewIDGen(), xk: exporterKey(opts.Exporter), stop: make(chan struct{}), prev: make([]byte, 32)}
	s.loadHead()
	s.wg.Go(s.sender)
	s.wg.Go(s.sealer)
	s.wg.Go(s.verifier)
	return s, nil
}

func (s *Store) headPath() string { return filepath.Join(s.opts.QueueDir, "chain-head") }

// loadHead recovers the chain head: from the head file, advanced over
// the newer events still queued; with neither (a new state directory),
// from this exporter's last checkpoint in VictoriaLogs, if it answers,
// advanced over the events after it.
func (s *Store) loadHead() {
	if b, err := os.ReadFile(s.headPath()); err == nil {
		var seq int64
		var h string
		if _, err := fmt.Sscanf(string(b), "%d %s", &seq, &h); err == nil {
			if hb, err := hex.DecodeString(h); err == nil && len(hb) == 32 {
				s.seq, s.prev = seq, hb
			}
		}
	}
	if rows := s.q.tailEvents(s.opts.Exporter, s.seq); len(rows) > 0 {
		s.advance(rows)
	}
	if s.seq > 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := exporterStream(s.opts.Exporter) + " kind:=event"
	var rows []row
	err := s.cl.query(ctx, base+" hash:* | sort by (seq desc) | limit 1", func(r row) bool { rows = append(rows, r); return false })
	if err == nil {
		after := int64(0)
		if len(rows) > 0 {
			after = rows[0].int("seq")
		}
		err = s.cl.query(ctx, base+" seq:>"+strconv.FormatInt(after, 10)+" | sort by (seq) | limit "+strconv.Itoa(4*checkpointEvery), func(r row) bool {
			rows = append(rows, r)
			return true
		})
	}
	if err != nil {
		s.log.Warn("victorialogs: cannot read this exporter's chain head; a new chain starts", "exporter", s.opts.Exporter, "err", err)
		return
	}
	s.advance(rows)
}

// advance moves the chain head over event records in sequence order: a
// record with its full hash is taken as it is, the next record after the
// head is hashed on.
func (s *Store) advance(rows []row) {
	for _, r := range rows {
		seq := r.int("seq")
		if seq <= s.seq {
			continue
		}
		if hb, ok := r.fullHash(); ok {
			s.seq, s.prev = seq, hb
			continue
		}
		t, err := r.time()
		if seq != s.seq+1 || err != nil {
			s.log.Warn("victorialogs: the chain head cannot be recovered past a gap", "exporter", s.opts.Exporter, "head", s.seq, "next", seq)
			return
		}
		h := r.rowHash(s.prev, t, seq)
		s.seq, s.prev = seq, h[:]
	}
}

func (s *Store) saveHead(seq int64, h []byte) {
	tmp := s.headPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(seq, 10)+" "+hex.EncodeToString(h)+"\n"), 0o640); err == nil {
		_ = os.Rename(tmp, s.headPath())
	}
}

// Consume implements pipeline.Sink: it applies the storage policy, redacts,
// chains and appends the event (and its detections) to the on-disk queue.
// When the queue is full it waits for at most Options.BlockWait and then
// drops the event, counted in Stats().Dropped and logged: the exporter
// calls it for network sources, which cannot be slowed down.
func (s *Store) Consume(ev *event.Event) { _ = s.consume(context.Background(), s.opts.BlockWait, ev) }

// ConsumeWait implements store.Waiter (file and replay sources): Consume
// that waits for room in the queue for as long as it takes. It fails, and
// counts the event as dropped, only if ctx ends or the store closes first.
func (s *Store) ConsumeWait(ctx context.Context, ev *event.Event) error {
	return s.consume(ctx, -1, ev)
}

func (s *Store) consume(ctx context.Context, wait time.Duration, ev *event.Event) error {
	if !s.opts.Policy.Keep(ev) {
		s.skipped.Add(1)
		return nil
	}
	if s.closing.Load() {
		s.dropped.Add(1)
		return errClosed
	}
	var deadline time.Time
	if wait >= 0 {
		deadline = time.Now().Add(wait)
	}
	for {
		// Room first, without holding the chain: a file source blocked on
		// a full queue must not hold up a network source's drop.
		rem := time.Duration(-1)
		if wait >= 0 {
			rem = max(time.Until(deadline), 0)
		}
		if err := s.q.waitRoom(ctx, rem); err != nil {
			return s.dropErr(ctx, err)
		}
		s.mu.Lock()
		c := *ev
		if ms, ok := idTime(c.ID); !ok || ms != c.Time.UnixMilli() {
			c.ID = s.ids.Next(c.Time)
		}
		c.Statement, c.Raw, c.Reason = cleanUTF8(redact.String(c.Statement)), cleanUTF8(redact.String(c.Raw)), cleanUTF8(redact.String(c.Reason))
		seq := s.seq + 1
		b, h := s.enc.appendEvent(s.buf[:0], &c, s.opts.Exporter, s.xk, seq, s.prev)
		// The detections of the event, whole (Hits) or by rule name.
		tb, _ := idTB(c.ID)
		if len(c.Hits) > 0 {
			for j := range c.Hits {
				d := c.Hits[j]
				if d.Time.IsZero() {
					d.Time = c.Time
				}
				if d.EventID == "" {
					d.EventID = c.ID
				}
				d.Message = redact.String(d.Message)
				d.Entity = redact.String(d.Entity)
				b = appendDetection(b, &d, s.opts.Exporter, s.xk, c.ID+"-"+strconv.Itoa(j), tb*64+uint64(j%64))
			}
		} else {
			for j, r := range c.Detections {
				d := store.Detection{Time: c.Time, Rule: r, Source: c.Source, User: c.User, ClientIP: c.ClientIP, EventID: c.ID}
				b = appendDetection(b, &d, s.opts.Exporter, s.xk, c.ID+"-"+strconv.Itoa(j), tb*64+uint64(j%64))
			}
		}
		s.buf = b
		err := s.q.appendWait(ctx, 0, b, seq)
		if err == nil {
			s.seq = seq
			copy(s.prev, h[:])
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		if !errors.Is(err, errQueueFull) {
			return s.dropErr(ctx, err)
		}
		// Filled up since the wait: wait again.
	}
}

// dropErr counts an event that could not be queued and returns why.
func (s *Store) dropErr(ctx context.Context, err error) error {
	n := s.dropped.Add(1)
	switch {
	case errors.Is(err, errQueueFull):
		if n <= 10 || n&(n-1) == 0 {
			s.log.Warn("victorialogs: the on-disk queue is full; an event of a network source was dropped", "dropped_so_far", n,
				"hint", "VictoriaLogs is unreachable or slower than the sources; file sources wait instead")
		}
	case errors.Is(err, errClosed), ctx.Err() != nil:
	default:
		s.noteErr(err)
	}
	return err
}

var _ store.Waiter = (*Store)(nil)

func appendDetection(b []byte, d *store.Detection, exporter, xk, did string, tb uint64) []byte {
	fs := detectionFields(nil, d, exporter, xk, did, tb)
	for i := range fs {
		fs[i].v = cleanUTF8(fs[i].v)
	}
	return appendRecord(b, d.Time, "detection "+d.Rule, fs)
}

func (s *Store) noteErr(err error) {
	s.werrs.Add(1)
	s.lastErr.Store(err.Error())
}

// AddDetections stores detections not tied to a stored event. Message and
// entity are redacted; ID is assigned.
func (s *Store) AddDetections(_ context.Context, ds []store.Detection) error {
	var b []byte
	for i := range ds {
		d := ds[i]
		if d.Rule == "" {
			return errors.New("add detection: rule is empty")
		}
		id := s.ids.Next(d.Time)
		tb, _ := idTB(id)
		d.Message, d.Entity = redact.String(d.Message), redact.String(d.Entity)
		b = appendDetection(b, &d, s.opts.Exporter, s.xk, id, tb*64)
	}
	if len(b) == 0 {
		return nil
	}
	return s.q.append(b, 0)
}

// gen returns a new findings generation: increasing within the process and
// across restarts (it starts from the clock).
func (s *Store) gen() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := max(time.Now().UnixNano(), s.genLast+1)
	s.genLast = g
	return fmt.Sprintf("%020d", g)
}

// PutFindings replaces the current findings of target: a findings record
// opens a new generation, and the finding records of that generation are
// the target's findings from then on.
func (s *Store) PutFindings(_ context.Context, target string, at time.Time, fs []finding.Finding) error {
	g := s.gen()
	b := appendRecord(nil, at, "findings "+target, []kv{{"exporter", s.opts.Exporter}, {"gen", g}, {"kind", kindFindings}, {"n", strconv.Itoa(len(fs))}, {"target", target}})
	for i := range fs {
		f := fs[i]
		if f.Target == "" {
			f.Target = target
		}
		doc, err := jsonMarshal(&f)
		if err != nil {
			return fmt.Errorf("put findings: %w", err)
		}
		b = appendRecord(b, at, "finding "+f.RuleID, []kv{{"doc", doc}, {"exporter", s.opts.Exporter}, {"gen", g}, {"idx", strconv.Itoa(i)},
			{"kind", kindFinding}, {"rule", f.RuleID}, {"severity", f.Severity.String()}, {"status", string(f.Status)}, {"target", target}})
	}
	return s.q.append(b, 0)
}

// AddDriftChanges records drift changes seen at time at (values redacted
// again; secret values never stored).
func (s *Store) AddDriftChanges(_ context.Context, at time.Time, cs []store.DriftChange) error {
	var b []byte
	for i := range cs {
		c := cs[i]
		if c.Time.IsZero() {
			c.Time = at
		}
		c.Old, c.New = redact.String(c.Old), redact.String(c.New)
		if c.Secret {
			c.Old, c.New = "", ""
		}
		doc, err := jsonMarshal(&c)
		if err != nil {
			return err
		}
		id := s.ids.Next(c.Time)
		tb, _ := idTB(id)
		b = appendRecord(b, c.Time, "drift "+c.Target+" "+c.Key, []kv{{"cid", id}, {"doc", doc}, {"exporter", s.opts.Exporter}, {"kind", kindDrift},
			{"target", c.Target}, {"tb", strconv.FormatUint(tb, 10)}, {"xk", s.xk}})
	}
	if len(b) == 0 {
		return nil
	}
	return s.q.append(b, 0)
}

// sealer seals the open segment after FlushInterval.
func (s *Store) sealer() {
	t := time.NewTicker(max(s.opts.FlushInterval/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.q.sealIfOlder(s.opts.FlushInterval)
		}
	}
}

// sender posts sealed segments oldest first, retrying with backoff, and
// deletes each once VictoriaLogs has acknowledged it.
func (s *Store) sender() {
	backoff := 100 * time.Millisecond
	stopped := func() bool {
		select {
		case <-s.stop:
			return true
		default:
			return false
		}
	}
	var failedN uint64 // the segment whose last attempt failed
	for {
		seg, data, ok, err := s.q.next(stopped)
		if !ok {
			return
		}
		if err == nil && (seg.recovered || seg.n == failedN) {
			// The earlier attempt may have been stored: say so first.
			err = s.markResend(context.Background(), data)
		}
		if err == nil {
			err = s.cl.insert(context.Background(), data)
		}
		if err != nil {
			failedN = seg.n
			s.noteErr(err)
			s.log.Warn("victorialogs: insert failed; the batch stays queued", "records", countLines(data), "retry_in", backoff, "err", err)
			select {
			case <-s.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, s.opts.MaxBackoff)
			continue
		}
		backoff = 100 * time.Millisecond
		s.stored.Add(seg.events)
		s.mu.Lock()
		seq, h := s.seq, slices.Clone(s.prev)
		s.mu.Unlock()
		s.q.sent(seg)
		s.saveHead(seq, h)
	}
}

// verifier deletes sent segments once VictoriaLogs has kept all of their
// events for VerifyAfter, and sends a segment again when events are missing.
func (s *Store) verifier() {
	t := time.NewTicker(max(s.opts.VerifyAfter/5, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.verify(context.Background(), false)
		}
	}
}

// verify checks the sent segments (all of them with force, else those
// sent VerifyAfter ago) and sends incomplete ones again. It returns
// whether every segment checked was complete.
func (s *Store) verify(ctx context.Context, force bool) bool {
	s.verifyMu.Lock()
	defer s.verifyMu.Unlock()
	complete := true
	for _, seg := range s.q.toVerify() {
		old := time.Since(seg.ackedAt) >= s.opts.VerifyAfter
		if !force && !old {
			continue
		}
		ok := true
		if seg.events > 0 {
			var n int64 = -1
			q := exporterStream(s.opts.Exporter) + " kind:=event" + " seq:range[" + strconv.FormatInt(seg.lo, 10) + ", " + strconv.FormatInt(seg.hi, 10) + "] | stats count_uniq(seq) n"
			if err := s.cl.query(ctx, q, func(r row) bool { n = r.int("n"); return false }); err != nil {
				return false // try again later
			}
			ok = n >= seg.events
		}
		if !ok {
			complete = false
			data, err := s.q.read(seg)
			if err == nil {
				err = s.markResend(ctx, data)
			}
			if err == nil {
				err = s.cl.insert(ctx, data)
			}
			if err != nil {
				s.noteErr(err)
				return false
			}
			s.resent.Add(seg.events)
			s.log.Warn("victorialogs: a sent batch is incomplete in storage (a storage node lost it); sent again", "events", seg.events, "first_seq", seg.lo)
			seg.ackedAt, seg.verified = time.Now(), false
			s.q.update(seg)
			continue
		}
		if old {
			s.q.remove(seg)
			continue
		}
		seg.verified = true
		s.q.update(seg)
	}
	return complete
}

// markResend records, before a batch is sent again, that records in its
// time range may be stored twice. Aggregations over a range without such
// a marker count records; with one they count distinct ids.
func (s *Store) markResend(ctx context.Context, data []byte) error {
	lo, hi, ok := timeSpan(data)
	if !ok {
		return nil
	}
	b := appendRecord(nil, time.Unix(0, lo), "resend", []kv{{"exporter", s.opts.Exporter}, {"hi", strconv.FormatInt(hi, 10)},
		{"kind", kindResend}, {"lo", strconv.FormatInt(lo, 10)}})
	return s.cl.insert(ctx, b)
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

// Flush returns once everything appended before the call is in
// VictoriaLogs and searchable (or ctx ends).
func (s *Store) Flush(ctx context.Context) error {
	s.q.seal()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !s.q.empty() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("victorialogs flush: %w (last error: %s)", ctx.Err(), s.lastError())
		case <-t.C:
		}
	}
	s.cl.forceFlush(ctx)
	// Every sent batch must be complete in storage (sending it again
	// otherwise), then this exporter's newest event must answer queries.
	for !s.verify(ctx, true) || !s.q.allVerified() {
		s.cl.forceFlush(ctx)
		select {
		case <-ctx.Done():
			return fmt.Errorf("victorialogs flush: sent batches not found complete: %w (last error: %s)", ctx.Err(), s.lastError())
		case <-t.C:
		}
	}
	s.mu.Lock()
	seq := s.seq
	s.mu.Unlock()
	if seq == 0 {
		return nil
	}
	q := exporterStream(s.opts.Exporter) + " kind:=event" + " seq:=" + strconv.FormatInt(seq, 10) + " | limit 1 | fields seq"
	for {
		found := false
		if err := s.cl.query(ctx, q, func(row) bool { found = true; return false }); err != nil {
			return err
		}
		if found {
			return nil
		}
		s.cl.forceFlush(ctx)
		select {
		case <-ctx.Done():
			return fmt.Errorf("victorialogs flush: event %d not searchable: %w", seq, ctx.Err())
		case <-t.C:
		}
	}
}

func (s *Store) lastError() string {
	v, _ := s.lastErr.Load().(string)
	return v
}

// Close stops accepting events and tries to send what is queued until ctx
// ends; what is left stays on disk and is sent by the next start.
func (s *Store) Close(ctx context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	s.closing.Store(true)
	s.q.release()
	// A barrier: wait for a Consume in progress (a full queue no longer
	// blocks it).
	s.mu.Lock()
	//lint:ignore SA2001 the empty critical section is the barrier
	s.mu.Unlock()
	s.q.seal()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var err error
wait:
	for !s.q.empty() {
		select {
		case <-ctx.Done():
			bytes, events := s.q.stats()
			err = fmt.Errorf("victorialogs: %d events (%d bytes) stay queued for the next start: %w", events, bytes, ctx.Err())
			break wait
		case <-t.C:
		}
	}
	close(s.stop)
	s.q.close()
	s.wg.Wait()
	return err
}

// Stats returns the counters, the queue and, from VictoriaLogs, the number
// and time range of the fleet's events (refreshed in the background at most
// every 15 s, so that a scrape never waits for a query).
func (s *Store) Stats() store.Stats {
	qb, qe := s.q.stats()
	st := store.Stats{Queued: qe, Stored: s.stored.Load(), Dropped: s.dropped.Load(), Skipped: s.skipped.Load(), Errors: s.werrs.Load(),
		LastError: s.lastError(), Bytes: qb}
	s.statsMu.Lock()
	st.Events, st.Oldest, st.Newest = s.fleet.Events, s.fleet.Oldest, s.fleet.Newest
	refresh := !s.fleetBusy && time.Since(s.fleetAt) > 15*time.Second && !s.closed.Load()
	if refresh {
		s.fleetBusy = true
	}
	s.statsMu.Unlock()
	if refresh {
		go s.refreshFleet()
	}
	return st
}

func (s *Store) refreshFleet() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var f store.Stats
	err := s.cl.query(ctx, "kind:=event | stats count() n, min(_time) lo, max(_time) hi", func(r row) bool {
		f.Events = r.int("n")
		f.Oldest, _ = time.Parse(time.RFC3339Nano, r["lo"])
		f.Newest, _ = time.Parse(time.RFC3339Nano, r["hi"])
		return false
	})
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.fleetBusy = false
	s.fleetAt = time.Now()
	if err == nil {
		s.fleet = f
	}
}
