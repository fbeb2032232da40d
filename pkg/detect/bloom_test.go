package detect

import (
	"math/rand/v2"
	"testing"
)

// TestBloomPositions checks that positions visits the bits probe visits
// (the persisted filters depend on them), and hasAt answers as has.
func TestBloomPositions(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, words := range []int{1, 3, 7, 1000, 15625, 1 << 20, 123457} {
		b := &bloom{Bits: make([]uint64, words), K: 7}
		for range 2000 {
			h := r.Uint64()
			var want []uint64
			b.probe(h, func(i uint64) bool { want = append(want, i); return true })
			var pos [maxProbes]uint64
			b.positions(h, &pos)
			for i, w := range want {
				if pos[i] != w {
					t.Fatalf("words %d h %#x probe %d: %d, want %d", words, h, i, pos[i], w)
				}
			}
		}
	}
	b := newBloom(1000, 0.01)
	for h := range uint64(500) {
		b.add(h * 0x9e3779b97f4a7c15)
	}
	for h := range uint64(2000) {
		var pos [maxProbes]uint64
		b.positions(h*0x9e3779b97f4a7c15, &pos)
		if b.hasAt(&pos) != b.has(h*0x9e3779b97f4a7c15) {
			t.Fatalf("hasAt differs from has at %d", h)
		}
	}
}
