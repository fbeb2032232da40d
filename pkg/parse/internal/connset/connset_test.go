package connset

import "testing"

func TestSet(t *testing.T) {
	var s Set
	if s.Remove(7) {
		t.Fatal("empty set has 7")
	}
	s.Add(7)
	s.Add(7)
	if !s.Remove(7) || s.Remove(7) {
		t.Fatal("7 not added once and removed once")
	}
	if s.SeenOrAdd(9) || !s.SeenOrAdd(9) || s.SeenOrAdd(9) {
		t.Fatal("SeenOrAdd: want false, true, false")
	}
	// A flood of ids that never come back is bounded: the newest ids of
	// each set survive, the oldest are evicted.
	for id := uint64(1); id <= 100000; id++ {
		s.Add(id)
	}
	kept := 0
	for id := uint64(1); id <= 100000; id++ {
		if s.Remove(id) {
			kept++
		}
	}
	if kept > sets*ways || kept < sets*ways/2 {
		t.Fatalf("kept %d of 100000, want at most %d and most of it used", kept, sets*ways)
	}
	if !testing.Short() {
		if n := testing.AllocsPerRun(100, func() { s.Add(42); s.Remove(42) }); n != 0 {
			t.Fatalf("%v allocations", n)
		}
	}
}
