//go:build !race

package parsetest

// Race is true when the tests run with the race detector (see race_on.go).
const Race = false
