package postgres

import (
	"time"

	"github.com/dbsec/dbsec/pkg/parse"
)

// scanTime measures a PostgreSQL log timestamp "YYYY-MM-DD HH:MM:SS[.mmm] ZONE"
// at the start of b (the %m, %t and %s escapes and csvlog's log_time). It
// returns the index of the zone and the total length.
func scanTime(b []byte) (zone, n int, ok bool) {
	_, _, _, _, _, _, _, end, ok := parse.Clock(b)
	if !ok || b[4] != '-' || b[7] != '-' || b[10] != ' ' || end >= len(b) || b[end] != ' ' {
		return 0, 0, false
	}
	zone = end + 1
	n = zone
	for n < len(b) && (b[n] >= 'A' && b[n] <= 'Z' || b[n] >= 'a' && b[n] <= 'z' || b[n] >= '0' && b[n] <= '9' || b[n] == '+' || b[n] == '-') {
		n++
	}
	if n == zone {
		return 0, 0, false
	}
	return zone, n, true
}

// ParseTime parses a PostgreSQL log timestamp "YYYY-MM-DD HH:MM:SS[.fff] ZONE"
// as written by %m, %t and csvlog's log_time in the server's log_timezone.
// ZONE is what PostgreSQL prints for log_timezone: a numeric offset ("+01",
// "-0330"), "UTC"/"GMT"/"Z", or an abbreviation such as "CET" or "EDT".
// Abbreviations are ambiguous, so they are resolved with loc, which should
// be the server's log_timezone (Options.Location): the civil time is taken
// in loc, and when loc's abbreviation at that instant differs from ZONE (the
// repeated hour when DST ends) the neighbouring hour with the matching
// abbreviation is used. When loc never uses ZONE, a few unambiguous
// abbreviations (CET, CEST, EET, EEST, WET, WEST, MSK, JST, KST, HKT, AEST,
// AEDT, NZST, NZDT, EST, EDT, CDT, MDT, MST, PDT, PST; not the
// ambiguous CST or IST) get their fixed offset, and any
// other abbreviation is read in loc. It returns the instant in UTC.
func ParseTime(b []byte, loc *time.Location) (time.Time, bool) {
	zone, n, ok := scanTime(b)
	if !ok || n != len(b) {
		return time.Time{}, false
	}
	y, mo, d, h, mi, s, ns, _, _ := parse.Clock(b)
	z := b[zone:n]
	if off, ok := parse.Offset(z); ok {
		return parse.DateUTC(y, mo, d, h, mi, s, ns, off), true
	}
	switch string(z) {
	case "UTC", "GMT", "UCT", "Z", "Zulu":
		return parse.DateUTC(y, mo, d, h, mi, s, ns, 0), true
	}
	if z[0] == '+' || z[0] == '-' {
		return time.Time{}, false
	}
	if loc == nil {
		loc = time.UTC
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, ns, loc)
	if name, _ := t.Zone(); name == string(z) {
		return t.UTC(), true
	}
	for _, shift := range [2]time.Duration{-time.Hour, time.Hour} {
		u := t.Add(shift)
		if name, _ := u.Zone(); name == string(z) {
			uy, umo, ud := u.Date()
			uh, umi, us := u.Clock()
			if uy == y && int(umo) == mo && ud == d && uh == h && umi == mi && us == s {
				return u.UTC(), true
			}
		}
	}
	if off, ok := abbrevOffset(z); ok {
		return parse.DateUTC(y, mo, d, h, mi, s, ns, off), true
	}
	return t.UTC(), true
}

func abbrevOffset(z []byte) (int, bool) {
	const h = 3600
	switch string(z) {
	case "WET":
		return 0, true
	case "WEST", "CET", "BST":
		return 1 * h, true
	case "CEST", "EET", "SAST":
		return 2 * h, true
	case "EEST", "MSK":
		return 3 * h, true
	case "JST", "KST":
		return 9 * h, true
	case "HKT", "AWST":
		return 8 * h, true
	case "AEST":
		return 10 * h, true
	case "AEDT":
		return 11 * h, true
	case "NZST":
		return 12 * h, true
	case "NZDT":
		return 13 * h, true
	case "EST":
		return -5 * h, true
	case "EDT":
		return -4 * h, true
	case "CDT":
		return -5 * h, true
	case "MDT":
		return -6 * h, true
	case "MST", "PDT":
		return -7 * h, true
	case "PST":
		return -8 * h, true
	}
	return 0, false
}

// parseEpoch parses %n, "seconds.millis".
func parseEpoch(b []byte) (time.Time, bool) {
	n := digits(b)
	sec, ok := parse.Digits(b[:n])
	if !ok {
		return time.Time{}, false
	}
	var nsec int64
	if n < len(b) {
		if b[n] != '.' {
			return time.Time{}, false
		}
		scale := int64(100000000)
		for _, c := range b[n+1:] {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			nsec += int64(c-'0') * scale
			scale /= 10
		}
	}
	return time.Unix(sec, nsec).UTC(), true
}
