// Package demo prepares and reports `go tool mage demo`: it copies the
// bundled sample logs with their times shifted so that the newest record is
// a minute old (the API's default range is the last 24 hours), posts the
// TDengine audit records to the exporter's receiver, and summarises what
// the exporter found through its JSON API.
//
// The configuration is testdata/demo.toml itself, run from a mirror of the
// repository's layout (testdata/ and pkg/drift/testdata/examples/) whose log
// files are the shifted copies, so that its relative paths resolve as they
// do for the --once test on the originals.
package demo

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// stamp is one timestamp shape found in the sample logs, with the layout
// that parses and writes it again.
type stamp struct {
	name string
	re   *regexp.Regexp
	// layout parses the match (Go time layout); "" for epoch numbers.
	layout string
	// yearless layouts have no year: the year is taken from Options.Year.
	yearless bool
	// utc: the match carries no zone; it is read and written as UTC (the
	// demo's sources with such formats say timezone = "UTC").
	utc bool
}

var stamps = []stamp{
	// TiDB: [2026/11/30 09:00:00.101 +08:00], TIMESTAMP=… (tidb.log, the audit plugin)
	{name: "tidb", re: regexp.MustCompile(`\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{3} [+-]\d{2}:\d{2}`), layout: "2006/01/02 15:04:05.000 -07:00"},
	// RFC 3339 with a zone (TiDB slow log "# Time:"), any fraction.
	{name: "rfc3339", re: regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})`)},
	// PostgreSQL %m / %t: 2026-11-30 01:25:00.037 UTC
	{name: "postgres", re: regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{3})? [A-Z]{3,4}\b`)},
	// MariaDB server_audit: 20261130 01:15:00 at the start of a line.
	{name: "server_audit", re: regexp.MustCompile(`(?m)^\d{8} \d{2}:\d{2}:\d{2}`), layout: "20060102 15:04:05", utc: true},
	// nginx $time_local: 30/Nov/2026:01:35:00 +0000
	{name: "nginx", re: regexp.MustCompile(`\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}`), layout: "02/Jan/2006:15:04:05 -0700"},
	// taosd: 11/30 01:45:30.123330 at the start of a line, no year.
	{name: "taosd", re: regexp.MustCompile(`(?m)^\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6}`), layout: "01/02 15:04:05.000000", yearless: true, utc: true},
	// JSON "timestamp": seconds (10 digits), milliseconds (13) or
	// nanoseconds (19), quoted or not (TDengine audit, Redash events).
	{name: "epoch", re: regexp.MustCompile(`"timestamp"\s*:\s*"?(\d{19}|\d{13}|\d{10})\b`)},
}

// Options tune Shift.
type Options struct {
	// Year is the year of timestamps that have none (taosd); 0 means
	// 2026, the year of the bundled samples.
	Year int
}

// match is one timestamp found in a text.
type match struct {
	start, end int // the bytes to replace
	t          time.Time
	st         *stamp
	raw        string
}

// find returns every timestamp of b, in order, without overlaps.
func find(b []byte, year int) ([]match, error) {
	var out []match
	taken := func(s, e int) bool {
		for _, m := range out {
			if s < m.end && e > m.start {
				return true
			}
		}
		return false
	}
	for i := range stamps {
		st := &stamps[i]
		for _, loc := range st.re.FindAllSubmatchIndex(b, -1) {
			s, e := loc[0], loc[1]
			if st.name == "epoch" {
				s, e = loc[2], loc[3]
			}
			if taken(s, e) {
				continue
			}
			raw := string(b[s:e])
			t, err := parseStamp(st, raw, year)
			if err != nil {
				return nil, fmt.Errorf("byte %d: %s timestamp %q: %w", s, st.name, raw, err)
			}
			out = append(out, match{start: s, end: e, t: t, st: st, raw: raw})
		}
	}
	return out, nil
}

func parseStamp(st *stamp, raw string, year int) (time.Time, error) {
	switch st.name {
	case "epoch":
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		switch len(raw) {
		case 10:
			return time.Unix(n, 0).UTC(), nil
		case 13:
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(0, n).UTC(), nil
	case "rfc3339":
		return time.Parse(time.RFC3339Nano, raw)
	case "postgres":
		layout := "2006-01-02 15:04:05 MST"
		if len(raw) > 20 && raw[19] == '.' {
			layout = "2006-01-02 15:04:05.000 MST"
		}
		return time.Parse(layout, raw)
	}
	if st.yearless {
		t, err := time.Parse("2006 "+st.layout, fmt.Sprintf("%04d %s", year, raw))
		return t, err
	}
	return time.Parse(st.layout, raw)
}

func formatStamp(m match, t time.Time) string {
	switch m.st.name {
	case "epoch":
		switch len(m.raw) {
		case 10:
			return strconv.FormatInt(t.Unix(), 10)
		case 13:
			return strconv.FormatInt(t.UnixMilli(), 10)
		}
		return strconv.FormatInt(t.UnixNano(), 10)
	case "rfc3339":
		// Keep the number of fraction digits and the zone as written.
		layout := "2006-01-02T15:04:05"
		if i := bytes.IndexByte([]byte(m.raw), '.'); i >= 0 {
			digits := 0
			for _, c := range m.raw[i+1:] {
				if c < '0' || c > '9' {
					break
				}
				digits++
			}
			layout += "." + string(bytes.Repeat([]byte{'0'}, digits))
		}
		if m.raw[len(m.raw)-1] == 'Z' {
			return t.UTC().Format(layout + "Z")
		}
		return t.In(m.t.Location()).Format(layout + "-07:00")
	case "postgres":
		layout := "2006-01-02 15:04:05 MST"
		if len(m.raw) > 20 && m.raw[19] == '.' {
			layout = "2006-01-02 15:04:05.000 MST"
		}
		return t.In(m.t.Location()).Format(layout)
	}
	return t.In(m.t.Location()).Format(m.st.layout)
}

// Newest returns the newest timestamp of b (false when b has none).
func Newest(b []byte, opt Options) (time.Time, bool, error) {
	ms, err := find(b, yearOf(opt))
	if err != nil {
		return time.Time{}, false, err
	}
	var newest time.Time
	for _, m := range ms {
		if m.t.After(newest) {
			newest = m.t
		}
	}
	return newest, len(ms) > 0, nil
}

// Shift returns b with every timestamp moved by d, written in the shape it
// had. It also returns how many timestamps it moved.
func Shift(b []byte, d time.Duration, opt Options) ([]byte, int, error) {
	ms, err := find(b, yearOf(opt))
	if err != nil {
		return nil, 0, err
	}
	// Replace from the end so that earlier offsets stay valid.
	slices.SortFunc(ms, func(a, b match) int { return a.start - b.start })
	out := append([]byte(nil), b...)
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		repl := formatStamp(m, m.t.Add(d))
		out = append(out[:m.start], append([]byte(repl), out[m.end:]...)...)
	}
	return out, len(ms), nil
}

func yearOf(opt Options) int {
	if opt.Year != 0 {
		return opt.Year
	}
	return 2026
}
