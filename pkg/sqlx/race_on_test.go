//go:build race

package sqlx

// raceEnabled shortens the default differential run under -race.
const raceEnabled = true
