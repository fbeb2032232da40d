package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// WriteGrafanaProvisioning writes a provisioning directory for a Grafana
// pointed at this stack: the project's provisioning files
// (dashboards/provisioning, alerting/grafana) with the stack's URLs in
// place of their environment variables, and a copy of the dashboards. It
// returns the directory to give grafana-server as paths.provisioning
// (GF_PATHS_PROVISIONING).
func (s *Stack) WriteGrafanaProvisioning(root string) (string, error) {
	dir := filepath.Join(s.Dir, "grafana")
	prov := filepath.Join(dir, "provisioning")
	dash := filepath.Join(dir, "dashboards")
	var exporter string
	if len(s.Exporters) > 0 {
		exporter = s.Exporters[0].URL
	}
	env := strings.NewReplacer(
		"${DBSEC_PROMETHEUS_URL}", s.PrometheusURL,
		"${DBSEC_EXPORTER_URL}", exporter,
		"${DBSEC_ALERTMANAGER_URL}", s.AlertmanagerURL,
		"${DBSEC_DASHBOARDS_DIR}", dash,
	)
	files := map[string]string{
		filepath.Join(root, "dashboards", "provisioning", "datasources.yaml"): filepath.Join(prov, "datasources", "dbsec.yaml"),
		filepath.Join(root, "dashboards", "provisioning", "dashboards.yaml"):  filepath.Join(prov, "dashboards", "dbsec.yaml"),
	}
	if s.AlertmanagerURL != "" {
		files[filepath.Join(root, "alerting", "grafana", "dbsec.yaml")] = filepath.Join(prov, "alerting", "dbsec.yaml")
	}
	for from, to := range files {
		b, err := os.ReadFile(from)
		if err != nil {
			return "", err
		}
		if err := writeFile(to, []byte(env.Replace(string(b)))); err != nil {
			return "", err
		}
	}
	for _, d := range []string{"plugins", "notifiers"} {
		if err := os.MkdirAll(filepath.Join(prov, d), 0o755); err != nil {
			return "", err
		}
	}
	boards, err := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	if err != nil {
		return "", err
	}
	for _, b := range boards {
		if filepath.Base(b) == "includes.json" {
			continue
		}
		data, err := os.ReadFile(b)
		if err != nil {
			return "", err
		}
		if err := writeFile(filepath.Join(dash, filepath.Base(b)), data); err != nil {
			return "", err
		}
	}
	return prov, nil
}

// StoreRange returns the time of the oldest and newest stored event of the
// first exporter (from /api/v1/status): the sample logs carry their own
// timestamps, which is where the dbsec data source's panels find them.
func (s *Stack) StoreRange(ctx context.Context) (oldest, newest time.Time, err error) {
	if len(s.Exporters) == 0 {
		return oldest, newest, fmt.Errorf("no exporter")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Exporters[0].URL+"/api/v1/status", nil)
	if err != nil {
		return oldest, newest, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return oldest, newest, err
	}
	defer resp.Body.Close()
	var st struct {
		Store struct {
			Oldest time.Time `json:"oldest"`
			Newest time.Time `json:"newest"`
		} `json:"store"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return oldest, newest, err
	}
	return st.Store.Oldest, st.Store.Newest, nil
}
