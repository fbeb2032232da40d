package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dbsec/dbsec/pkg/store"
)

// Client is a typed client of the API. It is safe for concurrent use.
type Client struct {
	base string
	hc   *http.Client
}

// NewClient returns a client of the exporter at baseURL (scheme, host and
// an optional path prefix, without /api/v1). A nil httpClient uses
// http.DefaultClient; set its Transport for TLS and basic auth.
func NewClient(baseURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: httpClient}
}

func (c *Client) get(ctx context.Context, path string, v url.Values, out any) error {
	u := c.base + path
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(body, e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(body))
		}
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func setInt(v url.Values, k string, n int64) {
	if n > 0 {
		v.Set(k, strconv.FormatInt(n, 10))
	}
}

// Events returns one page of events (pass page.Next as q.Cursor for the
// next one).
func (c *Client) Events(ctx context.Context, q store.EventQuery) (EventPage, error) {
	v := encodeFilter(&q.Filter)
	setInt(v, "limit", int64(q.Limit))
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	var out EventPage
	err := c.get(ctx, "/api/v1/events", v, &out)
	return out, err
}

// Event returns one event by id.
func (c *Client) Event(ctx context.Context, id string) (*Event, error) {
	var out Event
	if err := c.get(ctx, "/api/v1/events/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Series returns event counts per step.
func (c *Client) Series(ctx context.Context, q store.SeriesQuery) (SeriesResult, error) {
	v := encodeFilter(&q.Filter)
	if q.Step > 0 {
		v.Set("step", q.Step.String())
	}
	if q.By != "" {
		v.Set("by", string(q.By))
	}
	setInt(v, "top", int64(q.Top))
	var out SeriesResult
	err := c.get(ctx, "/api/v1/series", v, &out)
	return out, err
}

// Top ranks the values of q.By.
func (c *Client) Top(ctx context.Context, q store.TopQuery) (TopResult, error) {
	v := encodeFilter(&q.Filter)
	v.Set("by", string(q.By))
	setInt(v, "limit", int64(q.Limit))
	var out TopResult
	err := c.get(ctx, "/api/v1/top", v, &out)
	return out, err
}

// Values lists distinct values of q.Field (template variables).
func (c *Client) Values(ctx context.Context, q store.ValuesQuery) ([]string, error) {
	v := encodeFilter(&q.Filter)
	setInt(v, "limit", int64(q.Limit))
	var out Values
	err := c.get(ctx, "/api/v1/values/"+url.PathEscape(string(q.Field)), v, &out)
	return out.Values, err
}

// Detections returns one page of detections.
func (c *Client) Detections(ctx context.Context, q store.DetectionQuery) (DetectionPage, error) {
	v := url.Values{}
	if !q.From.IsZero() {
		v.Set("from", fmtTime(q.From))
	}
	if !q.To.IsZero() {
		v.Set("to", fmtTime(q.To))
	}
	for k, vs := range map[string][]string{"rule": q.Rule, "severity": q.Severity, "source": q.Source, "user": q.User, "client_ip": q.ClientIP} {
		for _, s := range vs {
			v.Add(k, s)
		}
	}
	setInt(v, "limit", int64(q.Limit))
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	var out DetectionPage
	err := c.get(ctx, "/api/v1/detections", v, &out)
	return out, err
}

// Findings returns one page of current configuration findings.
func (c *Client) Findings(ctx context.Context, q store.FindingQuery) (FindingPage, error) {
	v := url.Values{}
	for _, s := range q.Target {
		v.Add("target", s)
	}
	for _, s := range q.Severity {
		v.Add("severity", s.String())
	}
	for _, s := range q.Status {
		v.Add("status", string(s))
	}
	for _, s := range q.Rule {
		v.Add("rule", s)
	}
	setInt(v, "limit", int64(q.Limit))
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	var out FindingPage
	err := c.get(ctx, "/api/v1/findings", v, &out)
	return out, err
}

// DriftChanges returns one page of configuration drift changes.
func (c *Client) DriftChanges(ctx context.Context, q store.DriftQuery) (DriftPage, error) {
	v := url.Values{}
	if !q.From.IsZero() {
		v.Set("from", fmtTime(q.From))
	}
	if !q.To.IsZero() {
		v.Set("to", fmtTime(q.To))
	}
	for _, s := range q.Target {
		v.Add("target", s)
	}
	setInt(v, "limit", int64(q.Limit))
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	var out DriftPage
	err := c.get(ctx, "/api/v1/drift/changes", v, &out)
	return out, err
}

// Integrity verifies the event hash chain (q.Start, q.End: 0 for all).
func (c *Client) Integrity(ctx context.Context, q store.IntegrityQuery) (IntegrityReport, error) {
	v := url.Values{}
	setInt(v, "start", q.Start)
	setInt(v, "end", q.End)
	var out IntegrityReport
	err := c.get(ctx, "/api/v1/integrity", v, &out)
	return out, err
}

// Status returns the exporter's version, sources and store statistics.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var out Status
	err := c.get(ctx, "/api/v1/status", nil, &out)
	return out, err
}
