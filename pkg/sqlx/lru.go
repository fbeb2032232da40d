package sqlx

import (
	"container/list"
	"sync"
)

type lruKey struct {
	sql string
	d   Dialect
}

type lruEntry struct {
	key lruKey
	val *Analysis
}

// lru is a bounded least-recently-used map from statement text to its
// analysis, safe for concurrent use.
type lru struct {
	mu     sync.Mutex
	cap    int
	ll     *list.List
	m      map[lruKey]*list.Element
	hits   uint64
	misses uint64
}

func newLRU(n int) *lru {
	return &lru{cap: n, ll: list.New(), m: make(map[lruKey]*list.Element, n)}
}

func (c *lru) get(sql string, d Dialect) (*Analysis, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[lruKey{sql, d}]; ok {
		c.ll.MoveToFront(e)
		c.hits++
		return e.Value.(*lruEntry).val, true
	}
	c.misses++
	return nil, false
}

func (c *lru) add(sql string, d Dialect, a *Analysis) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := lruKey{sql, d}
	if e, ok := c.m[k]; ok {
		c.ll.MoveToFront(e)
		e.Value.(*lruEntry).val = a
		return
	}
	c.m[k] = c.ll.PushFront(&lruEntry{key: k, val: a})
	for c.ll.Len() > c.cap {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*lruEntry).key)
	}
}

func (c *lru) stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
