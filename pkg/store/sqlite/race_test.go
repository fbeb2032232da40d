//go:build race

package sqlite

// The race detector slows SQLite (pure Go) down about thirtyfold, so the
// generated data sets are smaller under -race; the plain run keeps the
// full sizes.
const raceEnabled = true
