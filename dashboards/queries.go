package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/dbsec/dbsec/pkg/grafana/model"
)

// PanelQuery is one dbsec query of a dashboard: a panel's target, an
// annotation's or a variable's query.
type PanelQuery struct {
	File  string // dashboard file
	Where string // "panel <title> <refId>", "annotation <name>" or "variable <name>"
	Query model.Query
}

// varExpr matches $name, ${name} and ${name:format}.
var varExpr = regexp.MustCompile(`^\$(?:\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|([A-Za-z_][A-Za-z0-9_]*))$`)

// Interpolate applies the dashboards' variables to a dbsec query the way
// the data source must: vars maps a variable to its selected values, and a
// variable missing from vars is set to All.
//
//   - a filter on a variable set to All is dropped;
//   - a filter on a variable with several values becomes one "=" filter per
//     value (alternatives);
//   - a filter whose value is empty is dropped;
//   - q, by and step take the variable's first value ("" for All).
//
// Values that are not a lone variable are kept as they are.
func Interpolate(q model.Query, vars map[string][]string) model.Query {
	one := func(s string) string {
		m := varExpr.FindStringSubmatch(s)
		if m == nil {
			return s
		}
		if vs := vars[m[1]+m[2]]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	var fs []model.Filter
	for _, f := range q.Filters {
		m := varExpr.FindStringSubmatch(f.Value)
		if m == nil {
			if f.Value != "" {
				fs = append(fs, f)
			}
			continue
		}
		vs, set := vars[m[1]+m[2]]
		if !set {
			continue // All
		}
		for _, v := range vs {
			if v != "" {
				fs = append(fs, model.Filter{Key: f.Key, Op: f.Op, Value: v})
			}
		}
	}
	q.Filters = fs
	q.Q, q.By, q.Step, q.Field = one(q.Q), one(q.By), one(q.Step), one(q.Field)
	return q
}

// DBSecQueries returns every dbsec query of the dashboards, interpolated
// with each dashboard's default variable values (All, empty text boxes,
// the default series dimension). A test of the data source can run them
// against an exporter to check that every panel of the dashboards answers.
func DBSecQueries() ([]PanelQuery, error) {
	boards, err := Boards()
	if err != nil {
		return nil, err
	}
	var out []PanelQuery
	for _, b := range boards {
		var d struct {
			Panels []struct {
				Type       string           `json:"type"`
				Title      string           `json:"title"`
				Datasource map[string]any   `json:"datasource"`
				Targets    []map[string]any `json:"targets"`
			} `json:"panels"`
			Annotations struct {
				List []struct {
					Name       string         `json:"name"`
					Datasource map[string]any `json:"datasource"`
					Target     map[string]any `json:"target"`
				} `json:"list"`
			} `json:"annotations"`
			Templating struct {
				List []struct {
					Name       string         `json:"name"`
					Type       string         `json:"type"`
					Datasource map[string]any `json:"datasource"`
					Query      any            `json:"query"`
					Current    struct {
						Value any `json:"value"`
					} `json:"current"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b.JSON, &d); err != nil {
			return nil, err
		}
		vars := map[string][]string{}
		for _, v := range d.Templating.List {
			switch cur := v.Current.Value.(type) {
			case string:
				vars[v.Name] = []string{cur}
			case []any:
				var vs []string
				for _, x := range cur {
					vs = append(vs, fmt.Sprint(x))
				}
				if len(vs) == 1 && vs[0] == "$__all" {
					continue // All
				}
				vars[v.Name] = vs
			}
		}
		add := func(where string, raw map[string]any) error {
			js, err := json.Marshal(raw)
			if err != nil {
				return err
			}
			var q model.Query
			if err := json.Unmarshal(js, &q); err != nil {
				return fmt.Errorf("%s: %s: %w", b.File, where, err)
			}
			out = append(out, PanelQuery{File: b.File, Where: where, Query: Interpolate(q, vars)})
			return nil
		}
		for _, p := range d.Panels {
			if p.Datasource["type"] != PluginID {
				continue
			}
			for i, t := range p.Targets {
				if err := add(fmt.Sprintf("panel %s %s", p.Title, refID(i)), t); err != nil {
					return nil, err
				}
			}
		}
		for _, a := range d.Annotations.List {
			if a.Datasource["type"] == PluginID {
				if err := add("annotation "+a.Name, a.Target); err != nil {
					return nil, err
				}
			}
		}
		for _, v := range d.Templating.List {
			if m, ok := v.Query.(map[string]any); ok && v.Type == "query" && v.Datasource["type"] == PluginID {
				if err := add("variable "+v.Name, m); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// String describes a query in one line, for test messages.
func (p PanelQuery) String() string {
	var f []string
	for _, x := range p.Query.Filters {
		f = append(f, x.Key+x.Op+x.Value)
	}
	return fmt.Sprintf("%s: %s: %s %s", p.File, p.Where, p.Query.QueryType, strings.Join(f, ","))
}
