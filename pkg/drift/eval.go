package drift

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

type res uint8

const (
	rPass res = iota
	rFail
	rUnknown
	rSkip
)

type leafOut struct {
	st          res
	key         string
	line        int
	observed    string
	defaultUsed bool
	msg         string
}

type evalEnv struct {
	doc     *Doc
	version Version
	vstr    string
	edition string
	facts   map[string]string
	params  map[string]any
	defs    *Defaults
	red     *Redactor
}

func (x *evalEnv) kind() Kind { return x.doc.Kind }

// eval evaluates a condition tree.
func (x *evalEnv) eval(c *Cond) (res, []leafOut) {
	switch {
	case len(c.All) > 0:
		var outs []leafOut
		sts := make([]res, 0, len(c.All))
		for _, s := range c.All {
			st, o := x.eval(s)
			sts = append(sts, st)
			outs = append(outs, o...)
		}
		return combine(sts, rFail, rPass), outs
	case len(c.Any) > 0:
		var outs []leafOut
		sts := make([]res, 0, len(c.Any))
		for _, s := range c.Any {
			st, o := x.eval(s)
			sts = append(sts, st)
			outs = append(outs, o...)
		}
		return combine(sts, rPass, rFail), outs
	case c.Not != nil:
		st, o := x.eval(c.Not)
		switch st {
		case rPass:
			st = rFail
		case rFail:
			st = rPass
		}
		for i := range o {
			o[i].st = st
		}
		return st, o
	}
	o := x.leaf(c)
	return o.st, []leafOut{o}
}

// combine: any `decisive` wins; else unknown; else all skip → skip; else
// `rest`.
func combine(sts []res, decisive, rest res) res {
	unknown, allSkip := false, true
	for _, s := range sts {
		if s == decisive {
			return decisive
		}
		if s == rUnknown {
			unknown = true
		}
		if s != rSkip {
			allSkip = false
		}
	}
	switch {
	case unknown:
		return rUnknown
	case allSkip:
		return rSkip
	}
	return rest
}

func (x *evalEnv) ruleValue(c *Cond) any {
	if c.ValueParam != "" {
		return x.params[c.ValueParam]
	}
	return c.Value
}

func (x *evalEnv) leaf(c *Cond) leafOut {
	switch c.Op {
	case "removed_keys":
		return x.removedKeys(c)
	case "known_keys":
		return x.knownKeys(c)
	case "file_mode_max", "file_owner_in", "file_group_in", "not_symlink":
		return x.hostLeaf(c)
	}
	if c.Fact != "" {
		got, ok := x.facts[c.Fact]
		if !ok {
			return leafOut{st: rFail, key: "fact:" + c.Fact, msg: "fact " + c.Fact + " not set"}
		}
		return x.apply(c, "fact:"+c.Fact, got, 0, false)
	}
	if c.KeyGlob != "" {
		pat := foldKind(x.kind(), c.KeyGlob)
		var outs []leafOut
		for _, k := range x.doc.Keys() {
			if ok, _ := path.Match(pat, foldKind(x.kind(), k)); !ok {
				continue
			}
			e, _ := x.doc.Get(k)
			outs = append(outs, x.apply(c, k, e.Value, e.Line, false))
		}
		if len(outs) == 0 {
			return x.absent(c, c.KeyGlob)
		}
		var failed []leafOut
		for _, o := range outs {
			if o.st == rFail {
				failed = append(failed, o)
			}
		}
		if c.Match == "any" {
			if len(failed) < len(outs) {
				for _, o := range outs {
					if o.st == rPass {
						return o
					}
				}
			}
			return failed[0]
		}
		if len(failed) == 0 {
			return leafOut{st: rPass, key: c.KeyGlob, msg: fmt.Sprintf("%d key(s) matching %s checked", len(outs), c.KeyGlob)}
		}
		first := failed[0]
		if len(failed) > 1 {
			keys := make([]string, len(failed))
			for i, f := range failed {
				keys[i] = f.key
			}
			first.msg = fmt.Sprintf("%s (also: %s)", first.msg, strings.Join(keys[1:], ", "))
		}
		return first
	}
	e, ok := x.doc.Get(c.Key)
	if !ok {
		return x.absent(c, c.Key)
	}
	return x.apply(c, e.Key, e.Value, e.Line, false)
}

