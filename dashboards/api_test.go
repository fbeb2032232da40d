package dashboards

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/grafana/model"
	"github.com/dbsec/dbsec/pkg/store"
)

// allowedEmptyAPI lists the dbsec queries ("file: where") that may find
// nothing in the samples' store, with the reason. Queries filtered on
// products without sample lines are allowed too (logged).
var allowedEmptyAPI = map[string]string{}

// checkAPIQueries runs every dbsec query of the dashboards, at its default
// variables, against the exporter's JSON API with the typed client, over
// the samples' time range. It stands in for the plugin until its binary
// runs them (the plugin's protocol test should iterate over DBSecQueries
// the same way): every query must be accepted, and find data unless its
// products have no samples or it is allowed to be empty.
//
// Like the data source, it fans out to every exporter and adds up: the
// second exporter of the test holds the drift against an approved snapshot.
// A query fails only when every exporter refuses it (the second exporter
// has no event store).
//
// A query on events that filters only on labels of dbsec_events_total may
// also be empty when Prometheus counts no such events (eventsCount).
func checkAPIQueries(ctx context.Context, t *testing.T, exporterURLs []string, withSamples map[string]bool, eventsCount func(selector string) (float64, error)) {
	var clients []*api.Client
	for _, u := range exporterURLs {
		clients = append(clients, api.NewClient(u, nil))
	}
	st, err := clients[0].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Store.Oldest.IsZero() {
		t.Fatal("the store holds no events")
	}
	// From the samples' first event (they carry their own timestamps) to
	// now (drift is recorded when it is seen).
	from, to := st.Store.Oldest.Add(-time.Minute), time.Now().Add(time.Minute)
	qs, err := DBSecQueries()
	if err != nil {
		t.Fatal(err)
	}
	empty := 0
	for _, pq := range qs {
		where := pq.File + ": " + pq.Where
		n, ok := 0, false
		var errs []string
		for i, c := range clients {
			m, err := runAPIQuery(ctx, c, pq.Query, from, to)
			if err != nil {
				errs = append(errs, fmt.Sprintf("exporter %d: %v", i+1, err))
				continue
			}
			n, ok = n+m, true
		}
		if !ok {
			t.Errorf("%s: %s", where, strings.Join(errs, "; "))
			continue
		}
		if n > 0 {
			continue
		}
		empty++
		if reason, ok := allowedEmptyAPI[where]; ok {
			t.Logf("empty, allowed: %s: %s", where, reason)
			continue
		}
		var sys []string
		for _, f := range pq.Query.Filters {
			if f.Key == model.KeySystem {
				sys = append(sys, f.Value)
			}
		}
		if len(sys) > 0 && !anyOf(sys, withSamples) {
			t.Logf("empty, allowed: %s: no sample lines of %s", where, strings.Join(sys, ", "))
			continue
		}
		if sel, ok := eventsSelector(pq.Query); ok {
			if n, err := eventsCount(sel); err == nil && n == 0 {
				t.Logf("empty, allowed: %s: Prometheus counts no such events either (dbsec_events_total%s)", where, sel)
				continue
			}
		}
		t.Errorf("%s: nothing found for %+v %v", where, pq.Query, errs)
	}
	for k, reason := range allowedEmptyAPI {
		if reason == "" {
			t.Errorf("allowedEmptyAPI[%q] has no reason", k)
		}
	}
	t.Logf("%d dbsec queries run through the JSON API, %d empty", len(qs), empty)
}

// eventsSelector returns the dbsec_events_total selector of an events, top
// or series query whose filters are all labels of that metric.
func eventsSelector(q model.Query) (string, bool) {
	switch q.QueryType {
	case model.Events, model.Top, model.Series, "":
	default:
		return "", false
	}
	if q.Q != "" {
		return "", false
	}
	vals := map[string][]string{}
	var keys []string
	for _, f := range q.Filters {
		switch f.Key {
		case model.KeySource, model.KeySystem, model.KeyCategory, model.KeyOutcome:
		default:
			return "", false
		}
		if vals[f.Key] == nil {
			keys = append(keys, f.Key)
		}
		vals[f.Key] = append(vals[f.Key], f.Value)
	}
	var m []string
	for _, k := range keys {
		m = append(m, fmt.Sprintf(`%s=~"%s"`, k, strings.Join(vals[k], "|")))
	}
	return "{" + strings.Join(m, ",") + "}", true
}

