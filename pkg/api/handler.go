// Package api owns the JSON API under /api/v1 (the only contract between
// the exporter and the Grafana plugin): an HTTP handler over a
// store.Querier, a typed Go client, and the OpenAPI description
// (openapi.yaml, checked against the handler by a test).
//
// Every parameter is validated and bad input gets HTTP 400 with a message
// that names the parameter; lists are paged with opaque cursors. The
// handler does no authentication itself: it is mounted on the exporter's
// listener, whose exporter-toolkit web config brings TLS and basic auth.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/redact"
	"github.com/dbsec/dbsec/pkg/store"
)

// SourceStatus is the health of one configured source, for /status.
type SourceStatus struct {
	Name   string `json:"name"`
	Format string `json:"format,omitempty"`
	Up     bool   `json:"up"`
	Events uint64 `json:"events"`
	Errors uint64 `json:"errors"`
	// LagBytes is how far the source is behind its input, when known.
	LagBytes int64 `json:"lag_bytes,omitempty"`
	// FilesMatched is how many files a file source's path or glob matched
	// at its last scan (absent for network sources); 0 is worth a look.
	FilesMatched *int `json:"files_matched,omitempty"`
}

// Status is the answer of /api/v1/status.
type Status struct {
	Version string         `json:"version"`
	Time    time.Time      `json:"time"`
	Sources []SourceStatus `json:"sources"`
	Store   StoreStats     `json:"store"`
}

// Options configure the handler.
type Options struct {
	// Version is reported by /status.
	Version string
	// Sources reports the sources for /status (optional).
	Sources func() []SourceStatus
	// DefaultRange is the time range when from is missing (24h).
	DefaultRange time.Duration
	// Timeout bounds each request (30s).
	Timeout time.Duration
	// Redact is applied again to statement and raw on the way out
	// (defaults to redact.String).
	Redact func(string) string
	Now    func() time.Time
	Logger *slog.Logger
	// MaxScans is how many scans (free-text q, connection_id and not_*
	// event filters, integrity) run at once (default 2). The store's
	// readers are shared with every other route, so scans must leave some
	// free: cheap routes then stay fast while scans run.
	MaxScans int
	// ScanWait is how long a scan waits for a slot before the answer is
	// 429 with Retry-After (default 2s).
	ScanWait time.Duration
	// ScanTimeout is the deadline of each scan (default 15s); beyond it
	// the answer is 503 naming the parameter to narrow.
	ScanTimeout time.Duration
}

// OpenAPI is the description of every route (openapi.yaml), also served at
// /api/v1/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

type handler struct {
	q     store.Querier
	opts  Options
	mux   *http.ServeMux
	scans chan struct{}
}

// NewHandler returns the handler of every /api/v1/ route. Mount it on a
// shared mux with mux.Handle("/api/v1/", h).
func NewHandler(q store.Querier, opts Options) http.Handler {
	if opts.DefaultRange <= 0 {
		opts.DefaultRange = 24 * time.Hour
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Redact == nil {
		opts.Redact = func(s string) string { return redact.String(s) }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxScans <= 0 {
		opts.MaxScans = 2
	}
	if opts.ScanWait <= 0 {
		opts.ScanWait = 2 * time.Second
	}
	if opts.ScanTimeout <= 0 {
		opts.ScanTimeout = 15 * time.Second
	}
	h := &handler{q: q, opts: opts, mux: http.NewServeMux(), scans: make(chan struct{}, opts.MaxScans)}
	h.route("/api/v1/events", h.events)
	h.route("/api/v1/events/{id}", h.event)
	h.route("/api/v1/series", h.series)
	h.route("/api/v1/top", h.top)
	h.route("/api/v1/values/{field}", h.values)
	h.route("/api/v1/detections", h.detections)
	h.route("/api/v1/findings", h.findings)
	h.route("/api/v1/drift/changes", h.drift)
	h.route("/api/v1/integrity", h.integrity)
	h.route("/api/v1/status", h.status)
	h.mux.HandleFunc("GET /api/v1/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(OpenAPI)
	})
	h.mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, &Error{Message: "no such route: " + r.URL.Path})
	})
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

type routeFunc func(ctx context.Context, p *parser, r *http.Request) (any, error)

