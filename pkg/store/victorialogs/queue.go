package victorialogs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// queue is the bounded on-disk queue between Consume and VictoriaLogs:
// numbered segment files of JSON lines in one directory. Records are
// appended to the open segment with one write per call (so a killed
// process loses nothing it has returned from); a segment is sealed when it
// reaches the batch size or the flush interval, and the sender posts
// sealed segments oldest first, deleting each only after VictoriaLogs
// acknowledged it and a later query found every event of it (VictoriaLogs
// keeps the newest data in memory for a few seconds: a storage node killed
// then loses what it had acknowledged, and the segment is sent again).
// Whatever is on disk at start is sent first.
type queue struct {
	dir      string
	maxBytes int64
	segMax   int64
	segRecs  int

	mu       sync.Mutex
	cond     *sync.Cond // signalled when bytes shrink, a segment is sealed, or on close
	cur      segWriter
	curN     uint64 // number of the open segment (0: none)
	curBytes int64
	curRecs  int
	curEvs   int64
	curSince time.Time
	curLo    int64
	curHi    int64
	nextN    uint64
	sealed   []segment // to send, oldest first
	acked    []segment // sent, to verify
	bytes    int64     // on disk: open, sealed and acked
	events   int64     // event records not yet acknowledged
	closed   bool
	overflow bool // at shutdown: appends in progress pass the bound
	sealErrs int
}

// segment is a sealed file; lo and hi are the sequence numbers of its
// first and last event (0 without events).
type segment struct {
	n        uint64
	bytes    int64
	events   int64
	lo, hi   int64
	ackedAt  time.Time
	verified bool // every event was found at least once
	// recovered: left by an earlier run, which may have sent it.
	recovered bool
}

const eventMarker = `,"kind":"event"`

func openQueue(dir string, maxBytes, segMax int64, segRecs int) (*queue, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("victorialogs queue: %w", err)
	}
	q := &queue{dir: dir, maxBytes: maxBytes, segMax: segMax, segRecs: segRecs, nextN: 1}
	q.cond = sync.NewCond(&q.mu)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("victorialogs queue: %w", err)
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		path := q.path(n)
		seg, err := recoverSegment(path, n)
		if err != nil {
			return nil, err
		}
		if seg.bytes == 0 {
			_ = os.Remove(path)
			continue
		}
		q.sealed = append(q.sealed, seg)
		q.bytes += seg.bytes
		q.events += seg.events
		q.nextN = max(q.nextN, n+1)
	}
	slices.SortFunc(q.sealed, func(a, b segment) int { return int(a.n - b.n) })
	return q, nil
}

