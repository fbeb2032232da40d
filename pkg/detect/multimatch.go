package detect

import "strings"

// multiMatch finds which of a fixed set of lower-case patterns occur in a
// text in one pass, where a strings.Contains per pattern scans the text once
// for each. A table of the patterns' first two bytes filters the positions;
// only there are the patterns compared. Patterns are at least two bytes.
type multiMatch struct {
	pats  []string
	pair  [1 << 16 / 64]uint64 // bit set of first-two-byte pairs
	first [256][]uint8         // pattern indices by first byte
}

func newMultiMatch(pats []string) *multiMatch {
	if len(pats) > 64 {
		panic("multiMatch: more than 64 patterns")
	}
	m := &multiMatch{pats: pats}
	for i, p := range pats {
		if len(p) < 2 {
			panic("multiMatch: pattern shorter than two bytes: " + p)
		}
		k := uint16(p[0])<<8 | uint16(p[1])
		m.pair[k/64] |= 1 << (k % 64)
		m.first[p[0]] = append(m.first[p[0]], uint8(i))
	}
	return m
}

// set returns the bit set of the patterns that occur in s (bit i for
// pattern i); with stopAtFirst it returns as soon as one is found.
func (m *multiMatch) set(s string, stopAtFirst bool) uint64 {
	var found uint64
	for i := 0; i+1 < len(s); i++ {
		k := uint16(s[i])<<8 | uint16(s[i+1])
		if m.pair[k/64]&(1<<(k%64)) == 0 {
			continue
		}
		for _, j := range m.first[s[i]] {
			if found&(1<<j) == 0 && strings.HasPrefix(s[i:], m.pats[j]) {
				found |= 1 << j
				if stopAtFirst {
					return found
				}
			}
		}
	}
	return found
}
