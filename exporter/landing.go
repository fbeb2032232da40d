package main

import (
	"cmp"
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/store"
)

// The landing page at / says what the exporter is doing: its sources and
// their state, the detections of the last 24 hours, the failing
// configuration findings and the store, with links into the API. It is
// server-rendered HTML without scripts, built only from public pieces: the
// store.Querier, the api.SourceStatus list, the metrics registry (lines read
// per source) and the configuration file (the paths the sources follow).

//go:embed landing.html
var landingFS embed.FS

var landingTmpl = template.Must(template.New("landing.html").Funcs(template.FuncMap{
	"ago":   ago,
	"bytes": humanBytes,
	"rate":  func(r float64) string { return fmt.Sprintf("%.1f", r) },
	"sevlink": func(base, sev string) string {
		if sev == "" {
			return base
		}
		return base + "?" + url.Values{"severity": {sev}}.Encode()
	},
	// sevname names a severity; detections stored without one say so.
	"sevname": func(sev string) string { return cmp.Or(sev, "unrated") },
}).ParseFS(landingFS, "landing.html"))

// landingOptions configure the landing page.
type landingOptions struct {
	// Version is the exporter's version line (version.Info()).
	Version string
	// MetricsPath is where the metrics are served.
	MetricsPath string
	// ConfigFile is read for the paths and listeners of the sources; it is
	// re-read when it changes, as a reload would.
	ConfigFile string
	// Querier is the event store (nil when [store] enabled = false).
	Querier store.Querier
	// Sources reports the running sources (as /api/v1/status does).
	Sources func() []api.SourceStatus
	// Gatherer is the metrics registry: lines read and read errors per source.
	Gatherer prometheus.Gatherer
	// DocsURL is where the documentation is (README, runbooks).
	DocsURL string
	Now     func() time.Time
	Logger  *slog.Logger
}

// landingPage is the handler of /.
type landingPage struct {
	opts    landingOptions
	started time.Time

	mu      sync.Mutex
	samples []lineSample // for lines/s, oldest first
	cfg     *config.Config
	cfgMod  time.Time
}

// lineSample is the lines read per source at one time.
type lineSample struct {
	at    time.Time
	lines map[string]float64
}

func newLandingPage(o landingOptions) *landingPage {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DocsURL == "" {
		o.DocsURL = "https://github.com/dbsec/dbsec#readme"
	}
	return &landingPage{opts: o, started: o.Now()}
}

// landingSource is one row of the sources table.
type landingSource struct {
	Name, Format, Input string
	Up                  bool
	Network             bool
	Files               int // files the path matches now (-1: the pattern is invalid)
	Lines               float64
	LinesPerSec         float64
	Events              uint64
	ParseErrors         uint64
	ReadErrors          float64
	LastEvent           time.Time
	Problem             string
}

// sevCount is the count of one severity, with its API link.
type sevCount struct {
	Severity string
	Count    int
}

// ruleCount is the count of one detection rule in the last 24 hours.
type ruleCount struct {
	Rule     string
	Severity string
	Count    int
	Last     time.Time
}

type landingData struct {
	Version, MetricsPath, DocsURL, ConfigFile string
	Now                                       time.Time
	Started                                   time.Time
	Sources                                   []landingSource
	SourcesUp                                 int
	StoreEnabled                              bool
	Store                                     store.Stats
	Detections                                []sevCount
	DetectionTotal                            int
	DetectionsCapped                          bool
	Rules                                     []ruleCount
	Findings                                  []sevCount
	FindingTotal                              int
	FindingTargets                            int
	Errors                                    []string
}

// detectionSeverities is the order of detection severities on the page;
// severities not listed come after them.
var detectionSeverities = []string{"critical", "high", "warning", "medium", "low", "info"}

func sevRank(s string) int {
	if i := slices.Index(detectionSeverities, s); i >= 0 {
		return i
	}
	return len(detectionSeverities)
}

// maxLandingDetections bounds the detections read for one page view.
const maxLandingDetections = 50000

func (l *landingPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	d := l.collect(ctx)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := landingTmpl.Execute(w, d); err != nil {
		l.opts.Logger.Error("landing page", "err", err)
	}
}

