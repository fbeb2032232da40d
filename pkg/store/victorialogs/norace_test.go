//go:build !race

package victorialogs

const (
	suiteN  = 8000
	raceDiv = 1
)
