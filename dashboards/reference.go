package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Markers of the generated panel reference in docs/dashboards.md.
const (
	refBegin = "<!-- BEGIN GENERATED: go tool mage dashboards -->"
	refEnd   = "<!-- END GENERATED -->"
)

// Reference renders the panel reference of docs/dashboards.md: per
// dashboard its panels (type, data source, description) and where their
// links lead.
func Reference(boards []Board) (string, error) {
	titles := map[string]string{}
	for _, b := range boards {
		titles[b.UID] = b.Title
	}
	linkRe := regexp.MustCompile(`/d/([a-z0-9-]+)/[a-z0-9-]+\?([^"]*)`)
	varRe := regexp.MustCompile(`var-([a-z_]+)=|\$\{([a-z_]+):queryparam\}`)
	var out strings.Builder
	for _, b := range boards {
		var d struct {
			Description string           `json:"description"`
			Panels      []map[string]any `json:"panels"`
		}
		if err := json.Unmarshal(b.JSON, &d); err != nil {
			return "", err
		}
		fmt.Fprintf(&out, "### %s\n\n`%s` (uid `%s`). %s\n\n", b.Title, b.File, b.UID, d.Description)
		out.WriteString("| panel | type | data | links to |\n|---|---|---|---|\n")
		for _, p := range d.Panels {
			if p["type"] == "row" {
				fmt.Fprintf(&out, "| **%s** | | | |\n", p["title"])
				continue
			}
			data := "—"
			if ds, ok := p["datasource"].(map[string]any); ok {
				data = map[string]string{"prometheus": "Prometheus", PluginID: "dbsec"}[ds["type"].(string)]
				if data == "dbsec" {
					var types []string
					for _, tg := range p["targets"].([]any) {
						qt, _ := tg.(map[string]any)["queryType"].(string)
						types = append(types, qt)
					}
					data += " " + strings.Join(types, ", ")
				}
			}
			pj, _ := json.Marshal(p)
			var links []string
			for _, m := range linkRe.FindAllStringSubmatch(string(pj), -1) {
				var vars []string
				for _, vm := range varRe.FindAllStringSubmatch(m[2], -1) {
					if n := vm[1] + vm[2]; n != VarDBSec && n != VarPrometheus && !slices.Contains(vars, n) {
						vars = append(vars, n)
					}
				}
				l := titles[m[1]]
				if len(vars) > 0 {
					l += " (" + strings.Join(vars, ", ") + ")"
				}
				if !slices.Contains(links, l) {
					links = append(links, l)
				}
			}
			desc, _ := p["description"].(string)
			fmt.Fprintf(&out, "| %s: %s | %s | %s | %s |\n", p["title"], strings.ReplaceAll(desc, "|", "\\|"), p["type"], data, strings.Join(links, "; "))
		}
		out.WriteString("\n")
	}
	return out.String(), nil
}

// WriteReference replaces the generated section of the doc at path.
func WriteReference(path string) error {
	boards, err := Boards()
	if err != nil {
		return err
	}
	ref, err := Reference(boards)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated, err := replaceReference(string(b), ref)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(updated), 0o644)
}

func replaceReference(doc, ref string) (string, error) {
	i, j := strings.Index(doc, refBegin), strings.Index(doc, refEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("no %q … %q section", refBegin, refEnd)
	}
	return doc[:i+len(refBegin)] + "\n" + ref + doc[j:], nil
}