// collect gathers everything the page shows. Problems with one part are
// listed on the page; the other parts are still shown.
func (l *landingPage) collect(ctx context.Context) *landingData {
	now := l.opts.Now()
	d := &landingData{
		Version: l.opts.Version, MetricsPath: l.opts.MetricsPath, DocsURL: l.opts.DocsURL,
		ConfigFile: l.opts.ConfigFile, Now: now, Started: l.started,
	}
	d.Sources = l.sources(ctx, now, d)
	for _, s := range d.Sources {
		if s.Up {
			d.SourcesUp++
		}
	}
	if q := l.opts.Querier; q != nil {
		d.StoreEnabled = true
		d.Store = q.Stats()
		l.detections(ctx, q, now, d)
		l.findings(ctx, q, d)
	}
	return d
}

func (l *landingPage) sources(ctx context.Context, now time.Time, d *landingData) []landingSource {
	var status []api.SourceStatus
	if l.opts.Sources != nil {
		status = l.opts.Sources()
	}
	cfg := l.config(d)
	lines, readErrs := l.metrics(d)
	rates := l.rates(now, lines)
	out := make([]landingSource, 0, len(status))
	for _, st := range status {
		s := landingSource{Name: st.Name, Format: st.Format, Up: st.Up, Events: st.Events, ParseErrors: st.Errors,
			Lines: lines[st.Name], LinesPerSec: rates[st.Name], ReadErrors: readErrs[st.Name], Files: -1}
		if cfg != nil {
			for _, cs := range cfg.Sources {
				if cs.Name != st.Name {
					continue
				}
				if cs.Listen != "" {
					s.Input, s.Network = cs.Listen, true
				} else {
					s.Input = cs.Path
					// Paths under the configuration's directory are shown
					// relative to it, as they are usually written there.
					if rel, err := filepath.Rel(filepath.Dir(cfg.File), cs.Path); err == nil && !strings.HasPrefix(rel, "..") {
						s.Input = rel
					}
					if m, err := filepath.Glob(cs.Path); err == nil {
						s.Files = len(m)
					}
				}
			}
		}
		switch {
		case !st.Up:
			s.Problem = "stopped (see the log)"
		case !s.Network && s.Files == 0:
			s.Problem = "no file matches the path yet"
		}
		if q := l.opts.Querier; q != nil {
			p, err := q.Events(ctx, store.EventQuery{Filter: store.Filter{Source: []string{st.Name}}, Limit: 1})
			if err != nil {
				d.Errors = append(d.Errors, fmt.Sprintf("last event of %s: %v", st.Name, err))
			} else if len(p.Events) > 0 {
				s.LastEvent = p.Events[0].Time
			}
		}
		out = append(out, s)
	}
	return out
}

// config returns the configuration, re-read when the file changed. A file
// that no longer loads keeps the last good one (as a failed reload does).
func (l *landingPage) config(d *landingData) *config.Config {
	if l.opts.ConfigFile == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fi, err := os.Stat(l.opts.ConfigFile)
	if err == nil && (l.cfg == nil || !fi.ModTime().Equal(l.cfgMod)) {
		cfg, err := config.Load(l.opts.ConfigFile)
		if err != nil {
			d.Errors = append(d.Errors, "the configuration file does not load; showing the last good one (POST /-/reload shows why)")
		} else {
			l.cfg, l.cfgMod = cfg, fi.ModTime()
		}
	}
	return l.cfg
}

