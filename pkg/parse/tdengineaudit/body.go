package tdengineaudit

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
)

// MaxBody is the largest request body ParseBody accepts. taosd batches
// records up to a few MB; taosKeeper itself sets no limit.
const MaxBody = 64 << 20

// RecordError is a record of a batch that could not be turned into an
// event. Index is 0-based within the body.
type RecordError struct {
	Index int
	Err   *parse.Error
}

func (e RecordError) Error() string { return fmt.Sprintf("record %d: %v", e.Index, e.Err) }

// RecordErrors is returned by ParseBody when the body was valid JSON but some
// of its records were not valid audit records; the others were emitted.
type RecordErrors struct {
	Errs    []RecordError
	Emitted int
}

func (e *RecordErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d audit records rejected", len(e.Errs), len(e.Errs)+e.Emitted)
	for i, r := range e.Errs {
		if i == 3 {
			fmt.Fprintf(&b, "; …")
			break
		}
		b.WriteString("; ")
		b.WriteString(r.Error())
	}
	return b.String()
}

// Unwrap returns the record errors.
func (e *RecordErrors) Unwrap() []error {
	out := make([]error, len(e.Errs))
	for i, r := range e.Errs {
		out[i] = r.Err
	}
	return out
}

// ParseBody parses one HTTP request body sent by taosd — a batch
// ({"records":[…]}, /audit-batch), a single record (/audit_v2, or /audit
// with a millisecond number timestamp) or a bare array of records — and
// calls emit for each event, in order. The event and its strings are valid
// only during the call (they alias body and a scratch buffer): Clone it to
// keep it.
//
// When the body is not valid JSON, or not an object or array, ParseBody
// emits nothing and returns a *parse.Error (taosKeeper answers 400 then).
// When some records are invalid (no timestamp, no operation) the others are
// still emitted and the error is a *RecordErrors.
func ParseBody(body []byte, emit func(*event.Event)) error {
	return New(parse.Options{}).ParseBody(body, emit)
}

// ParseBody is the function ParseBody on a reusable parser (which keeps its
// scratch buffer from one body to the next).
func (p *Parser) ParseBody(body []byte, emit func(*event.Event)) error {
	if len(body) > MaxBody {
		return parse.Errorf(parse.ReasonTooLong, MaxBody, "body longer than %d bytes", MaxBody)
	}
	// Validate the whole body first, so that a truncated batch emits
	// nothing, as taosKeeper stores nothing.
	if !json.Valid(body) {
		return parse.Errorf(parse.ReasonEncoding, parse.NoCol, "invalid JSON")
	}
	i := skipWS(body, 0)
	if i == len(body) {
		return parse.Errorf(parse.ReasonSyntax, parse.NoCol, "empty body")
	}
	var errs []RecordError
	var ev event.Event
	n, emitted := 0, 0
	one := func(raw []byte, r *record) {
		ev.Reset()
		ok, err := p.build(raw, r, &ev)
		var pe *parse.Error
		switch {
		case err != nil && errors.As(err, &pe):
			errs = append(errs, RecordError{Index: n, Err: pe})
		case ok:
			emit(&ev)
			emitted++
		}
		n++
	}
	bad := func(err *parse.Error) {
		errs = append(errs, RecordError{Index: n, Err: err})
		n++
	}
	switch body[i] {
	case '{':
		p.scratch = p.scratch[:0]
		var r record
		end, err := p.object(body, i, &r)
		if err != nil {
			return err
		}
		if !r.hasRecords {
			one(body[i:end], &r)
			break
		}
		if len(r.records) == 0 { // "records": null
			break
		}
		// The records' text lives in body (arrays are raw views).
		if err := p.array(r.records, one, bad); err != nil {
			return err
		}
	case '[':
		if err := p.array(body[i:], one, bad); err != nil {
			return err
		}
	default:
		return parse.Errorf(parse.ReasonSyntax, i, "expected a JSON object or array")
	}
	if len(errs) > 0 {
		return &RecordErrors{Errs: errs, Emitted: emitted}
	}
	return nil
}

// array calls one for each object of the JSON array b (valid JSON), and bad
// for each element that is not an object.
func (p *Parser) array(b []byte, one func(raw []byte, r *record), bad func(*parse.Error)) error {
	if len(b) == 0 || b[0] != '[' {
		return parse.Errorf(parse.ReasonSyntax, 0, "\"records\" is not an array")
	}
	i := skipWS(b, 1)
	if i < len(b) && b[i] == ']' {
		return nil
	}
	for i < len(b) {
		i = skipWS(b, i)
		p.scratch = p.scratch[:0]
		var r record
		if i >= len(b) {
			break
		}
		var end int
		var err error
		if b[i] == '{' {
			end, err = p.object(b, i, &r)
			if err != nil {
				return err
			}
			one(b[i:end], &r)
		} else {
			_, end, err = p.value(b, i)
			if err != nil {
				return err
			}
			bad(parse.Errorf(parse.ReasonSyntax, i, "a record is not an object"))
		}
		i = skipWS(b, end)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		break
	}
	return nil
}
