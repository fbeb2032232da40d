package detect

import "testing"

// BenchmarkBloomObserve compares the probe path (three passes, a division
// per probe) with positions (two divisions, one pass) on the pattern of
// novelty.observe: mostly seen keys, some new ones.
func BenchmarkBloomObserve(b *testing.B) {
	for _, name := range []string{"probe", "positions"} {
		b.Run(name, func(b *testing.B) {
			cur, prev := newBloom(100000, 0.01), newBloom(100000, 0.01)
			i := uint64(0)
			for b.Loop() {
				h := mix64(i % 50000)
				i++
				if name == "probe" {
					if !cur.has(h) {
						_ = prev.has(h)
						cur.add(h)
					}
					continue
				}
				var pos [maxProbes]uint64
				cur.positions(h, &pos)
				if !cur.hasAt(&pos) {
					_ = prev.hasAt(&pos)
					cur.addAt(&pos)
				}
			}
		})
	}
}