func (h *handler) route(pattern string, fn routeFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, &Error{Message: r.Method + " is not allowed; the API is read-only (GET)"})
	})
	h.mux.HandleFunc("GET "+pattern, func(w http.ResponseWriter, r *http.Request) {
		v, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, &Error{Message: "malformed query string"})
			return
		}
		p := &parser{v: v, now: h.opts.Now().UTC(), dflt: h.opts.DefaultRange}
		p.checkKnown(pattern)
		if p.err != nil {
			writeJSON(w, http.StatusBadRequest, p.err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
		defer cancel()
		out, err := fn(ctx, p, r)
		if err == nil && p.err != nil {
			err = p.err
		}
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func (h *handler) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ae *Error
	var pe *store.ParamError
	switch {
	case errors.As(err, &ae):
		if ae.RetryAfter != "" {
			w.Header().Set("Retry-After", ae.RetryAfter)
		}
		writeJSON(w, ae.Status, ae)
	case errors.As(err, &pe):
		writeJSON(w, http.StatusBadRequest, &Error{Param: pe.Param, Message: pe.Error()})
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, &Error{Message: "not found"})
	case errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusServiceUnavailable, &Error{Message: "query timed out"})
	default:
		// Never echo database errors to the client.
		h.opts.Logger.Error("api query failed", "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, &Error{Message: "internal error"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// Keep "<redacted>" readable; nosniff and the JSON content type keep
	// browsers from rendering the answer as HTML.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (h *handler) clean(evs ...*event.Event) {
	for _, ev := range evs {
		// Every text field, as the store and the export do; Options.Redact
		// comes on top for statement, raw and reason.
		redact.Event(ev)
		ev.Statement = h.opts.Redact(ev.Statement)
		ev.Raw = h.opts.Redact(ev.Raw)
		ev.Reason = h.opts.Redact(ev.Reason)
	}
}

// scan runs fn as a scan: in one of Options.MaxScans slots (waiting at
// most ScanWait for one: 429 with Retry-After) and within ScanTimeout
// (503 naming param, the parameter to narrow).
func (h *handler) scan(ctx context.Context, param string, fn func(ctx context.Context) (any, error)) (any, error) {
	t := time.NewTimer(h.opts.ScanWait)
	defer t.Stop()
	select {
	case h.scans <- struct{}{}:
		defer func() { <-h.scans }()
	case <-t.C:
		return nil, &Error{Status: http.StatusTooManyRequests, Param: param, RetryAfter: "5",
			Message: fmt.Sprintf("%d scans are running (free-text q, connection_id, not_* filters, integrity): retry later", h.opts.MaxScans)}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	sctx, cancel := context.WithTimeout(ctx, h.opts.ScanTimeout)
	defer cancel()
	out, err := fn(sctx)
	if errors.Is(err, context.DeadlineExceeded) || (err == nil && sctx.Err() != nil && ctx.Err() == nil) {
		return nil, &Error{Status: http.StatusServiceUnavailable, Param: param, RetryAfter: "5",
			Message: fmt.Sprintf("the scan did not finish within %v: narrow the time range (from, to) or the filters", h.opts.ScanTimeout)}
	}
	return out, err
}

// scanParam names the parameter that makes an event query a scan ("" if
// it is not one).
func scanParam(f store.Filter) string {
	switch {
	case f.Q != "":
		return "q"
	case len(f.ConnectionID) > 0:
		return "connection_id"
	case f.Not != nil:
		return "not"
	}
	return ""
}

func (h *handler) events(ctx context.Context, p *parser, _ *http.Request) (any, error) {
	q := store.EventQuery{Filter: p.filter(), Limit: int(p.intParam("limit", 1, 10000, 100)), Cursor: p.cursor()}
	if p.err != nil {
		return nil, p.err
	}
	run := func(ctx context.Context) (any, error) {
		page, err := h.q.Events(ctx, q)
		if err != nil {
			return nil, err
		}
		h.clean(page.Events...)
		return wireEventPage(page), nil
	}
	if param := scanParam(q.Filter); param != "" {
		return h.scan(ctx, param, run)
	}
	return run(ctx)
}

func (h *handler) event(ctx context.Context, p *parser, r *http.Request) (any, error) {
	id := r.PathValue("id")
	if !reDigest.MatchString(id) {
		return nil, badParam("id", "invalid event id %q", clip(id))
	}
	ev, err := h.q.Event(ctx, id)
	if err != nil {
		return nil, err
	}
	h.clean(ev)
	return wireEvent(ev), nil
}

func (h *handler) series(ctx context.Context, p *parser, _ *http.Request) (any, error) {
	f := p.filter()
	q := store.SeriesQuery{Filter: f, By: p.dimension("by", false), Top: int(p.intParam("top", 1, 1000, 0))}
	if p.err != nil {
		return nil, p.err
	}
	q.Step = p.step(f.From, f.To)
	if p.err != nil {
		return nil, p.err
	}
	r, err := h.q.Series(ctx, q)
	return wireSeries(r), err
}

func (h *handler) top(ctx context.Context, p *parser, _ *http.Request) (any, error) {
	q := store.TopQuery{Filter: p.filter(), By: p.dimension("by", true), Limit: int(p.intParam("limit", 1, 1000, 10))}
	if p.err != nil {
		return nil, p.err
	}
	r, err := h.q.Top(ctx, q)
	return wireTop(r), err
}

func (h *handler) values(ctx context.Context, p *parser, r *http.Request) (any, error) {
	field := r.PathValue("field")
	d, ok := store.ParseDimension(field)
	if !ok {
		return nil, badParam("field", "unknown field %q (one of: %s)", clip(field), dimNames())
	}
	// Without from and to, values are listed over the whole store.
	hasRange := p.v.Has("from") || p.v.Has("to")
	f := p.filter()
	if !hasRange {
		f.From, f.To = time.Time{}, time.Time{}
	}
	q := store.ValuesQuery{Filter: f, Field: d, Limit: int(p.intParam("limit", 1, 10000, 1000))}
	if p.err != nil {
		return nil, p.err
	}
	vs, err := h.q.Values(ctx, q)
	return Values{Field: field, Values: vs}, err
}

func (h *handler) detections(ctx context.Context, p *parser, _ *http.Request) (any, error) {
	from, to := p.timeRange(true)
	q := store.DetectionQuery{
		From: from, To: to,
		Rule:     p.strs("rule", reName, "a rule id"),
		Severity: set(p, "severity", parseDetectionSeverity, store.DetectionSeverities()),
		Source:   p.strs("source", reName, "a source name"),
		User:     p.strs("user", nil, ""),
		ClientIP: p.strs("client_ip", reIP, "an IP address or host name"),
		Limit:    int(p.intParam("limit", 1, 10000, 100)),
		Cursor:   p.cursor(),
	}
	if p.err != nil {
		return nil, p.err
	}
	r, err := h.q.Detections(ctx, q)
	return wireDetections(r), err
}

func parseDetectionSeverity(s string) (string, error) {
	if slices.Contains(store.DetectionSeverities(), s) {
		return s, nil
	}
	return "", fmt.Errorf("unknown severity")
}

func (h *handler) findings(ctx context.Context, p *parser, _ *http.Request) (any, error) {
	q := store.FindingQuery{
		Target:   p.strs("target", reName, "a target name"),
		Severity: p.severities(),
		Status:   p.statuses(),
		Rule:     p.strs("rule", reName, "a rule id"),
		Limit:    int(p.intParam("limit", 1, 10000, 100)),
		Cursor:   p.cursor(),
	}
	if p.err != nil {
		return nil, p.err
	}
	r, err := h.q.Findings(ctx, q)
	return wireFindings(r), err
}

func (h *handler) drift(ctx context.Context, p *parser, _ *http.Request) (any, error) {
	from, to := p.timeRange(false)
	q := store.DriftQuery{From: from, To: to, Target: p.strs("target", reName, "a target name"),
		Limit: int(p.intParam("limit", 1, 10000, 100)), Cursor: p.cursor()}
	if p.err != nil {
		return nil, p.err
	}
	r, err := h.q.DriftChanges(ctx, q)
	return wireDrift(r), err
}

func (h *handler) integrity(ctx context.Context, p *parser, _ *http.Request) (any, error) {
	q := store.IntegrityQuery{Start: p.intParam("start", 1, 1<<62, 0), End: p.intParam("end", 1, 1<<62, 0)}
	if p.err != nil {
		return nil, p.err
	}
	if q.Start > 0 && q.End > 0 && q.Start > q.End {
		return nil, badParam("start", "must not be after end")
	}
	return h.scan(ctx, "start", func(ctx context.Context) (any, error) {
		r, err := h.q.Integrity(ctx, q)
		if err != nil {
			return nil, err
		}
		return wireIntegrity(r), nil
	})
}

func (h *handler) status(_ context.Context, _ *parser, _ *http.Request) (any, error) {
	st := Status{Version: h.opts.Version, Time: h.opts.Now().UTC(), Sources: []SourceStatus{}, Store: wireStats(h.q.Stats())}
	if h.opts.Sources != nil {
		st.Sources = h.opts.Sources()
	}
	return st, nil
}
