package detect

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"strings"
	"time"
)

// tracker is an exact map from entity key to state with a hard cap, LRU
// eviction and a TTL (both in event time). When it is full, a new key is
// admitted only after a count-min sketch has seen it `admit` times, so that
// a stream of one-off entities (1 M distinct IPs) cannot flush the entities
// that matter. Not safe for concurrent use (the Detector locks).
type tracker[T any] struct {
	name      string
	cap       int
	ttl       int64 // ns
	m         map[string]*tnode[T]
	head      *tnode[T] // most recent
	tail      *tnode[T]
	cms       *cms
	admit     uint32
	evictions uint64
	rejected  uint64
}

type tnode[T any] struct {
	key        string
	last       int64
	prev, next *tnode[T]
	v          T
}

func newTracker[T any](name string, capacity int, ttl time.Duration) *tracker[T] {
	return &tracker[T]{name: name, cap: capacity, ttl: int64(ttl), m: make(map[string]*tnode[T]), cms: newCMS(ttl), admit: 2}
}

// get returns the state of key, creating it (zero value) when absent and
// admitted; nil means the key is not tracked (sketch only). A state older
// than the TTL is reset.
func (t *tracker[T]) get(key string, now int64) *T {
	if n, ok := t.m[key]; ok {
		if now-n.last > t.ttl {
			var zero T
			n.v = zero
		}
		if now > n.last {
			n.last = now
		}
		t.moveFront(n)
		return &n.v
	}
	t.expire(now, 4)
	if len(t.m) >= t.cap {
		if t.cms.add(key, now) < t.admit {
			t.rejected++
			return nil
		}
		t.evict(t.tail)
		t.evictions++
	}
	// The caller's key may be a view of a scratch buffer (Detector.consume
	// builds keys without allocating): the tracker keeps its own copy.
	n := &tnode[T]{key: strings.Clone(key), last: now}
	t.m[n.key] = n
	t.pushFront(n)
	return &n.v
}

// peek returns the state of key without creating it.
func (t *tracker[T]) peek(key string, now int64) *T {
	if n, ok := t.m[key]; ok && now-n.last <= t.ttl {
		return &n.v
	}
	return nil
}

// expire drops up to max entries older than the TTL from the LRU end.
func (t *tracker[T]) expire(now int64, max int) {
	for i := 0; i < max && t.tail != nil && now-t.tail.last > t.ttl; i++ {
		t.evict(t.tail)
	}
}

func (t *tracker[T]) evict(n *tnode[T]) {
	if n == nil {
		return
	}
	t.unlink(n)
	delete(t.m, n.key)
}

func (t *tracker[T]) pushFront(n *tnode[T]) {
	n.prev, n.next = nil, t.head
	if t.head != nil {
		t.head.prev = n
	}
	t.head = n
	if t.tail == nil {
		t.tail = n
	}
}

func (t *tracker[T]) unlink(n *tnode[T]) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		t.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		t.tail = n.prev
	}
	n.prev, n.next = nil, nil
}

func (t *tracker[T]) moveFront(n *tnode[T]) {
	if t.head == n {
		return
	}
	t.unlink(n)
	t.pushFront(n)
}

func (t *tracker[T]) len() int { return len(t.m) }

// cms is a count-min sketch (4 × 8192 uint16) whose counters halve every
// TTL of event time, so that old sightings fade.
type cms struct {
	seed    maphash.Seed
	rows    [4][8192]uint16
	decay   int64
	decayAt int64
}

func newCMS(ttl time.Duration) *cms { return &cms{seed: maphash.MakeSeed(), decay: int64(ttl)} }

func (c *cms) add(key string, now int64) uint32 {
	if c.decayAt == 0 {
		c.decayAt = now + c.decay
	}
	if now > c.decayAt {
		for r := range c.rows {
			for i := range c.rows[r] {
				c.rows[r][i] >>= 1
			}
		}
		c.decayAt = now + c.decay
	}
	h := maphash.String(c.seed, key)
	min := uint32(math.MaxUint32)
	for r := range c.rows {
		i := (h >> (16 * r)) & 8191
		if c.rows[r][i] < math.MaxUint16 {
			c.rows[r][i]++
		}
		if v := uint32(c.rows[r][i]); v < min {
			min = v
		}
	}
	return min
}

// stamp is one event in a window: its time and id (evidence).
type stamp struct {
	t  int64
	id string
}

// ring keeps the last n stamps of an entity.
type ring struct {
	s    []stamp
	next int
	full bool
}

func (r *ring) add(n int, t int64, id string) {
	if n < 1 {
		n = 1
	}
	if len(r.s) != n {
		r.s = make([]stamp, n)
		r.next, r.full = 0, false
	}
	r.s[r.next] = stamp{t, id}
	r.next++
	if r.next == n {
		r.next, r.full = 0, true
	}
}

