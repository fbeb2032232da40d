package api

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/store"
)

// Error is an API error: the HTTP status, the parameter at fault (for
// 400) and a message. Handlers answer it as JSON {"error", "param"}; the
// client returns it.
type Error struct {
	Status int `json:"-"`
	// RetryAfter, if set, is sent as the Retry-After header (seconds).
	RetryAfter string `json:"-"`
	Param      string `json:"param,omitempty"`
	Message    string `json:"error"`
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("api: %d: parameter %s: %s", e.Status, e.Param, e.Message)
	}
	return fmt.Sprintf("api: %d: %s", e.Status, e.Message)
}

func badParam(name, format string, args ...any) *Error {
	return &Error{Status: 400, Param: name, Message: fmt.Sprintf("parameter %s: ", name) + fmt.Sprintf(format, args...)}
}

// Parameter sets per route. The handler refuses parameters that are not
// listed, and the OpenAPI test checks these lists against openapi.yaml.
var (
	filterParams = func() []string {
		out := []string{"from", "to"}
		for _, f := range filterFields {
			out = append(out, f.name)
		}
		for _, f := range filterFields {
			out = append(out, notPrefix+f.name)
		}
		return append(out, "q")
	}()
	routeParams = map[string][]string{
		"/api/v1/events":         append(slices.Clone(filterParams), "limit", "cursor"),
		"/api/v1/events/{id}":    {},
		"/api/v1/series":         append(slices.Clone(filterParams), "step", "by", "top"),
		"/api/v1/top":            append(slices.Clone(filterParams), "by", "limit"),
		"/api/v1/values/{field}": append(slices.Clone(filterParams), "limit"),
		"/api/v1/detections":     {"from", "to", "rule", "severity", "source", "user", "client_ip", "limit", "cursor"},
		"/api/v1/findings":       {"target", "severity", "status", "rule", "limit", "cursor"},
		"/api/v1/drift/changes":  {"from", "to", "target", "limit", "cursor"},
		"/api/v1/integrity":      {"start", "end"},
		"/api/v1/status":         {},
	}
)

// Routes lists every route the handler serves, for tests and docs.
func Routes() map[string][]string {
	out := make(map[string][]string, len(routeParams))
	for k, v := range routeParams {
		out[k] = slices.Clone(v)
	}
	return out
}

