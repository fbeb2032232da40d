package grafana

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/grafana/model"
	"github.com/dbsec/dbsec/pkg/store"
)

// maxFilterValues bounds the values of one key (the API accepts 100).
const maxFilterValues = 100

// filters are a query's conditions grouped by key: eq holds the "="
// values (alternatives), ne the "!=" values (exclusions). Filters with an
// empty value are dropped, so that a drill-down link whose field was empty
// in the clicked row widens the query instead of matching nothing.
type filters struct {
	eq, ne map[string][]string
	keys   []string // keys in first-seen order
}

func parseFilters(fs []model.Filter) (*filters, error) {
	f := &filters{eq: map[string][]string{}, ne: map[string][]string{}}
	for _, x := range fs {
		k := strings.TrimSpace(x.Key)
		if !slices.Contains(model.FilterKeys(), k) {
			return nil, fmt.Errorf("unknown filter key %q (one of: %s)", x.Key, strings.Join(model.FilterKeys(), ", "))
		}
		v := strings.TrimSpace(x.Value)
		if v == "" {
			continue
		}
		var m map[string][]string
		switch x.Op {
		case "", model.OpEqual:
			m = f.eq
		case model.OpNotEqual:
			m = f.ne
		default:
			return nil, fmt.Errorf("filter %s: unknown operator %q (want = or !=)", k, x.Op)
		}
		if !slices.Contains(f.keys, k) {
			f.keys = append(f.keys, k)
		}
		if !slices.Contains(m[k], v) {
			m[k] = append(m[k], v)
		}
		if len(m[k]) > maxFilterValues {
			return nil, fmt.Errorf("filter %s: more than %d values", k, maxFilterValues)
		}
	}
	return f, nil
}

// ignored lists the keys used that are not in applicable.
func (f *filters) ignored(applicable []string) []string {
	var out []string
	for _, k := range f.keys {
		if !slices.Contains(applicable, k) {
			out = append(out, k)
		}
	}
	return out
}

// eventKeys are the keys that select events (events, series, top, values).
var eventKeys = []string{model.KeySource, model.KeySystem, model.KeyCategory, model.KeyOutcome, model.KeyAction,
	model.KeyUser, model.KeyClientIP, model.KeyDigest, model.KeyRule, model.KeyConnectionID}

// detectionKeys, findingKeys and driftKeys are the keys of the other
// query types.
var (
	detectionKeys = []string{model.KeySource, model.KeyUser, model.KeyClientIP, model.KeyRule, model.KeySeverity}
	findingKeys   = []string{model.KeyTarget, model.KeySeverity, model.KeyStatus, model.KeyRule}
	driftKeys     = []string{model.KeyTarget}
)

func parseEnum[T any](key string, vs []string, parse func(string) (T, error), names []string) ([]T, error) {
	var out []T
	for _, v := range vs {
		x, err := parse(v)
		if err != nil {
			return nil, fmt.Errorf("filter %s: unknown value %q (one of: %s)", key, v, strings.Join(names, ", "))
		}
		out = append(out, x)
	}
	return out, nil
}

// fill sets the value fields of sf from the values of m.
func fillEventFilter(sf *store.Filter, m map[string][]string) error {
	var err error
	if sf.System, err = parseEnum(model.KeySystem, m[model.KeySystem], event.ParseSystem, event.SystemNames()); err != nil {
		return err
	}
	if sf.Category, err = parseEnum(model.KeyCategory, m[model.KeyCategory], event.ParseCategory, event.CategoryNames()); err != nil {
		return err
	}
	if sf.Outcome, err = parseEnum(model.KeyOutcome, m[model.KeyOutcome], event.ParseOutcome, event.OutcomeNames()); err != nil {
		return err
	}
	if sf.Action, err = parseEnum(model.KeyAction, m[model.KeyAction], event.ParseAction, event.ActionNames()); err != nil {
		return err
	}
	sf.Source = m[model.KeySource]
	sf.User = m[model.KeyUser]
	sf.ClientIP = m[model.KeyClientIP]
	sf.Digest = m[model.KeyDigest]
	sf.Rule = m[model.KeyRule]
	sf.ConnectionID = m[model.KeyConnectionID]
	return nil
}

