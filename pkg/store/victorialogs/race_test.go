//go:build race

package victorialogs

// Under the race detector the generated data sets are smaller.
const (
	suiteN  = 3000
	raceDiv = 4
)
