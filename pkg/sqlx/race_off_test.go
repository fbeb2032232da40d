//go:build !race

package sqlx

const raceEnabled = false
