package mariadbaudit

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/dbsec/dbsec/pkg/parse"
)

// refStatement is statement before the run copy (issue 16), the reference
// of TestStatementReference: it decodes the quoted statement of a QUERY
// record.
func (p *Parser) refStatement(obj []byte, col int) ([]byte, error) {
	if len(obj) == 0 || obj[0] != '\'' {
		return obj, nil // unquoted (not written by current versions): verbatim
	}
	in := obj[1:]
	esc := bytes.IndexByte(in, '\\')
	q := bytes.IndexByte(in, '\'')
	if esc < 0 || (q >= 0 && q < esc) {
		if q < 0 || q != len(in)-1 {
			return nil, parse.Errorf(parse.ReasonField, col+1+max(q, len(in)), "statement quote not closed at the end of the field")
		}
		return in[:q], nil
	}
	out := p.scratch[:0]
	for k := 0; k < len(in); k++ {
		c := in[k]
		switch c {
		case '\'':
			if k != len(in)-1 {
				return nil, parse.Errorf(parse.ReasonField, col+1+k, "unescaped quote inside the statement")
			}
			p.scratch = out
			return out, nil
		case '\\':
			if k+1 >= len(in) {
				out = append(out, c)
				continue
			}
			k++
			switch in[k] {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case '\'', '\\':
				out = append(out, in[k])
			default:
				out = append(out, '\\', in[k])
			}
		default:
			out = append(out, c)
		}
	}
	p.scratch = out
	return nil, parse.Errorf(parse.ReasonField, col+len(obj), "statement quote not closed")
}

// TestStatementReference compares statement with refStatement on
// generated quoted fields: the same text, the same errors.
func TestStatementReference(t *testing.T) {
	pieces := []string{"SELECT ", "\\'", "\\\\", "\\n", "\\t", "\\r", "\\x", "\\", "'", "a", "%,%", "é"}
	rng := rand.New(rand.NewPCG(3, 4))
	var p, r Parser
	for range 100000 {
		b := []byte{'\''}
		for range rng.IntN(10) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		if rng.IntN(2) == 0 {
			b = append(b, '\'')
		}
		got, err := p.statement(b, 7)
		want, rerr := r.refStatement(b, 7)
		if string(got) != string(want) || (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
			t.Fatalf("%q: got %q %v, reference %q %v", b, got, err, want, rerr)
		}
	}
}

func FuzzStatementReference(f *testing.F) {
	f.Add([]byte(`'SELECT \'a\' \\ \n'`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p, r Parser
		got, err := p.statement(b, 7)
		want, rerr := r.refStatement(b, 7)
		if string(got) != string(want) || (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
			t.Fatalf("%q: got %q %v, reference %q %v", b, got, err, want, rerr)
		}
	})
}