// eventFilter is the store filter of an events, series, top or values
// query over [from, to).
func (f *filters) eventFilter(from, to time.Time, q string) (store.Filter, error) {
	sf := store.Filter{From: from, To: to, Q: strings.TrimSpace(q)}
	if err := fillEventFilter(&sf, f.eq); err != nil {
		return sf, err
	}
	var not store.Filter
	if err := fillEventFilter(&not, f.ne); err != nil {
		return sf, err
	}
	if !not.Empty() {
		sf.Not = &not
	}
	return sf, nil
}

func (f *filters) detectionQuery(from, to time.Time, limit int) (store.DetectionQuery, error) {
	for _, s := range append(slices.Clone(f.eq[model.KeySeverity]), f.ne[model.KeySeverity]...) {
		if !slices.Contains(store.DetectionSeverities(), s) {
			return store.DetectionQuery{}, fmt.Errorf("filter severity: unknown detection severity %q (one of: %s)", s,
				strings.Join(store.DetectionSeverities(), ", "))
		}
	}
	return store.DetectionQuery{From: from, To: to, Rule: f.eq[model.KeyRule], Severity: f.eq[model.KeySeverity],
		Source: f.eq[model.KeySource], User: f.eq[model.KeyUser], ClientIP: f.eq[model.KeyClientIP], Limit: limit}, nil
}

// keepDetection applies the exclusions the API cannot (detections have no
// "!=" parameters).
func (f *filters) keepDetection(d *api.Detection) bool {
	for k, vs := range f.ne {
		var v string
		switch k {
		case model.KeySource:
			v = d.Source
		case model.KeyUser:
			v = d.User
		case model.KeyClientIP:
			v = d.ClientIP
		case model.KeyRule:
			if slices.Contains(vs, d.RuleID) {
				return false
			}
			v = d.Rule
		case model.KeySeverity:
			v = d.Severity
		default:
			continue
		}
		if slices.Contains(vs, v) {
			return false
		}
	}
	return true
}

func (f *filters) findingQuery(limit int) (store.FindingQuery, error) {
	q := store.FindingQuery{Target: f.eq[model.KeyTarget], Rule: f.eq[model.KeyRule], Limit: limit}
	sevNames := []string{"info", "low", "medium", "high", "critical"}
	var err error
	if q.Severity, err = parseEnum(model.KeySeverity, f.eq[model.KeySeverity], finding.ParseSeverity, sevNames); err != nil {
		return q, err
	}
	if _, err = parseEnum(model.KeySeverity, f.ne[model.KeySeverity], finding.ParseSeverity, sevNames); err != nil {
		return q, err
	}
	for _, s := range append(slices.Clone(f.eq[model.KeyStatus]), f.ne[model.KeyStatus]...) {
		if !finding.Status(s).Valid() {
			return q, fmt.Errorf("filter status: unknown value %q (one of: pass, fail, not_applicable, unknown)", s)
		}
	}
	for _, s := range f.eq[model.KeyStatus] {
		q.Status = append(q.Status, finding.Status(s))
	}
	return q, nil
}

func (f *filters) keepFinding(x *finding.Finding) bool {
	return !slices.Contains(f.ne[model.KeyTarget], x.Target) && !slices.Contains(f.ne[model.KeyRule], x.RuleID) &&
		!slices.Contains(f.ne[model.KeySeverity], x.Severity.String()) && !slices.Contains(f.ne[model.KeyStatus], string(x.Status))
}

func (f *filters) keepDrift(c *api.DriftChange) bool {
	return !slices.Contains(f.ne[model.KeyTarget], c.Target)
}
