package alerting

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/dbsec/dbsec/pkg/grafana/model"
)

// TestGrafanaAlerting checks grafana/dbsec.yaml against Grafana's file
// provisioning format for alerting (the keys it uses, decoded strictly):
// every query goes to a provisioned data source (uids of
// dashboards/provisioning/datasources.yaml) or to server-side expressions,
// dbsec queries are model.Query with a numeric (series) query type, the
// condition exists, and the rules route to the contact point defined here.
func TestGrafanaAlerting(t *testing.T) {
	type query struct {
		RefID             string         `yaml:"refId"`
		DatasourceUID     string         `yaml:"datasourceUid"`
		RelativeTimeRange map[string]int `yaml:"relativeTimeRange"`
		Model             map[string]any `yaml:"model"`
	}
	var f struct {
		APIVersion    int `yaml:"apiVersion"`
		ContactPoints []struct {
			OrgID     int    `yaml:"orgId"`
			Name      string `yaml:"name"`
			Receivers []struct {
				UID                   string            `yaml:"uid"`
				Type                  string            `yaml:"type"`
				Settings              map[string]string `yaml:"settings"`
				DisableResolveMessage bool              `yaml:"disableResolveMessage"`
			} `yaml:"receivers"`
		} `yaml:"contactPoints"`
		Groups []struct {
			OrgID    int    `yaml:"orgId"`
			Name     string `yaml:"name"`
			Folder   string `yaml:"folder"`
			Interval string `yaml:"interval"`
			Rules    []struct {
				UID                  string            `yaml:"uid"`
				Title                string            `yaml:"title"`
				Condition            string            `yaml:"condition"`
				For                  string            `yaml:"for"`
				NoDataState          string            `yaml:"noDataState"`
				ExecErrState         string            `yaml:"execErrState"`
				Labels               map[string]string `yaml:"labels"`
				Annotations          map[string]string `yaml:"annotations"`
				NotificationSettings struct {
					Receiver string `yaml:"receiver"`
				} `yaml:"notification_settings"`
				Data []query `yaml:"data"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile("grafana/dbsec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	receivers := map[string]bool{}
	for _, cp := range f.ContactPoints {
		receivers[cp.Name] = true
		for _, r := range cp.Receivers {
			if r.Type != "prometheus-alertmanager" || r.Settings["url"] == "" {
				t.Errorf("contact point %s: receiver %+v", cp.Name, r)
			}
		}
	}
	n := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			n++
			if !receivers[r.NotificationSettings.Receiver] {
				t.Errorf("%s: receiver %q is not a contact point of the file", r.Title, r.NotificationSettings.Receiver)
			}
			if !slices.Contains(severities, r.Labels["severity"]) {
				t.Errorf("%s: severity %q", r.Title, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: annotation %s missing", r.Title, a)
				}
			}
			refs := map[string]bool{}
			for _, q := range r.Data {
				refs[q.RefID] = true
				switch q.DatasourceUID {
				case "__expr__":
				case "dbsec":
					js, _ := json.Marshal(q.Model)
					d := json.NewDecoder(bytes.NewReader(js))
					d.DisallowUnknownFields()
					var mq model.Query
					if err := d.Decode(&mq); err != nil {
						t.Errorf("%s: %s: not a model.Query: %v", r.Title, q.RefID, err)
					}
					if mq.QueryType != model.Series {
						t.Errorf("%s: %s: query type %q: alert rules need numeric series", r.Title, q.RefID, mq.QueryType)
					}
					for _, fl := range mq.Filters {
						if !slices.Contains(model.FilterKeys(), fl.Key) {
							t.Errorf("%s: %s: filter key %q", r.Title, q.RefID, fl.Key)
						}
					}
				case "prometheus":
				default:
					t.Errorf("%s: %s: data source %q is not provisioned", r.Title, q.RefID, q.DatasourceUID)
				}
			}
			if !refs[r.Condition] {
				t.Errorf("%s: condition %s is not a query", r.Title, r.Condition)
			}
		}
	}
	if n == 0 {
		t.Error("no rules")
	}
}
