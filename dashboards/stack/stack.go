package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// Options configure a stack.
type Options struct {
	// Root is the repository root: alerting/ is read from it.
	Root string
	// Configs are the dbsec configurations whose samples are served, one
	// exporter each.
	Configs []string
	// Exporter is the dbsec_exporter binary.
	Exporter string
	// Dir holds every process's data and log (a temporary directory).
	Dir string
	// ScrapeInterval of Prometheus (also its evaluation interval);
	// default 5s.
	ScrapeInterval time.Duration
	// NoAlertmanager leaves Alertmanager out (and Prometheus without an
	// alerting section).
	NoAlertmanager bool
	// Alerts, when set, receives a line per notification Alertmanager
	// delivers (its receivers are pointed at a sink in this process).
	Alerts io.Writer
}

// Stack is a running stack.
type Stack struct {
	PrometheusURL, AlertmanagerURL string
	Exporters                      []Exporter
	Dir                            string

	procs []*proc
	sink  *http.Server
}

// Exporter is one running exporter.
type Exporter struct {
	URL, Addr string
	Prepared  *Prepared
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// MissingToolError names the Debian package of a tool not found in PATH.
type MissingToolError struct{ Tool, Package string }

func (e *MissingToolError) Error() string {
	return fmt.Sprintf("%s not found in PATH: install the Debian package %s (apt-get install %s)", e.Tool, e.Package, e.Package)
}

// LookTool finds the first of names in PATH, or returns a
// *MissingToolError naming pkg.
func LookTool(pkg string, names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", &MissingToolError{Tool: names[0], Package: pkg}
}

// Start starts the exporter, Alertmanager and Prometheus, waits until
// Prometheus has scraped the exporter, and appends the samples. On error
// everything already started is stopped.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.ScrapeInterval == 0 {
		o.ScrapeInterval = 5 * time.Second
	}
	promBin, err := LookTool("prometheus", "prometheus")
	if err != nil {
		return nil, err
	}
	var amBin string
	if !o.NoAlertmanager {
		if amBin, err = LookTool("prometheus-alertmanager", "prometheus-alertmanager", "alertmanager"); err != nil {
			return nil, err
		}
	}
	s = &Stack{Dir: o.Dir}
	defer func() {
		if err != nil {
			s.Stop()
			if _, missing := err.(*MissingToolError); !missing && len(s.procs) > 0 {
				err = fmt.Errorf("%w\n%s", err, s.Logs(2000))
			}
			s = nil
		}
	}()
	var targets []string
	for i, c := range o.Configs {
		name := fmt.Sprintf("exporter-%d", i+1)
		p, err := PrepareConfig(c, filepath.Join(o.Dir, name))
		if err != nil {
			return s, err
		}
		addr, err := freePort("tcp")
		if err != nil {
			return s, err
		}
		if err = s.start(name, o.Exporter, "--config.file="+p.Config, "--web.listen-address="+addr); err != nil {
			return s, err
		}
		e := Exporter{URL: "http://" + addr, Addr: addr, Prepared: p}
		if err = s.waitReady(ctx, e.URL+"/-/ready"); err != nil {
			return s, err
		}
		s.Exporters = append(s.Exporters, e)
		targets = append(targets, addr)
	}

	var amAddr string
	if !o.NoAlertmanager {
		sinkURL, err := s.startSink(o.Alerts)
		if err != nil {
			return s, err
		}
		cfg, err := alertmanagerConfig(filepath.Join(o.Root, "alerting", "alertmanager.yml"), sinkURL)
		if err != nil {
			return s, err
		}
		amCfg := filepath.Join(o.Dir, "alertmanager", "alertmanager.yml")
		if err := writeFile(amCfg, cfg); err != nil {
			return s, err
		}
		if amAddr, err = freePort("tcp"); err != nil {
			return s, err
		}
		if err := s.start("alertmanager", amBin,
			"--config.file="+amCfg,
			"--storage.path="+filepath.Join(o.Dir, "alertmanager", "data"),
			"--web.listen-address="+amAddr,
			"--cluster.listen-address=",
		); err != nil {
			return s, err
		}
		s.AlertmanagerURL = "http://" + amAddr
		if err := s.waitReady(ctx, s.AlertmanagerURL+"/-/ready"); err != nil {
			return s, err
		}
	}

	rules, err := filepath.Glob(filepath.Join(o.Root, "alerting", "rules", "*.yml"))
	if err != nil {
		return s, err
	}
	for i, r := range rules {
		if rules[i], err = filepath.Abs(r); err != nil {
			return s, err
		}
	}
	promCfg := map[string]any{
		"global": map[string]any{
			"scrape_interval":     o.ScrapeInterval.String(),
			"evaluation_interval": o.ScrapeInterval.String(),
		},
		"rule_files": rules,
		"scrape_configs": []any{map[string]any{
			"job_name":       "dbsec",
			"static_configs": []any{map[string]any{"targets": targets}},
		}},
	}
	if amAddr != "" {
		promCfg["alerting"] = map[string]any{"alertmanagers": []any{map[string]any{
			"static_configs": []any{map[string]any{"targets": []string{amAddr}}},
		}}}
	}
	b, err := yaml.Marshal(promCfg)
	if err != nil {
		return s, err
	}
	promFile := filepath.Join(o.Dir, "prometheus", "prometheus.yml")
	if err := writeFile(promFile, b); err != nil {
		return s, err
	}
	promAddr, err := freePort("tcp")
	if err != nil {
		return s, err
	}
	if err := s.start("prometheus", promBin,
		"--config.file="+promFile,
		"--storage.tsdb.path="+filepath.Join(o.Dir, "prometheus", "data"),
		"--web.listen-address="+promAddr,
	); err != nil {
		return s, err
	}
	s.PrometheusURL = "http://" + promAddr
	if err := s.waitReady(ctx, s.PrometheusURL+"/-/ready"); err != nil {
		return s, err
	}

	// The zero counters first, then the samples.
	if err := s.waitFor(ctx, "Prometheus to scrape the exporters", func() (bool, error) {
		v, err := s.Query(ctx, `sum(up{job="dbsec"})`)
		return err == nil && len(v) == 1 && v[0].Value == float64(len(targets)), nil
	}); err != nil {
		return s, err
	}
	for _, e := range s.Exporters {
		if err := e.Prepared.FeedSamples(); err != nil {
			return s, err
		}
	}
	return s, nil
}