// recoverSegment counts a segment left by an earlier run and cuts a torn
// last line.
func recoverSegment(path string, n uint64) (segment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return segment{}, fmt.Errorf("victorialogs queue: %w", err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i+1 != len(b) {
		b = b[:i+1]
		if err := os.WriteFile(path, b, 0o640); err != nil {
			return segment{}, fmt.Errorf("victorialogs queue: %w", err)
		}
	}
	seg := segment{n: n, bytes: int64(len(b)), recovered: true}
	for line := range bytes.Lines(b) {
		if !bytes.Contains(line, []byte(eventMarker)) {
			continue
		}
		seg.events++
		if seq := lineSeq(line); seq > 0 {
			if seg.lo == 0 || seq < seg.lo {
				seg.lo = seq
			}
			seg.hi = max(seg.hi, seq)
		}
	}
	return seg, nil
}

// lineSeq is the seq field of an event record line.
func lineSeq(line []byte) int64 {
	const key = `,"seq":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return 0
	}
	rest := line[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return 0
	}
	v, _ := strconv.ParseInt(string(rest[:j]), 10, 64)
	return v
}

func (q *queue) path(n uint64) string { return filepath.Join(q.dir, fmt.Sprintf("%016d.jsonl", n)) }

var (
	errClosed    = errors.New("victorialogs: store closed")
	errQueueFull = errors.New("victorialogs: the on-disk queue is full")
)

// append writes records (whole lines). With seq > 0 they hold one event
// record with that sequence number. It blocks while the queue is full, and
// fails once the queue is closed.
func (q *queue) append(b []byte, seq int64) error {
	return q.appendWait(context.Background(), -1, b, seq)
}

// appendWait is append that gives up with errQueueFull (or ctx's error)
// once the queue has been full for wait (wait < 0: no limit) or ctx is
// done.
func (q *queue) appendWait(ctx context.Context, wait time.Duration, b []byte, seq int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.waitRoomLocked(ctx, wait); err != nil {
		return err
	}
	return q.appendLocked(b, seq)
}

// waitRoom waits until the queue has room (or is closed or released),
// for at most wait (wait < 0: no limit) and until ctx is done.
func (q *queue) waitRoom(ctx context.Context, wait time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waitRoomLocked(ctx, wait)
}

func (q *queue) waitRoomLocked(ctx context.Context, wait time.Duration) error {
	if q.bytes >= q.maxBytes && !q.closed && !q.overflow {
		if wait == 0 {
			return errQueueFull
		}
		var expired atomic.Bool
		wake := func() {
			expired.Store(true)
			q.mu.Lock()
			q.cond.Broadcast()
			q.mu.Unlock()
		}
		if wait >= 0 {
			t := time.AfterFunc(wait, wake)
			defer t.Stop()
		}
		defer context.AfterFunc(ctx, wake)()
		for q.bytes >= q.maxBytes && !q.closed && !q.overflow {
			if expired.Load() {
				if err := ctx.Err(); err != nil {
					return err
				}
				return errQueueFull
			}
			q.cond.Wait()
		}
	}
	return nil
}

func (q *queue) appendLocked(b []byte, seq int64) error {
	if q.closed {
		return errClosed
	}
	if q.cur != nil && q.curBytes+int64(len(b)) > q.segMax {
		q.sealLocked()
	}
	if q.cur == nil {
		n := q.nextN
		w, err := openSegment(q.path(n), max(q.segMax, int64(len(b))))
		if err != nil {
			return fmt.Errorf("victorialogs queue: %w", err)
		}
		q.nextN++
		q.cur, q.curN, q.curBytes, q.curRecs, q.curEvs, q.curSince, q.curLo, q.curHi = w, n, 0, 0, 0, time.Now(), 0, 0
	}
	if err := q.cur.write(b); err != nil {
		return fmt.Errorf("victorialogs queue: %w", err)
	}
	q.curBytes += int64(len(b))
	q.bytes += int64(len(b))
	q.curRecs += bytes.Count(b, []byte{'\n'})
	if seq > 0 {
		q.curEvs++
		q.events++
		if q.curLo == 0 {
			q.curLo = seq
		}
		q.curHi = seq
	}
	if q.curBytes >= q.segMax || q.curRecs >= q.segRecs {
		q.sealLocked()
	}
	return nil
}

// sealLocked closes the open segment and hands it to the sender.
func (q *queue) sealLocked() {
	if q.cur == nil {
		return
	}
	if err := q.cur.close(); err != nil {
		q.sealErrs++
	}
	q.sealed = append(q.sealed, segment{n: q.curN, bytes: q.curBytes, events: q.curEvs, lo: q.curLo, hi: q.curHi})
	q.cur = nil
	q.cond.Broadcast()
}

// sealIfOlder seals the open segment once it is older than d.
func (q *queue) sealIfOlder(d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cur != nil && time.Since(q.curSince) >= d {
		q.sealLocked()
	}
}

func (q *queue) seal() {
	q.mu.Lock()
	q.sealLocked()
	q.mu.Unlock()
}

// next waits for the oldest sealed segment and reads it. ok is false once
// the queue is closed and stop says so.
func (q *queue) next(stop func() bool) (seg segment, data []byte, ok bool, err error) {
	q.mu.Lock()
	for len(q.sealed) == 0 {
		if stop() {
			q.mu.Unlock()
			return segment{}, nil, false, nil
		}
		q.cond.Wait()
	}
	seg = q.sealed[0]
	q.mu.Unlock()
	data, err = os.ReadFile(q.path(seg.n))
	return seg, data, true, err
}

// sent moves an acknowledged segment to the segments to verify.
func (q *queue) sent(seg segment) {
	q.mu.Lock()
	if len(q.sealed) > 0 && q.sealed[0].n == seg.n {
		q.sealed = q.sealed[1:]
	}
	seg.ackedAt = time.Now()
	q.acked = append(q.acked, seg)
	q.events -= seg.events
	q.cond.Broadcast()
	q.mu.Unlock()
}

// toVerify returns the acknowledged segments.
func (q *queue) toVerify() []segment {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.acked)
}

// update records a verification or a new send of an acknowledged segment.
func (q *queue) update(seg segment) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.acked {
		if q.acked[i].n == seg.n {
			q.acked[i] = seg
		}
	}
}

// remove deletes a verified segment.
func (q *queue) remove(seg segment) {
	_ = os.Remove(q.path(seg.n))
	q.mu.Lock()
	q.acked = slices.DeleteFunc(q.acked, func(x segment) bool { return x.n == seg.n })
	q.bytes -= seg.bytes
	q.cond.Broadcast()
	q.mu.Unlock()
}

func (q *queue) read(seg segment) ([]byte, error) { return os.ReadFile(q.path(seg.n)) }

// empty reports whether nothing waits to be sent (acknowledged segments
// may still wait for verification).
func (q *queue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.cur == nil && len(q.sealed) == 0
}

// allVerified reports whether every acknowledged segment was verified once.
func (q *queue) allVerified() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, s := range q.acked {
		if !s.verified {
			return false
		}
	}
	return true
}

func (q *queue) stats() (bytes, events int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes, q.events
}

// close seals the open segment and wakes every waiter; appends fail after.
func (q *queue) close() {
	q.mu.Lock()
	q.sealLocked()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// release lets appends waiting for room proceed past the bound (at
// shutdown, so that an event already handed to the store is kept).
func (q *queue) release() {
	q.mu.Lock()
	q.overflow = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// tailEvents returns, oldest first, the event records on disk (in
// sealed segments) of the given exporter with a sequence number above
// after, back to the newest one that stores its full chain hash: what
// the chain head at start is recomputed from.
func (q *queue) tailEvents(exporter string, after int64) []row {
	q.mu.Lock()
	segs := slices.Clone(q.sealed)
	q.mu.Unlock()
	var out []row // newest first
	for i := len(segs) - 1; i >= 0; i-- {
		f, err := os.Open(q.path(segs[i].n))
		if err != nil {
			continue
		}
		var rows []row
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), maxLine)
		for sc.Scan() {
			if !bytes.Contains(sc.Bytes(), []byte(eventMarker)) || lineSeq(sc.Bytes()) <= after {
				continue
			}
			if r, err := parseRow(sc.Bytes()); err == nil && r["exporter"] == exporter {
				rows = append(rows, r)
			}
		}
		f.Close()
		for j := len(rows) - 1; j >= 0; j-- {
			out = append(out, rows[j])
			if _, full := rows[j].fullHash(); full {
				slices.Reverse(out)
				return out
			}
		}
	}
	slices.Reverse(out)
	return out
}

func parseRow(b []byte) (row, error) {
	r := row{}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return r, nil
}

// timeSpan returns the first and last record time of a segment's lines
// (Unix nanoseconds), from the _time that every line starts with.
func timeSpan(data []byte) (lo, hi int64, ok bool) {
	const prefix = `{"_time":"`
	for line := range bytes.Lines(data) {
		if !bytes.HasPrefix(line, []byte(prefix)) {
			continue
		}
		rest := line[len(prefix):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
		if err != nil {
			continue
		}
		ns := t.UnixNano()
		if !ok || ns < lo {
			lo = ns
		}
		if !ok || ns > hi {
			hi = ns
		}
		ok = true
	}
	return lo, hi, ok
}