var (
	reName   = regexp.MustCompile(`^[A-Za-z0-9_.:@/-]{1,256}$`)
	reIP     = regexp.MustCompile(`^[A-Za-z0-9_.:%\[\]-]{1,256}$`)
	reDigest = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

type parser struct {
	v    url.Values
	err  *Error
	now  time.Time
	dflt time.Duration
}

func (p *parser) fail(e *Error) {
	if p.err == nil {
		p.err = e
	}
}

func (p *parser) checkKnown(route string) {
	allowed := routeParams[route]
	var names []string
	for k := range p.v {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !slices.Contains(allowed, k) {
			p.fail(&Error{Status: 400, Param: k, Message: fmt.Sprintf("unknown parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))})
		}
	}
}

func (p *parser) one(name string) string {
	vs := p.v[name]
	if len(vs) > 1 {
		p.fail(badParam(name, "given %d times, want at most once", len(vs)))
	}
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// strs returns the values of a repeatable string parameter.
func (p *parser) strs(name string, re *regexp.Regexp, what string) []string {
	vs := p.v[name]
	if len(vs) > 100 {
		p.fail(badParam(name, "too many values (%d, max 100)", len(vs)))
		return nil
	}
	for _, s := range vs {
		if re != nil && !re.MatchString(s) {
			p.fail(badParam(name, "invalid value %q: want %s", clip(s), what))
			return nil
		}
		if re == nil && !printable(s, 256) {
			p.fail(badParam(name, "invalid value %q: want 1 to 256 printable characters", clip(s)))
			return nil
		}
	}
	return vs
}

func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// set parses a closed-set parameter (repeated or comma-separated).
func set[T any](p *parser, name string, parse func(string) (T, error), names []string) []T {
	var out []T
	for _, v := range p.v[name] {
		for s := range strings.SplitSeq(v, ",") {
			x, err := parse(strings.TrimSpace(s))
			if err != nil {
				p.fail(badParam(name, "unknown value %q (one of: %s)", clip(s), strings.Join(names, ", ")))
				return nil
			}
			out = append(out, x)
		}
	}
	return out
}

// parseTime accepts RFC 3339 or Unix seconds (with an optional fraction).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("want RFC 3339 or Unix seconds")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

func (p *parser) timeParam(name string) time.Time {
	s := p.one(name)
	if s == "" {
		return time.Time{}
	}
	t, err := parseTime(s)
	if err != nil {
		p.fail(badParam(name, "invalid time %q: %v", clip(s), err))
		return t
	}
	if !event.TimeInRange(t) {
		p.fail(badParam(name, "time %q is outside the supported range (%s to %s)", clip(s),
			event.MinTime.Format(time.RFC3339), event.MaxTime.Format(time.RFC3339)))
	}
	return t
}

// timeRange parses from and to; with defaults, a missing to is now and a
// missing from is to minus the default range.
func (p *parser) timeRange(defaults bool) (time.Time, time.Time) {
	from, to := p.timeParam("from"), p.timeParam("to")
	if defaults {
		if to.IsZero() {
			to = p.now
		}
		if from.IsZero() {
			from = to.Add(-p.dflt)
		}
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		p.fail(badParam("from", "must be before to"))
	}
	return from, to
}

func (p *parser) intParam(name string, lo, hi, dflt int64) int64 {
	s := p.one(name)
	if s == "" {
		return dflt
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		p.fail(badParam(name, "invalid value %q: want an integer from %d to %d", clip(s), lo, hi))
		return dflt
	}
	return n
}

func (p *parser) cursor() string {
	s := p.one("cursor")
	if len(s) > 256 || !regexp.MustCompile(`^[A-Za-z0-9_-]*$`).MatchString(s) {
		p.fail(badParam("cursor", "invalid cursor (pass next_cursor from a previous page unchanged)"))
		return ""
	}
	return s
}

// notPrefix marks the exclusion form of a filter parameter: not_user=etl
// drops the events of user etl.
const notPrefix = "not_"

// filterField is one value parameter of the event filter, the single codec
// that the handler decodes with and the typed client encodes with.
type filterField struct {
	name string
	// get returns the values of the field in f, as the wire carries them.
	get func(f *store.Filter) []string
	// set validates the values of parameter param and stores them in f.
	set func(p *parser, f *store.Filter, param string)
}

func strField(name string, get func(f *store.Filter) *[]string, re *regexp.Regexp, what string) filterField {
	return filterField{name: name,
		get: func(f *store.Filter) []string { return *get(f) },
		set: func(p *parser, f *store.Filter, param string) { *get(f) = p.strs(param, re, what) }}
}

func enumField[T interface {
	~uint8
	String() string
}](name string, get func(f *store.Filter) *[]T, parse func(string) (T, error), names []string) filterField {
	return filterField{name: name,
		get: func(f *store.Filter) []string {
			var out []string
			for _, x := range *get(f) {
				out = append(out, x.String())
			}
			return out
		},
		set: func(p *parser, f *store.Filter, param string) { *get(f) = set(p, param, parse, names) }}
}

var filterFields = []filterField{
	strField("source", func(f *store.Filter) *[]string { return &f.Source }, reName, "a source name ([A-Za-z0-9_.:@/-])"),
	enumField("system", func(f *store.Filter) *[]event.System { return &f.System }, event.ParseSystem, event.SystemNames()),
	enumField("category", func(f *store.Filter) *[]event.Category { return &f.Category }, event.ParseCategory, event.CategoryNames()),
	enumField("outcome", func(f *store.Filter) *[]event.Outcome { return &f.Outcome }, event.ParseOutcome, event.OutcomeNames()),
	enumField("action", func(f *store.Filter) *[]event.Action { return &f.Action }, event.ParseAction, event.ActionNames()),
	strField("user", func(f *store.Filter) *[]string { return &f.User }, nil, ""),
	strField("client_ip", func(f *store.Filter) *[]string { return &f.ClientIP }, reIP, "an IP address or host name"),
	strField("digest", func(f *store.Filter) *[]string { return &f.Digest }, reDigest, "a statement digest ([A-Za-z0-9_-])"),
	strField("rule", func(f *store.Filter) *[]string { return &f.Rule }, reName, "a rule id ([A-Za-z0-9_.:@/-])"),
	strField("connection_id", func(f *store.Filter) *[]string { return &f.ConnectionID }, reName, "a connection id ([A-Za-z0-9_.:@/-])"),
}

// encodeFilter writes f as query parameters (the client's side).
func encodeFilter(f *store.Filter) url.Values {
	v := url.Values{}
	if !f.From.IsZero() {
		v.Set("from", fmtTime(f.From))
	}
	if !f.To.IsZero() {
		v.Set("to", fmtTime(f.To))
	}
	for _, ff := range filterFields {
		for _, s := range ff.get(f) {
			v.Add(ff.name, s)
		}
		if f.Not != nil {
			for _, s := range ff.get(f.Not) {
				v.Add(notPrefix+ff.name, s)
			}
		}
	}
	if f.Q != "" {
		v.Set("q", f.Q)
	}
	return v
}

// filter decodes the event filter (the handler's side).
func (p *parser) filter() store.Filter {
	var f store.Filter
	f.From, f.To = p.timeRange(true)
	var not store.Filter
	for _, ff := range filterFields {
		ff.set(p, &f, ff.name)
		ff.set(p, &not, notPrefix+ff.name)
	}
	if !not.Empty() {
		f.Not = &not
	}
	f.Q = p.one("q")
	if f.Q != "" && !printable(f.Q, 1024) {
		p.fail(badParam("q", "want 1 to 1024 printable characters"))
	}
	return f
}

func (p *parser) dimension(name string, required bool) store.Dimension {
	s := p.one(name)
	if s == "" {
		if required {
			p.fail(badParam(name, "is required (one of: %s)", dimNames()))
		}
		return ""
	}
	d, ok := store.ParseDimension(s)
	if !ok {
		p.fail(badParam(name, "unknown dimension %q (one of: %s)", clip(s), dimNames()))
	}
	return d
}

func dimNames() string {
	var ns []string
	for _, d := range store.Dimensions() {
		ns = append(ns, string(d))
	}
	return strings.Join(ns, ", ")
}

// step parses a Go duration ("5m") or seconds ("300").
func (p *parser) step(from, to time.Time) time.Duration {
	s := p.one("step")
	var d time.Duration
	if s == "" {
		d = to.Sub(from) / 300
		d = max(d.Truncate(time.Minute), time.Minute)
	} else if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(n) && !math.IsInf(n, 0) && n < 1e9 {
		d = time.Duration(n * float64(time.Second))
	} else if x, err := time.ParseDuration(s); err == nil {
		d = x
	} else {
		p.fail(badParam("step", "invalid duration %q: want e.g. 60, 60s or 5m", clip(s)))
		return time.Minute
	}
	if d < time.Second {
		p.fail(badParam("step", "must be at least 1s"))
		return time.Minute
	}
	if n := to.Sub(from) / d; n > 11000 {
		p.fail(badParam("step", "too small for the range: %d points (max 11000)", n))
	}
	return d
}

func (p *parser) severities() []finding.Severity {
	return set(p, "severity", finding.ParseSeverity, []string{"info", "low", "medium", "high", "critical"})
}

func (p *parser) statuses() []finding.Status {
	return set(p, "status", func(s string) (finding.Status, error) {
		st := finding.Status(s)
		if !st.Valid() {
			return "", fmt.Errorf("invalid status")
		}
		return st, nil
	}, []string{"pass", "fail", "not_applicable", "unknown"})
}
