package parse

import "time"

// Digits parses b as an unsigned decimal number. ok is false when b is empty,
// longer than 18 digits or contains a non-digit.
func Digits(b []byte) (n int64, ok bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// Int parses an optionally signed decimal integer.
func Int(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '-' {
		n, ok := Digits(b[1:])
		return -n, ok
	}
	return Digits(b)
}

// fixed parses exactly len(b) digits.
func fixed(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// Clock parses the civil parts of a timestamp laid out as
// YYYY?MM?DD?HH:MM:SS[.frac] where ? is any single separator byte; it returns
// the parts and the index just past the fraction. It does not allocate.
func Clock(b []byte) (y, mo, d, h, mi, s, nsec, end int, ok bool) {
	if len(b) < 19 || b[13] != ':' || b[16] != ':' {
		return
	}
	var ok1, ok2, ok3, ok4, ok5, ok6 bool
	y, ok1 = fixed(b[0:4])
	mo, ok2 = fixed(b[5:7])
	d, ok3 = fixed(b[8:10])
	h, ok4 = fixed(b[11:13])
	mi, ok5 = fixed(b[14:16])
	s, ok6 = fixed(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return 0, 0, 0, 0, 0, 0, 0, 0, false
	}
	end = 19
	if end < len(b) && (b[end] == '.' || b[end] == ',') {
		end++
		scale := 100000000
		for end < len(b) && b[end] >= '0' && b[end] <= '9' {
			if scale > 0 {
				nsec += int(b[end]-'0') * scale
				scale /= 10
			}
			end++
		}
	}
	return y, mo, d, h, mi, s, nsec, end, true
}

// Offset parses a numeric zone offset "+08:00", "+0800", "-07" or "Z" and
// returns it in seconds east of UTC.
func Offset(b []byte) (secs int, ok bool) {
	if len(b) == 1 && (b[0] == 'Z' || b[0] == 'z') {
		return 0, true
	}
	if len(b) < 3 || (b[0] != '+' && b[0] != '-') {
		return 0, false
	}
	h, ok1 := fixed(b[1:3])
	m := 0
	rest := b[3:]
	if len(rest) > 0 && rest[0] == ':' {
		rest = rest[1:]
	}
	if len(rest) == 2 {
		var ok2 bool
		m, ok2 = fixed(rest)
		if !ok2 {
			return 0, false
		}
	} else if len(rest) != 0 {
		return 0, false
	}
	if !ok1 || h > 23 || m > 59 {
		return 0, false
	}
	secs = h*3600 + m*60
	if b[0] == '-' {
		secs = -secs
	}
	return secs, true
}

// DateUTC builds the instant of a civil time with a known offset, in UTC,
// without allocating a *time.Location.
func DateUTC(y, mo, d, h, mi, s, nsec, offset int) time.Time {
	return time.Date(y, time.Month(mo), d, h, mi, s, nsec, time.UTC).Add(-time.Duration(offset) * time.Second)
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// Month returns the month number (1–12) of an English three-letter month
// abbreviation ("Jan" … "Dec", case-sensitive as logs write it), or 0.
func Month(b []byte) int {
	if len(b) != 3 {
		return 0
	}
	for i, m := range months {
		if string(b) == m {
			return i + 1
		}
	}
	return 0
}
