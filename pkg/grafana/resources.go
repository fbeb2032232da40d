package grafana

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/grafana/model"
	"github.com/dbsec/dbsec/pkg/store"
)

// Rule is one entry of the rules resource: a detection rule of the
// catalogue, for the editors' suggestions.
type Rule struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
}

// maxResourceValues bounds the values resource's answer.
const maxResourceValues = 1000

// newResourceHandler serves, under /api/datasources/uid/<uid>/resources/:
//
//	GET values/<field>?from&to&<key>=<value>&not_<key>=<value>&q  distinct values (JSON array of strings)
//	GET keys                                                       filter keys (JSON array of strings)
//	GET rules                                                      the detection rule catalogue
//	GET events/<id>                                                one event's stored record (raw line included)
//	GET evidence?ids=<id>,<id>…                                    the stored records of a detection's evidence events
func newResourceHandler(d *Datasource) backend.CallResourceHandler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /values/{field}", d.resourceValues)
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, model.FilterKeys()) })
	mux.HandleFunc("GET /rules", func(w http.ResponseWriter, _ *http.Request) {
		var out []Rule
		for _, r := range detect.Catalog() {
			out = append(out, Rule{ID: r.ID, Name: r.Name, Severity: r.Severity, Title: r.Title})
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /events/{id}", d.resourceEvent)
	mux.HandleFunc("GET /evidence", d.resourceEvidence)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such resource: " + r.Method + " " + r.URL.Path +
			" (GET values/<field>, keys, rules, events/<id>, evidence?ids=…)"})
	})
	return httpadapter.New(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// parseResourceTime accepts Unix milliseconds (what Grafana's frontend
// has), Unix seconds and RFC 3339.
func parseResourceTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return time.Time{}, fmt.Errorf("invalid time %q: want Unix milliseconds or RFC 3339", s)
	}
	if f > 1e11 { // milliseconds
		return time.UnixMilli(int64(f)).UTC(), nil
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

func (d *Datasource) resourceValues(w http.ResponseWriter, r *http.Request) {
	field, ok := store.ParseDimension(r.PathValue("field"))
	if !ok {
		var names []string
		for _, x := range store.Dimensions() {
			names = append(names, string(x))
		}
		writeErr(w, http.StatusBadRequest, "unknown field %q (one of: %s)", r.PathValue("field"), strings.Join(names, ", "))
		return
	}
	v := r.URL.Query()
	var from, to time.Time
	var fs []model.Filter
	limit := maxResourceValues
	q := ""
	for k, vs := range v {
		switch {
		case k == "from" || k == "to":
			t, err := parseResourceTime(vs[0])
			if err != nil {
				writeErr(w, http.StatusBadRequest, "%s: %v", k, err)
				return
			}
			if k == "from" {
				from = t
			} else {
				to = t
			}
		case k == "q":
			q = vs[0]
		case k == "limit":
			n, err := strconv.Atoi(vs[0])
			if err != nil || n < 1 {
				writeErr(w, http.StatusBadRequest, "limit: want a positive integer")
				return
			}
			limit = min(n, maxResourceValues)
		case slices.Contains(model.FilterKeys(), k):
			for _, x := range vs {
				fs = append(fs, model.Filter{Key: k, Op: model.OpEqual, Value: x})
			}
		case strings.HasPrefix(k, "not_") && slices.Contains(model.FilterKeys(), strings.TrimPrefix(k, "not_")):
			for _, x := range vs {
				fs = append(fs, model.Filter{Key: strings.TrimPrefix(k, "not_"), Op: model.OpNotEqual, Value: x})
			}
		default:
			writeErr(w, http.StatusBadRequest, "unknown parameter %q (from, to, q, limit, a filter key or not_<key>)", k)
			return
		}
	}
	// Stable order of filters for the same request.
	slices.SortStableFunc(fs, func(a, b model.Filter) int { return strings.Compare(a.Key, b.Key) })
	f, err := parseFilters(fs)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "%v", err)
		return
	}
	if ks := f.ignored(eventKeys); len(ks) > 0 {
		writeErr(w, http.StatusBadRequest, "filter %s does not apply to event values", strings.Join(ks, ", "))
		return
	}
	if to.IsZero() {
		to = time.Now().UTC()
	}
	if from.IsZero() {
		from = to.Add(-24 * time.Hour)
	}
	if !from.Before(to) {
		writeErr(w, http.StatusBadRequest, "from must be before to")
		return
	}
	sf, err := f.eventFilter(from, to, q)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "%v", err)
		return
	}
	vs, rs, err := fetchValues(r.Context(), d, field, sf, limit)
	if err != nil {
		writeErr(w, http.StatusBadGateway, "%s", describeErr(err, d.basicAuth))
		return
	}
	for _, x := range rs {
		if x.err != nil {
			w.Header().Add("Warning", fmt.Sprintf("199 - %q", x.ex.url+": "+describeErr(x.err, d.basicAuth)))
		}
	}
	if vs == nil {
		vs = []string{}
	}
	writeJSON(w, http.StatusOK, vs)
}

