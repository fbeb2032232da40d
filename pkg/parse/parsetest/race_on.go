//go:build race

package parsetest

// Race is true when the tests run with the race detector, which makes
// sync.Pool drop its items at random: allocation counts are then not the
// parser's. Allocation tests skip under it; `go tool mage test` runs them
// again without it.
const Race = true
