package dashboards

import (
	"bytes"
	"os"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The provisioning formats of Grafana (administration/provisioning), the
// keys this project uses, decoded strictly.
type datasourcesFile struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string            `yaml:"name"`
		Type           string            `yaml:"type"`
		UID            string            `yaml:"uid"`
		Access         string            `yaml:"access"`
		URL            string            `yaml:"url"`
		Editable       bool              `yaml:"editable"`
		IsDefault      bool              `yaml:"isDefault"`
		BasicAuth      bool              `yaml:"basicAuth"`
		BasicAuthUser  string            `yaml:"basicAuthUser"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

type dashboardsFile struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name                  string `yaml:"name"`
		OrgID                 int    `yaml:"orgId"`
		Folder                string `yaml:"folder"`
		FolderUID             string `yaml:"folderUid"`
		Type                  string `yaml:"type"`
		DisableDeletion       bool   `yaml:"disableDeletion"`
		AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `yaml:"path"`
			FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestProvisioning: the data sources have the uids and types the
// dashboards' variables select, and the provider reads a directory.
func TestProvisioning(t *testing.T) {
	var ds datasourcesFile
	decodeStrict(t, "provisioning/datasources.yaml", &ds)
	want := map[string]string{ProvisionedPrometheusUID: "prometheus", ProvisionedDBSecUID: PluginID}
	if ds.APIVersion != 1 || len(ds.Datasources) != len(want) {
		t.Fatalf("datasources.yaml: apiVersion %d, %d data sources", ds.APIVersion, len(ds.Datasources))
	}
	for _, d := range ds.Datasources {
		if want[d.UID] != d.Type {
			t.Errorf("data source %s: uid %q type %q", d.Name, d.UID, d.Type)
		}
		if d.Access != "proxy" || d.URL == "" {
			t.Errorf("data source %s: access %q url %q", d.Name, d.Access, d.URL)
		}
	}
	for _, l := range loadAll(t) {
		vars := variables(l)
		for name, uid := range map[string]string{VarPrometheus: ProvisionedPrometheusUID, VarDBSec: ProvisionedDBSecUID} {
			cur, _ := vars[name]["current"].(map[string]any)
			if cur["value"] != uid {
				t.Errorf("%s: variable %s defaults to %v, want the provisioned uid %s", l.file, name, cur["value"], uid)
			}
		}
	}
	var dp dashboardsFile
	decodeStrict(t, "provisioning/dashboards.yaml", &dp)
	if dp.APIVersion != 1 || len(dp.Providers) != 1 {
		t.Fatalf("dashboards.yaml: apiVersion %d, %d providers", dp.APIVersion, len(dp.Providers))
	}
	p := dp.Providers[0]
	if p.Type != "file" || p.Options.Path == "" || p.FolderUID == "" || p.Options.FoldersFromFilesStructure {
		t.Errorf("dashboards.yaml: provider %+v", p)
	}
}
