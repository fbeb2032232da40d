package csvrec

import (
	"bytes"

	"github.com/dbsec/dbsec/pkg/parse"
)

// Splitter splits one record into fields with the quoting rules of
// encoding/csv ("" inside a quoted field is one quote; a quote in an
// unquoted field is an error) without allocating once warm: fields are
// slices of the record, except quoted fields holding "", which are
// unescaped into a buffer sized so that it never moves during a record.
type Splitter struct{ unq []byte }

// Split fills f with the fields of rec and returns their number; more
// fields than len(f) is an error. When off is not nil (len(off) ≥ len(f)),
// off[i] is the offset in rec where field i starts (at its opening quote),
// for error columns and for rewriting a field in place. A field ends one
// byte before the next one starts, or at len(rec).
func (s *Splitter) Split(rec []byte, f [][]byte, off []int) (int, error) {
	if cap(s.unq) < len(rec) {
		s.unq = make([]byte, 0, len(rec)+256)
	}
	s.unq = s.unq[:0]
	n, i := 0, 0
	put := func(v []byte, start int) {
		f[n] = v
		if off != nil {
			off[n] = start
		}
		n++
	}
	for {
		if n == len(f) {
			return 0, parse.Errorf(parse.ReasonSyntax, i, "more than %d columns", len(f))
		}
		start := i
		var v []byte
		if i < len(rec) && rec[i] == '"' {
			i++
			vs := i
			esc := false
			for {
				j := bytes.IndexByte(rec[i:], '"')
				if j < 0 {
					return 0, parse.Errorf(parse.ReasonEncoding, vs-1, "unterminated quoted field")
				}
				i += j
				if i+1 < len(rec) && rec[i+1] == '"' {
					esc = true
					i += 2
					continue
				}
				break
			}
			v = rec[vs:i]
			i++
			if i < len(rec) && rec[i] != ',' {
				return 0, parse.Errorf(parse.ReasonEncoding, i, `extraneous text after a quoted field`)
			}
			if esc {
				u := len(s.unq)
				for k := 0; k < len(v); k++ {
					s.unq = append(s.unq, v[k])
					if v[k] == '"' {
						k++
					}
				}
				v = s.unq[u:]
			}
		} else {
			j := bytes.IndexByte(rec[i:], ',')
			end := len(rec)
			if j >= 0 {
				end = i + j
			}
			v = rec[i:end]
			if q := bytes.IndexByte(v, '"'); q >= 0 {
				return 0, parse.Errorf(parse.ReasonEncoding, i+q, `bare " in an unquoted field`)
			}
			i = end
		}
		put(v, start)
		if i >= len(rec) {
			return n, nil
		}
		i++                // the comma
		if i == len(rec) { // a trailing comma: one more, empty field
			if n == len(f) {
				return 0, parse.Errorf(parse.ReasonSyntax, i, "more than %d columns", len(f))
			}
			put(rec[i:], i)
			return n, nil
		}
	}
}
