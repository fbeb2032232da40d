package dashboards

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestPluginIncludesDashboards checks that the plugin ships every
// generated dashboard: plugin/plugin.json's includes equal
// dashboards/includes.json, and every path is a dashboard file here.
func TestPluginIncludesDashboards(t *testing.T) {
	type include struct {
		Type string `json:"type"`
		Name string `json:"name"`
		Path string `json:"path"`
	}
	var want []include
	b, err := os.ReadFile("includes.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	var plugin struct {
		Includes []include `json:"includes"`
	}
	b, err = os.ReadFile(filepath.Join("..", "plugin", "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &plugin); err != nil {
		t.Fatal(err)
	}
	if len(want) < 10 || !reflect.DeepEqual(plugin.Includes, want) {
		t.Fatalf("plugin.json includes %d dashboards, dashboards/includes.json %d (copy includes.json into plugin.json after regenerating)", len(plugin.Includes), len(want))
	}
	for _, inc := range want {
		if _, err := os.Stat(filepath.Join("..", inc.Path)); err != nil {
			t.Errorf("%s: %v", inc.Path, err)
		}
	}
}
