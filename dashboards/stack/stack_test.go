package stack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dbsec/dbsec/pkg/config"
)

// TestPrepareConfig rewrites testdata/demo.toml: the exporter accepts the
// result, every source reads an empty copy of its files under the new
// directory, state and store move there, and the other files keep
// pointing at the repository.
func TestPrepareConfig(t *testing.T) {
	dir := t.TempDir()
	p, err := PrepareConfig("../../testdata/demo.toml", dir)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := config.Load("../../testdata/demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.Load(p.Config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Server.StateDir, dir) || !strings.HasPrefix(got.Store.Path, dir) {
		t.Errorf("state %s, store %s: not under %s", got.Server.StateDir, got.Store.Path, dir)
	}
	if len(p.Feeds) == 0 {
		t.Fatal("no sample files")
	}
	for _, f := range p.Feeds {
		if !strings.HasPrefix(f.To, filepath.Join(dir, "logs")) {
			t.Errorf("copy %s outside %s/logs", f.To, dir)
		}
		if st, err := os.Stat(f.To); err != nil || st.Size() != 0 {
			t.Errorf("copy %s: %v, want an empty file", f.To, err)
		}
		if st, err := os.Stat(f.From); err != nil || st.Size() == 0 {
			t.Errorf("sample %s: %v, want a non-empty file", f.From, err)
		}
	}
	for i, s := range got.Sources {
		if s.Name != orig.Sources[i].Name || s.Format.Name != orig.Sources[i].Format.Name {
			t.Errorf("source %d: %s/%s, want %s/%s", i, s.Name, s.Format.Name, orig.Sources[i].Name, orig.Sources[i].Format.Name)
		}
		if s.Path != "" && !strings.HasPrefix(s.Path, dir) {
			t.Errorf("source %s reads %s, outside %s", s.Name, s.Path, dir)
		}
	}
	for i, tg := range got.Drift.Targets {
		for j, f := range tg.Files {
			want, _ := filepath.Abs(orig.Drift.Targets[i].Files[j])
			if f != want {
				t.Errorf("drift target %s: file %s, want %s", tg.Name, f, want)
			}
		}
	}
	if err := p.FeedSamples(); err != nil {
		t.Fatal(err)
	}
	for _, f := range p.Feeds {
		a, _ := os.ReadFile(f.From)
		b, _ := os.ReadFile(f.To)
		if string(a) != string(b) {
			t.Errorf("%s: the copy differs from the sample after FeedSamples", f.To)
		}
	}
}

// TestStack runs what `go tool mage stack` runs: the exporter on the demo
// samples, Prometheus with alerting/rules and Alertmanager with
// alerting/alertmanager.yml. The samples' detections must reach the
// Alertmanager sink, and the Grafana provisioning written for the stack
// must carry its URLs.
func TestStack(t *testing.T) {
	if testing.Short() {
		t.Skip("real Prometheus and Alertmanager test skipped in -short mode")
	}
	for _, tool := range [][]string{{"prometheus", "prometheus"}, {"prometheus-alertmanager", "prometheus-alertmanager", "alertmanager"}} {
		if _, err := LookTool(tool[0], tool[1:]...); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "dbsec_exporter")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./exporter")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./exporter: %v\n%s", err, out)
	}
	alerts := &lines{}
	s, err := Start(ctx, Options{Root: "../..", Configs: []string{"../../testdata/demo.toml"}, Exporter: bin,
		Dir: filepath.Join(tmp, "stack"), ScrapeInterval: time.Second, Alerts: alerts})
	if err != nil {
		var me *MissingToolError
		if errors.As(err, &me) && os.Getenv("CI") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	defer s.Stop()
	if err := s.WaitSamplesScraped(ctx); err != nil {
		t.Fatal(err)
	}
	// Alertmanager has the alerts Prometheus sent (delivery to the sink
	// waits for alertmanager.yml's group_wait).
	err = s.waitFor(ctx, "alerts in Alertmanager", func() (bool, error) {
		resp, err := http.Get(s.AlertmanagerURL + "/api/v2/alerts")
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		var as []struct {
			Labels map[string]string `json:"labels"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&as); err != nil {
			return false, err
		}
		for _, a := range as {
			if strings.HasPrefix(a.Labels["alertname"], "DBSec") {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Logs(2000))
	}
	prov, err := s.WriteGrafanaProvisioning("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(prov, "datasources", "dbsec.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Datasources []struct {
			UID string `yaml:"uid"`
			URL string `yaml:"url"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatal(err)
	}
	urls := map[string]string{}
	for _, d := range ds.Datasources {
		urls[d.UID] = d.URL
	}
	if urls["prometheus"] != s.PrometheusURL || urls["dbsec"] != s.Exporters[0].URL {
		t.Errorf("provisioned data sources %v, want prometheus %s and dbsec %s", urls, s.PrometheusURL, s.Exporters[0].URL)
	}
	boards, _ := filepath.Glob(filepath.Join(filepath.Dir(prov), "dashboards", "*.json"))
	if len(boards) < 10 {
		t.Errorf("%d dashboards copied for Grafana", len(boards))
	}
	if oldest, newest, err := s.StoreRange(ctx); err != nil || oldest.IsZero() || newest.Before(oldest) {
		t.Errorf("store range %v – %v: %v", oldest, newest, err)
	}
	s.Stop()
	if err := s.Exited(); err == nil {
		t.Error("processes still running after Stop")
	}
}

type lines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