// absent handles a key that is not in the file.
func (x *evalEnv) absent(c *Cond, key string) leafOut {
	out := leafOut{key: key}
	if len(x.doc.Unresolved) > 0 {
		out.st = rUnknown
		out.msg = fmt.Sprintf("%s not set here, but a referenced file could not be resolved (%s)", key, x.doc.Unresolved[0])
		return out
	}
	mode := c.Absent
	if mode == "" {
		switch c.Op {
		case "absent":
			mode = "pass"
		case "present":
			mode = "fail"
		default:
			mode = "skip"
		}
	}
	switch mode {
	case "pass":
		out.st, out.msg = rPass, key+" not set"
	case "fail":
		out.st, out.msg = rFail, key+" not set"
		if c.Op != "present" {
			out.msg += "; want " + x.describe(c)
		}
	case "unknown":
		out.st, out.msg = rUnknown, key+" not set"
	case "skip":
		out.st, out.msg = rSkip, key+" not set"
	case "default":
		d, ok := x.defs.lookup(x.kind(), key, x.version, x.edition)
		if !ok {
			out.st = rUnknown
			out.msg = fmt.Sprintf("%s not set and no default is known for %s %s", key, x.kind(), x.versionText())
			return out
		}
		o := x.apply(c, key, d.Value, 0, true)
		o.msg = strings.Replace(o.msg, key+" = ", key+" not set; default for "+x.versionText()+" is ", 1)
		return o
	}
	return out
}

func (x *evalEnv) versionText() string {
	if x.vstr == "" {
		return "the newest known version"
	}
	return x.vstr
}

func (x *evalEnv) describe(c *Cond) string {
	v := x.ruleValue(c)
	switch c.Op {
	case "present", "absent", "non_empty", "empty", "not_placeholder", "host_is_loopback", "not_symlink":
		return strings.ReplaceAll(c.Op, "_", " ")
	case "not_known_secret":
		return "not a published/default secret (" + c.Catalog + ")"
	case "equals_key", "not_equals_key":
		return strings.ReplaceAll(c.Op, "_", " ") + " " + c.ValueKey
	}
	return strings.ReplaceAll(c.Op, "_", " ") + " " + renderRule(v)
}

func renderRule(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return render(v)
}

// apply evaluates op on a present (or default) value.
func (x *evalEnv) apply(c *Cond, key string, v any, line int, def bool) leafOut {
	obs := x.red.Value(key, v)
	out := leafOut{key: key, line: line, observed: obs, defaultUsed: def}
	shown := obs
	if _, isStr := v.(string); isStr && !strings.HasPrefix(obs, "<redacted") {
		shown = strconv.Quote(obs)
	}
	ok, err := x.test(c, key, v)
	switch {
	case err != nil:
		out.st = rFail
		out.msg = fmt.Sprintf("%s = %s: %v", key, shown, err)
	case ok:
		out.st = rPass
		out.msg = fmt.Sprintf("%s = %s", key, shown)
	default:
		out.st = rFail
		out.msg = fmt.Sprintf("%s = %s; want %s", key, shown, x.describe(c))
	}
	return out
}

func (x *evalEnv) typeFor(c *Cond) string {
	if c.Type != "" {
		return c.Type
	}
	v := x.ruleValue(c)
	if l, ok := v.([]any); ok && len(l) > 0 {
		v = l[0]
	}
	switch v.(type) {
	case bool:
		switch x.kind() {
		case KindTaosCfg:
			return "bool01"
		case KindDotenv, KindCompose:
			return "redash_bool"
		}
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	}
	return "string"
}

var placeholderRe = regexp.MustCompile(`(?i)^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|__[A-Za-z0-9_]+__|<[^>]*>|changeme|change[-_ ]?me|xxx+|todo|secret|password|your[-_].*)$`)

