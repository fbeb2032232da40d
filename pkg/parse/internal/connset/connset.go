// Package connset is a fixed-size set of connection ids for parsers that
// pair two records of one connection (a failed login logged twice, a
// FAILED_CONNECT and its DISCONNECT). It never allocates after the zero
// value and never grows: a full set of ways evicts its oldest entry, so a
// stream of ids that never come back cannot grow memory.
package connset

const (
	sets = 1024
	ways = 4 // capacity: 4096 connections in flight
)

type slot struct {
	id  uint64
	age uint64 // 0 = empty
}

// Set is the table. The zero value is empty and ready to use.
type Set struct {
	slots [sets * ways]slot
	clock uint64
}

func (s *Set) ways(id uint64) []slot {
	h := id * 0x9E3779B97F4A7C15
	return s.slots[(h>>54)%sets*ways:][:ways]
}

// Add adds id (a no-op when present).
func (s *Set) Add(id uint64) {
	set := s.ways(id)
	oldest := 0
	for i := range set {
		if set[i].age != 0 && set[i].id == id {
			oldest = i
			break
		}
		if set[i].age < set[oldest].age {
			oldest = i
		}
	}
	s.clock++
	set[oldest] = slot{id: id, age: s.clock}
}

// Remove reports whether id was present and removes it.
func (s *Set) Remove(id uint64) bool {
	set := s.ways(id)
	for i := range set {
		if set[i].age != 0 && set[i].id == id {
			set[i] = slot{}
			return true
		}
	}
	return false
}

// SeenOrAdd reports whether id is present (and removes it); otherwise it
// adds id and returns false.
func (s *Set) SeenOrAdd(id uint64) bool {
	if s.Remove(id) {
		return true
	}
	s.Add(id)
	return false
}