var reEventID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// resourceEvent answers the stored record of one event from the first
// exporter that has it.
func (d *Datasource) resourceEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !reEventID.MatchString(id) {
		writeErr(w, http.StatusBadRequest, "invalid event id %q", id)
		return
	}
	rs := fanOut(r.Context(), d.exporters, func(ctx context.Context, c *api.Client) (*api.Event, error) { return c.Event(ctx, id) })
	var reasons []string
	for _, x := range rs {
		if x.err == nil {
			writeJSON(w, http.StatusOK, x.val)
			return
		}
		var ae *api.Error
		if errors.As(x.err, &ae) && ae.Status == 404 {
			continue
		}
		reasons = append(reasons, x.ex.url+": "+describeErr(x.err, d.basicAuth))
	}
	if len(reasons) > 0 {
		writeErr(w, http.StatusBadGateway, "event %s not found on the exporters that answered; failed: %s", id, strings.Join(reasons, "; "))
		return
	}
	writeErr(w, http.StatusNotFound, "event %s not found (it may have aged out of the store)", url.PathEscape(id))
}

// maxEvidence bounds the evidence resource (a detection keeps at most a
// few dozen evidence ids).
const maxEvidence = 100

// resourceEvidence answers the stored records of the events whose ids are
// listed (comma-separated), in the order given, each from the first
// exporter that has it; ids that no exporter has are listed in "missing".
func (d *Datasource) resourceEvidence(w http.ResponseWriter, r *http.Request) {
	var ids []string
	for _, v := range r.URL.Query()["ids"] {
		for id := range strings.SplitSeq(v, ",") {
			if id = strings.TrimSpace(id); id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 || len(ids) > maxEvidence {
		writeErr(w, http.StatusBadRequest, "ids: want 1 to %d comma-separated event ids", maxEvidence)
		return
	}
	for _, id := range ids {
		if !reEventID.MatchString(id) {
			writeErr(w, http.StatusBadRequest, "invalid event id %q", id)
			return
		}
	}
	type answer struct {
		Events  []*api.Event `json:"events"`
		Missing []string     `json:"missing"`
		Failed  []string     `json:"failed,omitempty"`
	}
	out := answer{Events: []*api.Event{}, Missing: []string{}}
	failed := map[string]bool{}
	for _, id := range ids {
		rs := fanOut(r.Context(), d.exporters, func(ctx context.Context, c *api.Client) (*api.Event, error) { return c.Event(ctx, id) })
		var found *api.Event
		for _, x := range rs {
			var ae *api.Error
			switch {
			case x.err == nil:
				if found == nil {
					found = x.val
				}
			case errors.As(x.err, &ae) && ae.Status == 404:
			default:
				msg := x.ex.url + ": " + describeErr(x.err, d.basicAuth)
				if !failed[msg] {
					failed[msg] = true
					out.Failed = append(out.Failed, msg)
				}
			}
		}
		if found != nil {
			out.Events = append(out.Events, found)
		} else {
			out.Missing = append(out.Missing, id)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