func (x *evalEnv) test(c *Cond, key string, v any) (bool, error) {
	typ := x.typeFor(c)
	rv := x.ruleValue(c)
	switch c.Op {
	case "present":
		return true, nil
	case "absent":
		return false, nil
	case "non_empty", "empty":
		n := 0
		switch t := v.(type) {
		case []any:
			n = len(t)
		default:
			n = len(strings.TrimSpace(render(v)))
		}
		return (n > 0) == (c.Op == "non_empty"), nil
	case "length_min":
		want, _ := toInt(rv)
		return int64(len(render(v))) >= want, nil
	case "not_placeholder":
		return !placeholderRe.MatchString(strings.TrimSpace(render(v))), nil
	case "not_known_secret":
		s := render(v)
		if s == "" {
			return true, nil
		}
		_, known := x.defs.knownSecret(c.Catalog, s)
		if u, ok := urlPassword(s); ok && !known {
			pw, _ := u.User.Password()
			_, known = x.defs.knownSecret(c.Catalog, pw)
		}
		return !known, nil
	case "regex", "not_regex":
		re := c.re
		if re == nil {
			var err error
			if re, err = regexp.Compile(render(rv)); err != nil {
				return false, err
			}
		}
		return re.MatchString(render(v)) == (c.Op == "regex"), nil
	case "equals_key", "not_equals_key":
		o, ok := x.doc.Get(c.ValueKey)
		eq := ok && render(o.Value) == render(v)
		return eq == (c.Op == "equals_key"), nil
	case "url_scheme_in":
		u, err := url.Parse(render(v))
		if err != nil {
			return false, fmt.Errorf("not a URL")
		}
		for _, s := range asList(rv) {
			if strings.EqualFold(render(s), u.Scheme) {
				return true, nil
			}
		}
		return false, nil
	case "host_is_loopback":
		return isLoopback(render(v)), nil
	case "contains", "not_contains":
		found := false
		if typ == "list" || isList(v) {
			dv, err := coerce(v, "list")
			if err != nil {
				return false, err
			}
			for _, e := range dv.([]any) {
				if render(e) == render(rv) {
					found = true
				}
			}
		} else {
			found = strings.Contains(render(v), render(rv))
		}
		return found == (c.Op == "contains"), nil
	case "min", "max", "range":
		f, err := toFloat(v)
		if err != nil {
			return false, err
		}
		switch c.Op {
		case "min":
			lo, _ := toFloat(rv)
			return f >= lo, nil
		case "max":
			hi, _ := toFloat(rv)
			return f <= hi, nil
		}
		l := asList(rv)
		if len(l) != 2 {
			return false, fmt.Errorf("range needs [lo, hi]")
		}
		lo, _ := toFloat(l[0])
		hi, _ := toFloat(l[1])
		return f >= lo && f <= hi, nil
	case "equals", "not_equals", "one_of", "not_one_of":
		dv, err := coerce(v, typ)
		if err != nil {
			return false, err
		}
		cands := []any{rv}
		if c.Op == "one_of" || c.Op == "not_one_of" {
			cands = asList(rv)
		}
		hit := false
		for _, cand := range cands {
			cv, err := coerce(cand, typ)
			if err != nil {
				return false, fmt.Errorf("rule value: %w", err)
			}
			if render(cv) == render(dv) {
				hit = true
				break
			}
		}
		return hit == (c.Op == "equals" || c.Op == "one_of"), nil
	}
	return false, fmt.Errorf("op %s not supported here", c.Op)
}

func isList(v any) bool { _, ok := v.([]any); return ok }

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func toInt(v any) (int64, error) {
	switch t := v.(type) {
	case int64:
		return t, nil
	case int:
		return int64(t), nil
	case float64:
		if t == math.Trunc(t) {
			return int64(t), nil
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
		if err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("not an integer")
}

func toFloat(v any) (float64, error) {
	switch t := v.(type) {
	case int64:
		return float64(t), nil
	case float64:
		return t, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("not a number")
}

// coerce converts a config or rule value to the rule type.
func coerce(v any, typ string) (any, error) {
	switch typ {
	case "bool", "bool01":
		switch t := v.(type) {
		case bool:
			return t, nil
		case int64:
			return t != 0, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(t)) {
			case "true", "1":
				return true, nil
			case "false", "0":
				return false, nil
			}
			if typ == "bool01" {
				if n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
					return n != 0, nil
				}
			}
		}
		return nil, fmt.Errorf("not a boolean")
	case "redash_bool":
		switch t := v.(type) {
		case bool:
			return t, nil
		case int64:
			if t == 0 || t == 1 {
				return t == 1, nil
			}
		case string:
			switch strings.ToLower(strings.TrimSpace(t)) {
			case "yes", "true", "on", "1":
				return true, nil
			case "no", "false", "off", "0", "none":
				return false, nil
			}
		}
		return nil, fmt.Errorf("not a boolean for Redash parse_boolean (Redash would refuse to start)")
	case "int":
		n, err := toInt(v)
		if err != nil {
			return nil, err
		}
		return n, nil
	case "float":
		f, err := toFloat(v)
		if err != nil {
			return nil, err
		}
		return f, nil
	case "list":
		switch t := v.(type) {
		case []any:
			return t, nil
		case string:
			var out []any
			for _, p := range strings.Split(t, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
			return out, nil
		}
		return []any{v}, nil
	}
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s), nil
	}
	return render(v), nil
}

func isLoopback(s string) bool {
	host := s
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			host = u.Hostname()
		}
	} else if h, _, err := net.SplitHostPort(s); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (x *evalEnv) removedKeys(c *Cond) leafOut {
	var hits []string
	line := 0
	for _, k := range x.doc.Keys() {
		if contains(c.Exclude, k) {
			continue
		}
		if _, ok := x.defs.removed(x.kind(), k, x.version); ok {
			hits = append(hits, k)
			if e, _ := x.doc.Get(k); line == 0 {
				line = e.Line
			}
		}
	}
	if len(hits) == 0 {
		return leafOut{st: rPass, msg: "no removed (no-effect) keys present"}
	}
	return leafOut{st: rFail, key: hits[0], line: line, observed: strings.Join(hits, ", "),
		msg: fmt.Sprintf("keys with no effect in %s: %s", x.versionText(), strings.Join(hits, ", "))}
}