// count returns how many stamps are at or after since.
func (r *ring) count(since int64) int {
	c := 0
	for i, s := range r.s {
		if !r.full && i >= r.next {
			break
		}
		if s.t >= since {
			c++
		}
	}
	return c
}

// ids returns the ids of stamps at or after since, oldest first.
func (r *ring) ids(since int64) []string {
	var out []string
	n := len(r.s)
	start := 0
	if r.full {
		start = r.next
	} else {
		n = r.next
	}
	for i := range n {
		s := r.s[(start+i)%len(r.s)]
		if s.t >= since && s.id != "" {
			out = append(out, s.id)
		}
	}
	return out
}

func (r *ring) reset() { r.s, r.next, r.full = nil, 0, false }

// smallSet is a set of up to 64 hashed values with a count each, for the
// distinct-count rules (thresholds are small, so exact is bounded).
type smallSet struct {
	start int64
	keys  []uint64
	cnt   []uint16
	total int
	ids   []string // evidence, at most 16
	fired bool
}

const smallSetCap = 64

func (s *smallSet) add(h uint64, now, window int64, id string) {
	if s.start == 0 || now-s.start > window {
		*s = smallSet{start: now, keys: s.keys[:0], cnt: s.cnt[:0], ids: s.ids[:0]}
	}
	s.total++
	if id != "" && len(s.ids) < 16 {
		s.ids = append(s.ids, id)
	}
	for i, k := range s.keys {
		if k == h {
			if s.cnt[i] < math.MaxUint16 {
				s.cnt[i]++
			}
			return
		}
	}
	if len(s.keys) < smallSetCap {
		s.keys = append(s.keys, h)
		s.cnt = append(s.cnt, 1)
	}
}

func (s *smallSet) distinct() int { return len(s.keys) }

func (s *smallSet) maxCount() int {
	m := 0
	for _, c := range s.cnt {
		m = max(m, int(c))
	}
	return m
}

// fnv64 is FNV-1a: stable across restarts, unlike maphash, so that
// persisted Bloom filters stay valid.
func fnv64(s string) uint64 { return fnvAdd(fnvOffset, s) }

const fnvOffset = 14695981039346656037

// fnvAdd continues the FNV-1a hash h over s: fnvAdd(fnvAdd(fnvOffset, a), b)
// is fnv64(a+b), without building a+b.
func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// bloom is a fixed-size Bloom filter with k probes by double hashing.
type bloom struct {
	Bits []uint64
	K    uint32
}

func newBloom(n int, p float64) *bloom {
	m := uint64(math.Ceil(-float64(n) * math.Log(p) / (math.Ln2 * math.Ln2)))
	m = (m + 63) &^ 63
	k := uint32(math.Round(float64(m) / float64(n) * math.Ln2))
	return &bloom{Bits: make([]uint64, m/64), K: max(k, 1)}
}

func (b *bloom) probe(h uint64, f func(i uint64) bool) bool {
	m := uint64(len(b.Bits)) * 64
	h1, h2 := h, mix64(h)|1
	for i := range uint64(b.K) {
		if !f((h1 + i*h2) % m) {
			return false
		}
	}
	return true
}

func (b *bloom) has(h uint64) bool {
	return b.probe(h, func(i uint64) bool { return b.Bits[i/64]&(1<<(i%64)) != 0 })
}

func (b *bloom) add(h uint64) {
	b.probe(h, func(i uint64) bool { b.Bits[i/64] |= 1 << (i % 64); return true })
}

func (b *bloom) clear() { clear(b.Bits) }

// maxProbes bounds the probes positions computes at once (newBloom makes 7
// for p = 0.01); a filter with more takes the probe path.
const maxProbes = 16

// positions computes the K bit positions probe visits for h, so that
// observe tests both generations and sets the current one from one
// computation.
func (b *bloom) positions(h uint64, pos *[maxProbes]uint64) {
	m := uint64(len(b.Bits)) * 64
	h1, h2 := h, mix64(h)|1
	for i := range uint64(b.K) {
		pos[i] = (h1 + i*h2) % m
	}
}

// hasAt reports whether every bit of pos (K of them) is set.
func (b *bloom) hasAt(pos *[maxProbes]uint64) bool {
	for _, i := range pos[:b.K] {
		if b.Bits[i/64]&(1<<(i%64)) == 0 {
			return false
		}
	}
	return true
}

// addAt sets the bits of pos (K of them).
func (b *bloom) addAt(pos *[maxProbes]uint64) {
	for _, i := range pos[:b.K] {
		b.Bits[i/64] |= 1 << (i % 64)
	}
}

