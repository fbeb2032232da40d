package drift

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseCompose reads a docker-compose file into one Doc per service. YAML
// anchors, aliases and "<<" merge keys are resolved. A service's env is
// its env_file entries in order (later files win) overlaid by
// environment: (map or list form), as Compose does. An env_file that
// cannot be read is recorded in Doc.Unresolved (rules whose keys are all
// absent then evaluate to unknown), unless it is marked required: false.
// environment entries without a value (taken from the shell) are also
// unresolved references.
func parseCompose(path string, b []byte, opt ReadOptions) []*Doc {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		d := newDoc(KindCompose, path)
		d.ParseErr = yamlPosError(path, err)
		return []*Doc{d}
	}
	top := deref(&root)
	if top == nil || top.Kind == yaml.DocumentNode && len(top.Content) == 0 {
		d := newDoc(KindCompose, path)
		d.ParseErr = &PosError{File: path, Msg: "empty compose file", Err: ErrParse}
		return []*Doc{d}
	}
	if top.Kind == yaml.DocumentNode {
		top = deref(top.Content[0])
	}
	if top.Kind != yaml.MappingNode {
		d := newDoc(KindCompose, path)
		d.ParseErr = &PosError{File: path, Line: top.Line, Col: top.Column, Msg: "compose file is not a mapping", Err: ErrParse}
		return []*Doc{d}
	}
	svcs := mapGet(top, "services")
	if svcs == nil || svcs.Kind != yaml.MappingNode {
		d := newDoc(KindCompose, path)
		d.ParseErr = &PosError{File: path, Line: top.Line, Col: top.Column, Msg: "no services mapping", Err: ErrParse}
		return []*Doc{d}
	}
	var docs []*Doc
	for _, kv := range mapPairs(svcs) {
		name, svc := kv[0].Value, kv[1]
		d := newDoc(KindCompose, path)
		d.Subject = name
		if svc.Kind != yaml.MappingNode {
			docs = append(docs, d)
			continue
		}
		image := ""
		if n := mapGet(svc, "image"); n != nil && n.Kind == yaml.ScalarNode {
			image = n.Value
		}
		if ef := mapGet(svc, "env_file"); ef != nil {
			for _, ref := range envFileRefs(ef) {
				p := resolveRef(path, ref.path, opt)
				eb, err := opt.read(p)
				if err != nil {
					if ref.required {
						d.Unresolved = append(d.Unresolved, fmt.Sprintf("env_file %s (line %d): %v", ref.path, ref.line, shortErr(err)))
					}
					continue
				}
				ed := ParseEnv(p, eb)
				for _, k := range ed.Keys() {
					e, _ := ed.Get(k)
					d.set(e)
				}
			}
		}
		if env := mapGet(svc, "environment"); env != nil {
			switch env.Kind {
			case yaml.MappingNode:
				for _, p := range mapPairs(env) {
					k, v := p[0], p[1]
					if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
						d.Unresolved = append(d.Unresolved, fmt.Sprintf("environment %s (line %d): value taken from the shell", k.Value, k.Line))
						continue
					}
					d.set(&Entry{Key: k.Value, Value: v.Value, Line: k.Line, Col: k.Column, Source: path})
				}
			case yaml.SequenceNode:
				for _, it := range env.Content {
					it = deref(it)
					if it == nil || it.Kind != yaml.ScalarNode {
						continue
					}
					k, v, ok := strings.Cut(it.Value, "=")
					if !ok {
						d.Unresolved = append(d.Unresolved, fmt.Sprintf("environment %s (line %d): value taken from the shell", k, it.Line))
						continue
					}
					d.set(&Entry{Key: k, Value: v, Line: it.Line, Col: it.Column, Source: path})
				}
			}
		}
		d.Role = composeRole(image, d)
		docs = append(docs, d)
	}
	return docs
}

func shortErr(err error) string {
	if isNotExist(err) {
		return "not found"
	}
	return err.Error()
}

func composeRole(image string, d *Doc) string {
	img := strings.ToLower(image)
	switch {
	case strings.Contains(img, "postgres") || strings.Contains(img, "pgautoupgrade"):
		return "postgres"
	case strings.Contains(img, "redash/redash") || strings.HasPrefix(img, "redash:"):
		return "redash"
	}
	for k := range d.entries {
		if strings.HasPrefix(k, "REDASH_") {
			return "redash"
		}
	}
	return ""
}

type envRef struct {
	path     string
	line     int
	required bool
}

func envFileRefs(n *yaml.Node) []envRef {
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		return []envRef{{n.Value, n.Line, true}}
	case yaml.SequenceNode:
		var out []envRef
		for _, it := range n.Content {
			it = deref(it)
			switch it.Kind {
			case yaml.ScalarNode:
				out = append(out, envRef{it.Value, it.Line, true})
			case yaml.MappingNode:
				r := envRef{line: it.Line, required: true}
				if p := mapGet(it, "path"); p != nil {
					r.path = p.Value
				}
				if q := mapGet(it, "required"); q != nil && (q.Value == "false" || q.Value == "False") {
					r.required = false
				}
				if r.path != "" {
					out = append(out, r)
				}
			}
		}
		return out
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	return n
}

// mapPairs returns key/value pairs of a mapping with "<<" merges applied
// (explicit keys override merged ones; earlier merge sources win, as in
// YAML 1.1).
func mapPairs(n *yaml.Node) [][2]*yaml.Node {
	budget := 10000
	return mapPairsDepth(n, 0, &budget)
}

// mapPairsDepth bounds recursion depth and total work so that hostile
// merge chains ("billion laughs") cannot blow up.
func mapPairsDepth(n *yaml.Node, depth int, budget *int) [][2]*yaml.Node {
	n = deref(n)
	*budget--
	if n == nil || n.Kind != yaml.MappingNode || depth > 32 || *budget < 0 {
		return nil
	}
	idx := map[string]int{}
	var out [][2]*yaml.Node
	put := func(k, v *yaml.Node, override bool) {
		if i, ok := idx[k.Value]; ok {
			if override {
				out[i] = [2]*yaml.Node{k, v}
			}
			return
		}
		idx[k.Value] = len(out)
		out = append(out, [2]*yaml.Node{k, v})
	}
	var merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Value == "<<" && k.Tag != "!!str" {
			if v.Kind == yaml.SequenceNode {
				for _, s := range v.Content {
					merged = append(merged, mapPairsDepth(s, depth+1, budget)...)
				}
			} else {
				merged = append(merged, mapPairsDepth(v, depth+1, budget)...)
			}
			continue
		}
		put(k, v, true)
	}
	for _, p := range merged {
		put(p[0], p[1], false)
	}
	return out
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
	for _, p := range mapPairs(n) {
		if p[0].Value == key {
			return deref(p[1])
		}
	}
	return nil
}

func yamlPosError(path string, err error) *PosError {
	pe := &PosError{File: path, Msg: err.Error(), Err: ErrParse}
	var line int
	msg := err.Error()
	if _, e := fmt.Sscanf(strings.TrimPrefix(msg, "yaml: "), "line %d:", &line); e == nil {
		pe.Line = line
		if i := strings.Index(msg, ": "); i >= 0 {
			if j := strings.Index(msg[i+2:], ": "); j >= 0 {
				pe.Msg = msg[i+2+j+2:]
			}
		}
	}
	return pe
}
