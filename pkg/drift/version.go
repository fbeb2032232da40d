package drift

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a dotted numeric version of any length (TiDB 8.5.2, TDengine
// 3.3.6.0, Redash 23.09.0). A leading "v" and any "-suffix" are ignored.
type Version []int

// ParseVersion parses s; "" gives a nil Version (unknown).
func ParseVersion(s string) (Version, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "v"))
	if s == "" {
		return nil, nil
	}
	if i := strings.IndexAny(s, "-+ "); i >= 0 {
		s = s[:i]
	}
	var v Version
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad version %q", s)
		}
		v = append(v, n)
	}
	return v, nil
}

// Compare returns -1, 0 or 1; missing parts count as 0.
func (v Version) Compare(o Version) int {
	for i := 0; i < max(len(v), len(o)); i++ {
		a, b := 0, 0
		if i < len(v) {
			a = v[i]
		}
		if i < len(o) {
			b = o[i]
		}
		if a != b {
			if a < b {
				return -1
			}
			return 1
		}
	}
	return 0
}

type versionBound struct {
	op string
	v  Version
}

// versionRange is a conjunction like ">=6.1.0, <8".
type versionRange []versionBound

func parseVersionRange(s string) (versionRange, error) {
	var vr versionRange
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		op := "="
		for _, o := range []string{">=", "<=", ">", "<", "="} {
			if strings.HasPrefix(part, o) {
				op, part = o, strings.TrimSpace(part[len(o):])
				break
			}
		}
		v, err := ParseVersion(part)
		if err != nil || v == nil {
			return nil, fmt.Errorf("bad version range %q", s)
		}
		vr = append(vr, versionBound{op, v})
	}
	return vr, nil
}

// contains reports whether v is in range; an unknown version (nil) is
// assumed to be in every range.
func (vr versionRange) contains(v Version) bool {
	if v == nil {
		return true
	}
	for _, b := range vr {
		c := v.Compare(b.v)
		ok := false
		switch b.op {
		case ">=":
			ok = c >= 0
		case ">":
			ok = c > 0
		case "<=":
			ok = c <= 0
		case "<":
			ok = c < 0
		case "=":
			ok = c == 0
		}
		if !ok {
			return false
		}
	}
	return true
}
