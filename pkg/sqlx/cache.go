package sqlx

import (
	"hash/maphash"
	"sync"
)

// cache is a bounded map from a key (a fingerprint, or a dialect byte and
// a statement text) to an analysis, safe for concurrent use. It is bounded
// in entries and in bytes (the key and the analysis' strings), since log
// content is attacker controlled, and evicts with CLOCK (second chance): a
// hit only sets a bit, so hits do not move list elements under the lock.
// The map is split into shards by the key's hash to keep two workers from
// waiting on one lock.
type cache struct {
	seed   maphash.Seed
	shards []cacheShard
	mask   uint64
}

type cacheEntry struct {
	key  string
	val  *Analysis // nil: a fingerprint the fast path refuses
	size int
	ref  bool
	used bool
}

type cacheShard struct {
	mu       sync.Mutex
	m        map[string]int32
	ents     []cacheEntry
	free     []int32
	hand     int
	bytes    int
	maxEnts  int
	maxBytes int
	hits     uint64
	misses   uint64
	_        [64]byte // keep shards on their own cache lines
}

// entryOverhead approximates the map slot, the entry and the Analysis
// header of one entry.
const entryOverhead = 256

func newCache(entries, maxBytes int) *cache {
	n := 1
	if entries >= 1024 {
		n = 16
	}
	c := &cache{seed: maphash.MakeSeed(), shards: make([]cacheShard, n), mask: uint64(n - 1)}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.maxEnts = (entries + n - 1) / n
		sh.maxBytes = maxBytes / n
		sh.m = make(map[string]int32, min(sh.maxEnts, 4096))
	}
	return c
}

func (c *cache) shard(key []byte) *cacheShard {
	if c.mask == 0 {
		return &c.shards[0]
	}
	return &c.shards[maphash.Bytes(c.seed, key)&c.mask]
}

// get looks key up. A hit on a positive entry counts as a hit, an absent
// key as a miss; a negative entry (found, val nil) counts as neither.
func (c *cache) get(key []byte) (val *Analysis, found bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	i, ok := sh.m[string(key)]
	if !ok {
		sh.misses++
		sh.mu.Unlock()
		return nil, false
	}
	e := &sh.ents[i]
	e.ref = true
	val = e.val
	if val != nil {
		sh.hits++
	}
	sh.mu.Unlock()
	return val, true
}

// uncount takes back the miss counted by get for a key that then went to
// the text-keyed path (which counts its own).
func (c *cache) uncount(key []byte) {
	sh := c.shard(key)
	sh.mu.Lock()
	sh.misses--
	sh.mu.Unlock()
}

func analysisSize(a *Analysis) int {
	if a == nil {
		return 0
	}
	n := len(a.Digest) + len(a.Normalized)
	for _, s := range a.Tables {
		n += len(s) + 16
	}
	for _, s := range a.TargetUsers {
		n += len(s) + 16
	}
	for _, s := range a.Paths {
		n += len(s) + 16
	}
	for _, v := range a.Vars {
		n += len(v.Name) + len(v.Value) + 40
	}
	return n
}

// add stores val under key (copied).
func (c *cache) add(key []byte, val *Analysis) {
	size := entryOverhead + 2*len(key) + analysisSize(val)
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if size > sh.maxBytes {
		return
	}
	if i, ok := sh.m[string(key)]; ok {
		e := &sh.ents[i]
		sh.bytes += size - e.size
		e.val, e.size, e.ref = val, size, true
		return
	}
	for len(sh.m) > 0 && (len(sh.m) >= sh.maxEnts || sh.bytes+size > sh.maxBytes) {
		sh.evict()
	}
	e := cacheEntry{key: string(key), val: val, size: size, used: true}
	var i int32
	if n := len(sh.free); n > 0 {
		i = sh.free[n-1]
		sh.free = sh.free[:n-1]
		sh.ents[i] = e
	} else {
		i = int32(len(sh.ents))
		sh.ents = append(sh.ents, e)
	}
	sh.m[e.key] = i
	sh.bytes += size
}

// evict removes one entry: the first one under the hand whose reference
// bit is clear, clearing the bits it passes.
func (sh *cacheShard) evict() {
	for {
		if sh.hand >= len(sh.ents) {
			sh.hand = 0
		}
		e := &sh.ents[sh.hand]
		i := sh.hand
		sh.hand++
		if !e.used {
			continue
		}
		if e.ref {
			e.ref = false
			continue
		}
		delete(sh.m, e.key)
		sh.bytes -= e.size
		*e = cacheEntry{}
		sh.free = append(sh.free, int32(i))
		return
	}
}

func (c *cache) stats() (hits, misses uint64) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		hits += sh.hits
		misses += sh.misses
		sh.mu.Unlock()
	}
	return hits, misses
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

func (c *cache) sizeBytes() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += sh.bytes
		sh.mu.Unlock()
	}
	return n
}
