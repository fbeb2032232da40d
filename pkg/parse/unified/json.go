package unified

import (
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/internal/jsonscan"
)

// JSON turns the lines a PingCAP log writes with log.format = "json" (one
// object per line: "level", "time", "caller", "message", then the fields,
// the same keys and values as the text layout) back into the text layout,
// so that a parser of the text layout reads both:
//
//	{"level":"WARN","time":"2024/12/13 10:30:02.864 +09:00","caller":"conn.go:642","message":"…","conn":42}
//	[2024/12/13 10:30:02.864 +09:00] [WARN] [conn.go:642] ["…"] ["conn"="42"]
//
// It reuses its buffers: the text is valid until the next call.
type JSON struct {
	sc  jsonscan.Scanner
	f   jsonFields
	buf []byte
}

// maxJSONFields bounds the fields kept from one object.
const maxJSONFields = 64

type jsonFields struct {
	time, level, caller, message []byte
	keys, vals                   [maxJSONFields][]byte
	n                            int
}

func (f *jsonFields) Field(parent, key, val []byte, str bool) {
	if parent != nil {
		return // nested objects are not part of the layout
	}
	switch string(key) {
	case "time":
		f.time = val
	case "level":
		f.level = val
	case "caller":
		f.caller = val
	case "message", "msg":
		f.message = val
	default:
		if f.n < maxJSONFields {
			f.keys[f.n], f.vals[f.n] = key, val
			f.n++
		}
	}
}

// IsJSON reports whether line is a JSON object (its first non-blank byte is
// '{').
func IsJSON(line []byte) bool {
	k := jsonscan.SkipWS(line, 0)
	return k < len(line) && line[k] == '{'
}

// Text returns the text-layout form of the JSON object line.
func (j *JSON) Text(line []byte) ([]byte, error) {
	j.sc.Reset(len(line))
	j.f = jsonFields{}
	i := jsonscan.SkipWS(line, 0)
	end, err := j.sc.Object(line, i, nil, 0, &j.f)
	if err != nil {
		return nil, err
	}
	if k := jsonscan.SkipWS(line, end); k != len(line) {
		return nil, parse.Errorf(parse.ReasonEncoding, k, "trailing data after the JSON object")
	}
	f := &j.f
	if f.time == nil {
		return nil, parse.Errorf(parse.ReasonTimestamp, i, "JSON log line without \"time\"")
	}
	if f.level == nil {
		return nil, parse.Errorf(parse.ReasonSyntax, i, "JSON log line without \"level\"")
	}
	b := j.buf[:0]
	b = append(b, '[')
	b = append(b, f.time...)
	b = append(b, "] ["...)
	b = append(b, f.level...)
	b = append(b, ']')
	if f.caller != nil {
		b = append(b, " ["...)
		b = appendQuoted(b, f.caller)
		b = append(b, ']')
	}
	if f.message != nil {
		b = append(b, " ["...)
		b = appendQuoted(b, f.message)
		b = append(b, ']')
	}
	for k := 0; k < f.n; k++ {
		b = append(b, " ["...)
		b = appendQuoted(b, f.keys[k])
		b = append(b, '=')
		b = appendQuoted(b, f.vals[k])
		b = append(b, ']')
	}
	j.buf = b
	return b, nil
}

// appendQuoted appends s as the text layout writes it: as is, or, when it
// holds a byte <= 0x20 or one of \ " [ ] = (or is empty), in double quotes
// with the escapes the tokenizer decodes (\" \\ and \xHH for control bytes).
func appendQuoted(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	plain := len(s) > 0
	for _, c := range s {
		if c <= 0x20 || c == '\\' || c == '"' || c == '[' || c == ']' || c == '=' || c == 0x7f {
			plain = false
			break
		}
	}
	if plain {
		return append(b, s...)
	}
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