// WaitSamplesScraped waits until the exporter has read every sample line
// and Prometheus holds that count.
func (s *Stack) WaitSamplesScraped(ctx context.Context) error {
	var want float64
	for _, e := range s.Exporters {
		for _, f := range e.Prepared.Feeds {
			b, err := os.ReadFile(f.From)
			if err != nil {
				return err
			}
			want += float64(strings.Count(string(b), "\n"))
		}
	}
	if err := s.waitFor(ctx, fmt.Sprintf("Prometheus to hold the %v sample lines", want), func() (bool, error) {
		v, err := s.Query(ctx, `sum(dbsec_lines_read_total{job="dbsec"})`)
		return err == nil && len(v) == 1 && v[0].Value >= want, nil
	}); err != nil {
		return err
	}
	// Two more scrapes of every exporter, so that rate() has two samples
	// of each series after the samples.
	return s.waitFor(ctx, "two more scrapes of every exporter", func() (bool, error) {
		v, err := s.Query(ctx, fmt.Sprintf(`count(count_over_time(dbsec_exporter_build_info{job="dbsec"}[1h]) >= 3) == %d`, len(s.Exporters)))
		return err == nil && len(v) == 1, nil
	})
}

// Sample is one element of an instant vector.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant query. A query error (bad PromQL) is returned as
// an error with Prometheus's message.
func (s *Stack) Query(ctx context.Context, q string) ([]Sample, error) {
	u := s.PrometheusURL + "/api/v1/query?query=" + url.QueryEscape(q)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s: %s", q, r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &vec); err != nil {
			return nil, err
		}
		out := make([]Sample, 0, len(vec))
		for _, e := range vec {
			f, _ := strconv.ParseFloat(fmt.Sprint(e.Value[1]), 64)
			out = append(out, Sample{Labels: e.Metric, Value: f})
		}
		return out, nil
	case "scalar":
		var sc [2]any
		if err := json.Unmarshal(r.Data.Result, &sc); err != nil {
			return nil, err
		}
		f, _ := strconv.ParseFloat(fmt.Sprint(sc[1]), 64)
		return []Sample{{Value: f}}, nil
	}
	return nil, fmt.Errorf("query %s: result type %s", q, r.Data.ResultType)
}

// Stop stops every process (SIGTERM, then SIGKILL after 10 s) in reverse
// order of start.
func (s *Stack) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		select {
		case <-p.done:
			continue
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if s.sink != nil {
		_ = s.sink.Close()
	}
}

// Logs returns the tail of each process's log, for failure messages.
func (s *Stack) Logs(max int) string {
	var b strings.Builder
	for _, p := range s.procs {
		data, _ := os.ReadFile(p.log)
		if len(data) > max {
			data = data[len(data)-max:]
		}
		fmt.Fprintf(&b, "--- %s (%s) ---\n%s\n", p.name, p.log, data)
	}
	return b.String()
}

// Exited reports a process that stopped on its own.
func (s *Stack) Exited() error {
	for _, p := range s.procs {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v (log: %s)", p.name, p.err, p.log)
		default:
		}
	}
	return nil
}

// Done is closed when any process exits.
func (s *Stack) Done() <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	for _, p := range s.procs {
		go func() {
			<-p.done
			once.Do(func() { close(ch) })
		}()
	}
	return ch
}

func (s *Stack) start(name, bin string, args ...string) error {
	logPath := filepath.Join(s.Dir, name+".log")
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	lf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Dir = s.Dir
	detach(cmd)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	s.procs = append(s.procs, p)
	return nil
}

func (s *Stack) waitReady(ctx context.Context, u string) error {
	return s.waitFor(ctx, u, func() (bool, error) {
		resp, err := http.Get(u)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// waitFor polls cond every 100 ms until it holds, a process exits or ctx
// ends.
func (s *Stack) waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if err := s.Exited(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startSink serves the webhook that Alertmanager's receivers are pointed
// at; each notification becomes a line on w.
func (s *Stack) startSink(w io.Writer) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	var mu sync.Mutex
	s.sink = &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []struct {
				Status      string            `json:"status"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		if w == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, a := range msg.Alerts {
			fmt.Fprintf(w, "alert %s → %s: %s %s: %s\n", a.Status, filepath.Base(r.URL.Path), a.Labels["alertname"], a.Labels["severity"], a.Annotations["summary"])
		}
	})}
	go func() { _ = s.sink.Serve(l) }()
	return "http://" + l.Addr().String(), nil
}

// alertmanagerConfig is alerting/alertmanager.yml with every webhook
// pointed at base/<receiver>.
func alertmanagerConfig(path, base string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	recs, _ := cfg["receivers"].([]any)
	if len(recs) == 0 {
		return nil, errors.New(path + ": no receivers")
	}
	for _, r := range recs {
		r := r.(map[string]any)
		whs, _ := r["webhook_configs"].([]any)
		for _, w := range whs {
			w.(map[string]any)["url"] = base + "/" + fmt.Sprint(r["name"])
		}
	}
	return yaml.Marshal(cfg)
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
