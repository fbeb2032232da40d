package demo

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dbsec/dbsec/pkg/config"
)

// AuditURL returns the base URL of the TDengine audit receiver that the
// configuration at path declares ("" when it declares none).
func AuditURL(path string) (string, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return "", err
	}
	for _, s := range cfg.Sources {
		if s.IsHTTPReceiver() {
			return s.Listen, nil
		}
	}
	return "", nil
}

// PushAudit posts the records of file (one JSON object per line) to the
// receiver at base in one /audit-batch body, as taosd does, and returns how
// many it sent.
func PushAudit(ctx context.Context, c *http.Client, base, file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	var recs []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return 0, fmt.Errorf("%s:%d: not a JSON record", file, n)
		}
		recs = append(recs, json.RawMessage(append([]byte(nil), line...)))
	}
	body, err := json.Marshal(map[string]any{"records": recs})
	if err != nil {
		return 0, err
	}
	// The receiver starts with the sources, after the exporter answers
	// /-/ready: try until it listens or ctx ends.
	var resp *http.Response
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/audit-batch", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err = c.Do(req)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("POST %s/audit-batch: %s: %s", base, resp.Status, bytes.TrimSpace(msg))
	}
	return len(recs), nil
}

// WaitReady polls base/-/ready until it answers 200.
func WaitReady(ctx context.Context, c *http.Client, base string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/-/ready", nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the exporter at %s did not become ready: %w", base, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Status is the part of /api/v1/status the demo reads.
type Status struct {
	Sources []struct {
		Name   string `json:"name"`
		Format string `json:"format"`
		Up     bool   `json:"up"`
		Events uint64 `json:"events"`
		Errors uint64 `json:"errors"`
	} `json:"sources"`
	Store struct {
		Queued int64 `json:"queued"`
		Events int64 `json:"events"`
	} `json:"store"`
}

func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(b))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(b, v)
}

// Settle waits until the exporter has stored what it read: the store's
// queue is empty and its event count has not changed for a second. tick,
// when set, is called at every poll (for progress dots).
func Settle(ctx context.Context, c *http.Client, base string, tick func()) (*Status, error) {
	var last int64 = -1
	for {
		var st Status
		if err := getJSON(ctx, c, base+"/api/v1/status", &st); err != nil {
			return nil, err
		}
		if st.Store.Queued == 0 && st.Store.Events == last && last > 0 {
			return &st, nil
		}
		last = st.Store.Events
		if tick != nil {
			tick()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the store did not settle: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// Count is a name and how often it occurred.
type Count struct {
	Name string
	N    int
}

// Summary is what the demo found, read back through the API.
type Summary struct {
	Status     Status
	Detections []Count // by rule and severity
	DetTotal   int
	Findings   []Count // failing findings by severity
	FindTotal  int
	// Routes is every API route the demo asked, with the size of its
	// answer's list (or 1 for a single object); Empty lists those that
	// answered nothing.
	Routes []Count
	Empty  []string
}

// Report reads the status, the detections of the last 24 hours, the
// failing findings, and one request per API route.
func Report(ctx context.Context, c *http.Client, base string) (*Summary, error) {
	s := &Summary{}
	if err := getJSON(ctx, c, base+"/api/v1/status", &s.Status); err != nil {
		return nil, err
	}
	var dets struct {
		Detections []struct {
			Rule     string `json:"rule"`
			Severity string `json:"severity"`
		} `json:"detections"`
	}
	if err := getJSON(ctx, c, base+"/api/v1/detections?limit=10000", &dets); err != nil {
		return nil, err
	}
	byRule := map[string]int{}
	for _, d := range dets.Detections {
		name := d.Rule
		if d.Severity != "" {
			name += " (" + d.Severity + ")"
		}
		byRule[name]++
	}
	s.DetTotal = len(dets.Detections)
	s.Detections = counts(byRule)
	var fs struct {
		Findings []struct {
			Severity string `json:"severity"`
			Waiver   any    `json:"waiver"`
		} `json:"findings"`
	}
	if err := getJSON(ctx, c, base+"/api/v1/findings?status=fail&limit=10000", &fs); err != nil {
		return nil, err
	}
	bySev := map[string]int{}
	for _, f := range fs.Findings {
		bySev[f.Severity]++
	}
	s.FindTotal = len(fs.Findings)
	s.Findings = counts(bySev)

	var evs struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	if err := getJSON(ctx, c, base+"/api/v1/events?limit=1", &evs); err != nil {
		return nil, err
	}
	routes := []string{"events", "series?by=category&step=5m", "top?by=user", "values/source", "detections", "findings",
		"drift/changes", "integrity", "status"}
	if len(evs.Events) > 0 {
		routes = append(routes, "events/"+url.PathEscape(evs.Events[0].ID))
	}
	for _, r := range routes {
		var m map[string]json.RawMessage
		if err := getJSON(ctx, c, base+"/api/v1/"+r, &m); err != nil {
			return nil, err
		}
		n := size(m)
		s.Routes = append(s.Routes, Count{"/api/v1/" + r, n})
		if n == 0 {
			s.Empty = append(s.Empty, "/api/v1/"+r)
		}
	}
	return s, nil
}

// size is the length of the answer's list (events, series, items, values,
// detections, findings, changes, sources), or 1 for another object.
func size(m map[string]json.RawMessage) int {
	for _, k := range []string{"events", "series", "items", "values", "detections", "findings", "changes", "sources"} {
		if raw, ok := m[k]; ok {
			var l []json.RawMessage
			if json.Unmarshal(raw, &l) == nil {
				return len(l)
			}
		}
	}
	if raw, ok := m["checked"]; ok { // integrity
		var n int
		_ = json.Unmarshal(raw, &n)
		return n
	}
	if len(m) > 0 {
		return 1
	}
	return 0
}

func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Name, b.Name)) })
	return out
}