// novelty answers "was this pair seen within the history?" with a
// generational Bloom pair: the current and the previous generation,
// rotated every history/2 of event time, so a pair is remembered for
// between history/2 and history. A false "seen" only misses a finding.
type novelty struct {
	name      string
	cur, prev *bloom
	// curHash and prevHash are the key hashes of the generations: a
	// generation restored from a state file of before hashWords keeps
	// fnv64 until it rotates out.
	curHash, prevHash keyHash
	buf               []byte // the key being hashed
	half              int64
	rotatedAt         int64
	started           int64 // first event time, for the learning period
	learning          int64
}

func newNovelty(name string, capacity int, history, learning time.Duration) *novelty {
	if history <= 0 {
		history = 14 * 24 * time.Hour
	}
	return &novelty{name: name, cur: newBloom(capacity, 0.01), prev: newBloom(capacity, 0.01), half: int64(history / 2), learning: int64(learning),
		curHash: hashWordsV, prevHash: hashWordsV}
}

// observe records the key made of parts (concatenated) at now and reports
// whether it was new.
func (n *novelty) observe(now int64, parts ...string) bool {
	if n.started == 0 {
		n.started = now
	}
	if n.rotatedAt == 0 {
		n.rotatedAt = now
	}
	if now-n.rotatedAt >= n.half {
		n.prev, n.cur = n.cur, n.prev
		n.prevHash, n.curHash = n.curHash, hashWordsV
		n.cur.clear()
		n.rotatedAt = now
	}
	h := n.hash(n.curHash, parts)
	hp := h
	if n.prevHash != n.curHash {
		hp = n.hash(n.prevHash, parts)
	}
	if hp != h || n.cur.K > maxProbes || n.prev.K != n.cur.K || len(n.prev.Bits) != len(n.cur.Bits) {
		if n.cur.has(h) {
			return false
		}
		seen := n.prev.has(hp)
		n.cur.add(h)
		return !seen
	}
	// Both generations have the same geometry: one set of positions.
	var pos [maxProbes]uint64
	n.cur.positions(h, &pos)
	if n.cur.hasAt(&pos) {
		return false
	}
	seen := n.prev.hasAt(&pos)
	n.cur.addAt(&pos)
	return !seen
}

// keyHash names the hash of a novelty generation's keys; it is persisted
// (0, the zero value, is what state files of before hashWords hold).
type keyHash uint8

const (
	hashFNV    keyHash = iota // fnv64 over the concatenated parts
	hashWordsV                // hashWords over the concatenated parts
)

// hash is the key of parts under k.
func (n *novelty) hash(k keyHash, parts []string) uint64 {
	if k == hashFNV {
		h := uint64(fnvOffset)
		for _, p := range parts {
			h = fnvAdd(h, p)
		}
		return h
	}
	b := n.buf[:0]
	for _, p := range parts {
		b = append(b, p...)
	}
	n.buf = b
	return hashWords(b)
}

// hashWords is a 64-bit hash of b that consumes 8 bytes a step (fnv64
// consumes one: it was most of novelty.observe). It is stable across
// processes and versions, as the persisted Bloom filters need.
func hashWords(b []byte) uint64 {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9
	h := uint64(len(b)) * m1
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		h = (h ^ w) * m2
		h ^= h >> 31
		b = b[8:]
	}
	if len(b) > 0 {
		var w uint64
		for i, c := range b {
			w |= uint64(c) << (8 * i)
		}
		h = (h ^ w) * m2
		h ^= h >> 31
	}
	return mix64(h ^ m1)
}

// learningAt reports whether the detector is still learning at now.
func (n *novelty) learningAt(now int64) bool {
	return n.started == 0 || now-n.started < n.learning
}

// baseline is an EWMA of per-window totals of one entity (D27/D28).
type baseline struct {
	winStart int64
	sum      float64
	mean     float64
	vari     float64
	windows  int
	fired    bool
	ids      []string
}

const ewmaAlpha = 0.1

// add accumulates v at now; completed windows update the EWMA (gaps count
// as zero windows, at most 32 of them).
func (b *baseline) add(v float64, now, window int64, id string) {
	if b.winStart == 0 {
		b.winStart = now
	}
	for k := 0; now-b.winStart >= window && k < 32; k++ {
		b.close()
		b.winStart += window
	}
	if now-b.winStart >= window {
		b.winStart = now
	}
	b.sum += v
	if id != "" && len(b.ids) < 8 {
		b.ids = append(b.ids, id)
	}
}

func (b *baseline) close() {
	x := b.sum
	if b.windows == 0 {
		b.mean = x
	} else {
		d := x - b.mean
		b.mean += ewmaAlpha * d
		b.vari = (1 - ewmaAlpha) * (b.vari + ewmaAlpha*d*d)
	}
	b.windows++
	b.sum, b.fired, b.ids = 0, false, b.ids[:0]
}

func (b *baseline) z() float64 {
	sd := math.Sqrt(b.vari)
	if sd < 1 {
		sd = 1
	}
	return (b.sum - b.mean) / sd
}