// runAPIQuery maps a dbsec query onto the typed client and returns how
// many rows, series or items came back.
func runAPIQuery(ctx context.Context, c *api.Client, q model.Query, from, to time.Time) (int, error) {
	var f store.Filter
	f.From, f.To = from, to
	f.Q = q.Q
	var severities []string
	var targets []string
	var statuses []finding.Status
	for _, x := range q.Filters {
		if x.Op != model.OpEqual {
			return 0, fmt.Errorf("filter %s%s%s: only = is mapped here", x.Key, x.Op, x.Value)
		}
		switch x.Key {
		case model.KeySource:
			f.Source = append(f.Source, x.Value)
		case model.KeySystem:
			s, err := event.ParseSystem(x.Value)
			if err != nil {
				return 0, err
			}
			f.System = append(f.System, s)
		case model.KeyCategory:
			v, err := event.ParseCategory(x.Value)
			if err != nil {
				return 0, err
			}
			f.Category = append(f.Category, v)
		case model.KeyOutcome:
			v, err := event.ParseOutcome(x.Value)
			if err != nil {
				return 0, err
			}
			f.Outcome = append(f.Outcome, v)
		case model.KeyAction:
			v, err := event.ParseAction(x.Value)
			if err != nil {
				return 0, err
			}
			f.Action = append(f.Action, v)
		case model.KeyUser:
			f.User = append(f.User, x.Value)
		case model.KeyClientIP:
			f.ClientIP = append(f.ClientIP, x.Value)
		case model.KeyDigest:
			f.Digest = append(f.Digest, x.Value)
		case model.KeyRule:
			f.Rule = append(f.Rule, x.Value)
		case model.KeySeverity:
			severities = append(severities, x.Value)
		case model.KeyTarget:
			targets = append(targets, x.Value)
		case model.KeyStatus:
			statuses = append(statuses, finding.Status(x.Value))
		default:
			return 0, fmt.Errorf("filter key %s not mapped", x.Key)
		}
	}
	by := store.Dimension(q.By)
	if q.Field != "" {
		by = store.Dimension(q.Field)
	}
	switch q.QueryType {
	case model.Events, "":
		p, err := c.Events(ctx, store.EventQuery{Filter: f, Limit: q.Limit})
		return len(p.Events), err
	case model.Series:
		// Like a panel's interval: about 1,000 points over the range.
		step := max(time.Minute, to.Sub(from)/1000).Truncate(time.Minute)
		if q.Step != "" {
			var err error
			if step, err = time.ParseDuration(q.Step); err != nil {
				return 0, err
			}
		}
		r, err := c.Series(ctx, store.SeriesQuery{Filter: f, Step: step, By: by, Top: q.Top})
		return len(r.Series), err
	case model.Top:
		r, err := c.Top(ctx, store.TopQuery{Filter: f, By: by, Limit: q.Limit})
		return len(r.Items), err
	case model.Values:
		r, err := c.Values(ctx, store.ValuesQuery{Filter: f, Field: by, Limit: q.Limit})
		return len(r), err
	case model.Detections:
		p, err := c.Detections(ctx, store.DetectionQuery{From: from, To: to, Rule: f.Rule, Severity: severities,
			Source: f.Source, User: f.User, ClientIP: f.ClientIP, Limit: q.Limit})
		return len(p.Detections), err
	case model.Findings:
		var sev []finding.Severity
		for _, s := range severities {
			v, err := finding.ParseSeverity(s)
			if err != nil {
				return 0, err
			}
			sev = append(sev, v)
		}
		p, err := c.Findings(ctx, store.FindingQuery{Target: targets, Severity: sev, Status: statuses, Rule: f.Rule, Limit: q.Limit})
		return len(p.Findings), err
	case model.DriftChanges:
		p, err := c.DriftChanges(ctx, store.DriftQuery{From: from, To: to, Target: targets, Limit: q.Limit})
		return len(p.Changes), err
	case model.Integrity:
		r, err := c.Integrity(ctx, store.IntegrityQuery{})
		if err == nil && !r.OK {
			err = fmt.Errorf("integrity: %+v", r)
		}
		return int(r.Checked), err
	case model.Status:
		s, err := c.Status(ctx)
		return len(s.Sources), err
	}
	return 0, fmt.Errorf("query type %s not mapped", q.QueryType)
}

// TestSeriesDimensions: the explorer's "Series by" values are the store's
// dimensions.
func TestSeriesDimensions(t *testing.T) {
	var want []string
	for _, d := range store.Dimensions() {
		want = append(want, string(d))
	}
	got := seriesDimensions()
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("seriesDimensions() = %v, want store.Dimensions() %v", got, want)
	}
}