// Print writes the summary for a person at a terminal.
func (s *Summary) Print(w io.Writer, base string) {
	var events uint64
	up := 0
	for _, src := range s.Status.Sources {
		events += src.Events
		if src.Up {
			up++
		}
	}
	fmt.Fprintf(w, "\nWhat dbsec found (from %s/api/v1/…):\n", base)
	fmt.Fprintf(w, "  sources: %d of %d up, %d events parsed, %d events stored\n", up, len(s.Status.Sources), events, s.Status.Store.Events)
	for _, src := range s.Status.Sources {
		fmt.Fprintf(w, "    %-18s %-18s %4d events  %d parse errors\n", src.Name, src.Format, src.Events, src.Errors)
	}
	fmt.Fprintf(w, "  detections in the last 24 h: %d\n", s.DetTotal)
	for _, d := range s.Detections {
		fmt.Fprintf(w, "    %3d  %s\n", d.N, d.Name)
	}
	fmt.Fprintf(w, "  failing configuration findings: %d\n", s.FindTotal)
	for _, f := range s.Findings {
		fmt.Fprintf(w, "    %3d  %s\n", f.N, f.Name)
	}
	fmt.Fprintln(w, "  API routes (items in the answer):")
	for _, r := range s.Routes {
		fmt.Fprintf(w, "    %5d  %s%s\n", r.N, base, r.Name)
	}
	if len(s.Empty) > 0 {
		fmt.Fprintf(w, "  empty: %s\n", strings.Join(s.Empty, ", "))
	}
}

// ErrEmpty is returned by Check when a route answered nothing.
var ErrEmpty = errors.New("empty API answers")

// Check returns ErrEmpty when some route answered nothing.
func (s *Summary) Check() error {
	if len(s.Empty) > 0 {
		return fmt.Errorf("%w: %s", ErrEmpty, strings.Join(s.Empty, ", "))
	}
	return nil
}
