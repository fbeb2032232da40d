package sqlx

import "strings"

// owned returns a copy of r whose strings and slices share no memory with
// the statement text it was made from. Analyze returns table, user, path
// and variable names that are substrings of its input, and callers pass
// text that lives in a reused read buffer: an analysis kept in the cache
// must own its memory, or a later hit returns whatever that buffer holds
// by then.
func (r Analysis) owned() Analysis {
	n := len(r.Digest) + len(r.Normalized)
	for _, s := range r.Tables {
		n += len(s)
	}
	for _, s := range r.TargetUsers {
		n += len(s)
	}
	for _, s := range r.Paths {
		n += len(s)
	}
	for _, v := range r.Vars {
		n += len(v.Name) + len(v.Value)
	}
	var b strings.Builder
	b.Grow(n)
	marks := make([]int, 0, 8)
	add := func(s string) {
		b.WriteString(s)
		marks = append(marks, b.Len())
	}
	add(r.Digest)
	add(r.Normalized)
	for _, s := range r.Tables {
		add(s)
	}
	for _, s := range r.TargetUsers {
		add(s)
	}
	for _, s := range r.Paths {
		add(s)
	}
	for _, v := range r.Vars {
		add(v.Name)
		add(v.Value)
	}
	all := b.String()
	i, from := 0, 0
	next := func() string {
		s := all[from:marks[i]]
		from = marks[i]
		i++
		return s
	}
	r.Digest = next()
	r.Normalized = next()
	r.Tables = ownStrings(r.Tables, next)
	r.TargetUsers = ownStrings(r.TargetUsers, next)
	r.Paths = ownStrings(r.Paths, next)
	if r.Vars != nil {
		vars := make([]Var, len(r.Vars))
		for j, v := range r.Vars {
			v.Name = next()
			v.Value = next()
			vars[j] = v
		}
		r.Vars = vars
	}
	return r
}

func ownStrings(s []string, next func() string) []string {
	if s == nil {
		return nil
	}
	out := make([]string, len(s))
	for i := range s {
		out[i] = next()
	}
	return out
}