// metrics reads lines read and read errors per source from the registry.
func (l *landingPage) metrics(d *landingData) (lines, readErrs map[string]float64) {
	lines, readErrs = map[string]float64{}, map[string]float64{}
	if l.opts.Gatherer == nil {
		return
	}
	mfs, err := l.opts.Gatherer.Gather()
	if err != nil && len(mfs) == 0 {
		d.Errors = append(d.Errors, "metrics: "+err.Error())
		return
	}
	for _, mf := range mfs {
		var into map[string]float64
		switch mf.GetName() {
		case "dbsec_lines_read_total":
			into = lines
		case "dbsec_source_read_errors_total":
			into = readErrs
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "source" {
					into[lp.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return lines, readErrs
}

// rates turns the lines read into lines per second: over the last minute
// when the page was viewed then, else since the exporter started.
func (l *landingPage) rates(now time.Time, lines map[string]float64) map[string]float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	ref := lineSample{at: l.started}
	for _, s := range l.samples {
		if age := now.Sub(s.at); age >= 10*time.Second && age <= time.Minute {
			ref = s
			break
		}
	}
	out := map[string]float64{}
	if dt := now.Sub(ref.at).Seconds(); dt > 0 {
		for name, n := range lines {
			out[name] = max(0, n-ref.lines[name]) / dt
		}
	}
	// Keep the samples of the last minute, at most one per 5 seconds.
	if n := len(l.samples); n == 0 || now.Sub(l.samples[n-1].at) >= 5*time.Second {
		l.samples = append(l.samples, lineSample{at: now, lines: lines})
	}
	l.samples = slices.DeleteFunc(l.samples, func(s lineSample) bool { return now.Sub(s.at) > time.Minute })
	return out
}

func (l *landingPage) detections(ctx context.Context, q store.Querier, now time.Time, d *landingData) {
	bySev := map[string]int{}
	byRule := map[string]*ruleCount{}
	cursor := ""
	for {
		p, err := q.Detections(ctx, store.DetectionQuery{From: now.Add(-24 * time.Hour), To: now.Add(time.Minute), Limit: 10000, Cursor: cursor})
		if err != nil {
			d.Errors = append(d.Errors, "detections: "+err.Error())
			break
		}
		for _, x := range p.Detections {
			d.DetectionTotal++
			bySev[x.Severity]++
			rc := byRule[x.Rule+"\x00"+x.Severity]
			if rc == nil {
				rc = &ruleCount{Rule: x.Rule, Severity: x.Severity}
				byRule[x.Rule+"\x00"+x.Severity] = rc
			}
			rc.Count++
			if x.Time.After(rc.Last) {
				rc.Last = x.Time
			}
		}
		if p.Next == "" {
			break
		}
		if d.DetectionTotal >= maxLandingDetections {
			d.DetectionsCapped = true
			break
		}
		cursor = p.Next
	}
	for sev, n := range bySev {
		d.Detections = append(d.Detections, sevCount{Severity: sev, Count: n})
	}
	slices.SortFunc(d.Detections, func(a, b sevCount) int {
		return cmp.Or(cmp.Compare(sevRank(a.Severity), sevRank(b.Severity)), cmp.Compare(a.Severity, b.Severity))
	})
	for _, rc := range byRule {
		d.Rules = append(d.Rules, *rc)
	}
	slices.SortFunc(d.Rules, func(a, b ruleCount) int {
		return cmp.Or(cmp.Compare(sevRank(a.Severity), sevRank(b.Severity)), cmp.Compare(b.Count, a.Count), cmp.Compare(a.Rule, b.Rule))
	})
}

func (l *landingPage) findings(ctx context.Context, q store.Querier, d *landingData) {
	bySev := map[finding.Severity]int{}
	targets := map[string]bool{}
	cursor := ""
	for range 100 {
		p, err := q.Findings(ctx, store.FindingQuery{Status: []finding.Status{finding.Fail}, Limit: 10000, Cursor: cursor})
		if err != nil {
			d.Errors = append(d.Errors, "findings: "+err.Error())
			break
		}
		for i := range p.Findings {
			f := &p.Findings[i]
			targets[f.Target] = true
			if f.Failing() {
				bySev[f.Severity]++
				d.FindingTotal++
			}
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	d.FindingTargets = len(targets)
	sevs := finding.Severities()
	for i := len(sevs) - 1; i >= 0; i-- {
		if n := bySev[sevs[i]]; n > 0 {
			d.Findings = append(d.Findings, sevCount{Severity: sevs[i].String(), Count: n})
		}
	}
}

// ago renders the time since t ("12s ago", "3h ago"); "never" for zero.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in the future (" + t.UTC().Format(time.RFC3339) + ")"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