func (x *evalEnv) knownKeys(c *Cond) leafOut {
	known, ok := x.defs.known(x.kind(), x.version)
	if !ok {
		return leafOut{st: rUnknown, msg: "no key schema known for " + string(x.kind()) + " " + x.versionText()}
	}
	var hits []string
	line := 0
	for _, k := range x.doc.Keys() {
		fk := foldKind(x.kind(), k)
		if known[fk] || contains(c.Exclude, k) {
			continue
		}
		if _, rem := x.defs.removed(x.kind(), k, x.version); rem {
			continue // reported by the removed-keys rule
		}
		if prefixKnown(known, fk) {
			continue
		}
		hits = append(hits, k)
		if e, _ := x.doc.Get(k); line == 0 {
			line = e.Line
		}
	}
	if len(hits) == 0 {
		return leafOut{st: rPass, msg: "all keys are known to the schema"}
	}
	return leafOut{st: rFail, key: hits[0], line: line, observed: strings.Join(hits, ", "),
		msg: "keys unknown to the schema: " + strings.Join(hits, ", ")}
}

// prefixKnown: a schema entry "a.b.*" admits every key under a.b.
func prefixKnown(known map[string]bool, k string) bool {
	for i := len(k) - 1; i > 0; i-- {
		if k[i] == '.' && known[k[:i]+".*"] {
			return true
		}
	}
	return false
}

func (x *evalEnv) hostLeaf(c *Cond) leafOut {
	type ref struct{ key, path string }
	var refs []ref
	if c.File == "self" {
		refs = append(refs, ref{"(config file)", x.doc.Path})
	}
	for _, k := range c.FileFromKey {
		if e, ok := x.doc.Get(k); ok {
			if s := strings.TrimSpace(render(e.Value)); s != "" {
				p := s
				if !filepath.IsAbs(p) {
					p = filepath.Join(filepath.Dir(x.doc.Path), p)
				}
				refs = append(refs, ref{e.Key, p})
			}
		}
	}
	if len(refs) == 0 {
		mode := c.Absent
		if mode == "" {
			mode = "skip"
		}
		st := map[string]res{"pass": rPass, "fail": rFail, "unknown": rUnknown}[mode]
		if mode == "skip" || mode == "default" {
			st = rSkip
		}
		return leafOut{st: st, key: strings.Join(c.FileFromKey, ","), msg: "no file referenced"}
	}
	if x.facts["offline"] == "true" {
		return leafOut{st: rUnknown, key: refs[0].key, msg: "host check not run (offline)"}
	}
	rv := x.ruleValue(c)
	for i := range refs {
		r := &refs[i]
		shown := r.path
		if r.key != "(config file)" && x.red.IsSecret(r.key, r.path) {
			shown = x.red.Value(r.key, r.path)
		}
		fi, err := os.Lstat(r.path)
		if err == nil && c.Op != "not_symlink" && fi.Mode()&os.ModeSymlink != 0 {
			fi, err = os.Stat(r.path)
		}
		if err != nil {
			return leafOut{st: rUnknown, key: r.key, msg: fmt.Sprintf("cannot stat %s: %s", shown, shortErr(err))}
		}
		switch c.Op {
		case "not_symlink":
			if fi.Mode()&os.ModeSymlink != 0 {
				return leafOut{st: rFail, key: r.key, observed: "symlink", msg: shown + " is a symlink"}
			}
		case "file_mode_max":
			maxm, _ := strconv.ParseUint(render(rv), 8, 32)
			perm := uint64(fi.Mode().Perm())
			if perm&^maxm != 0 {
				return leafOut{st: rFail, key: r.key, observed: fmt.Sprintf("%04o", perm),
					msg: fmt.Sprintf("%s mode %04o; want %04o or stricter", shown, perm, maxm)}
			}
		case "file_owner_in", "file_group_in":
			owner, group, ok := fileOwner(fi)
			if !ok {
				return leafOut{st: rUnknown, key: r.key, msg: "file ownership not available on this platform"}
			}
			got := owner
			if c.Op == "file_group_in" {
				got = group
			}
			match := false
			for _, w := range asList(rv) {
				if render(w) == got {
					match = true
				}
			}
			if !match {
				return leafOut{st: rFail, key: r.key, observed: got,
					msg: fmt.Sprintf("%s owned by %s; want one of %s", shown, got, render(asList(rv)))}
			}
		}
	}
	return leafOut{st: rPass, key: refs[0].key, msg: fmt.Sprintf("%d file(s) checked", len(refs))}
}
