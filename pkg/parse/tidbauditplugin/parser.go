// Package tidbauditplugin parses the TiDB Enterprise legacy audit-log plugin
// text format (format name "tidb-audit-plugin"), docs/formats.md:
//
//	[<logtime>] [INFO] [logger.go:77] [ID=…] [TIMESTAMP=2006/01/02 15:04:05.000 -07:00]
//	[EVENT_CLASS=GENERAL|TABLE_ACCESS|CONNECTION] [EVENT_SUBCLASS=…] [STATUS_CODE=<errno>]
//	[COST_TIME=<µs>] [HOST=…] [CLIENT_IP=…] [USER=…] [DATABASES="[…]"] [TABLES="[…]"]
//	[SQL_TEXT="…"] [ROWS=…] [CONNECTION_ID=…] …
//
// STATUS_CODE is a MySQL error number: 0 is success (the opposite of the
// audit-log extension). Newer plugin builds write each statement twice, with
// EVENT=STARTING and EVENT=COMPLETED; only COMPLETED is counted, since
// STARTING carries the previous statement's context (pingcap/tidb#36109). A
// TABLE_ACCESS record that repeats the GENERAL record of the same statement on
// the same connection is counted once.
package tidbauditplugin

import (
	"bytes"
	"hash/maphash"
	"strings"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/unified"
)

// Format is the parser unit "tidb-audit-plugin".
var Format = parse.Format{
	Name:   "tidb-audit-plugin",
	System: event.SystemTiDB,
	Doc:    "TiDB Enterprise legacy audit-log plugin, text (STATUS_CODE 0 = success)",
	New:    func(parse.Options) parse.Parser { return New() },
}

// maxConns bounds the per-connection de-duplication state. When it is
// exceeded the state is dropped; at worst one statement per connection is
// then counted twice.
const maxConns = 65536

type kind uint8

const (
	kindGeneral kind = 1 << iota
	kindTable
)

type lastStmt struct {
	hash uint64
	seen kind
}

// Parser parses legacy audit-plugin lines. It is not safe for concurrent use.
type Parser struct {
	tok unified.Tokenizer
	// conns is keyed by connection id. Values are pointers so that an
	// existing entry is updated in place: assigning m[k] for an existing
	// string key makes the map store the new key, which here would be a
	// view of the reused line buffer.
	conns map[string]*lastStmt
	// seed keys the statement hash (the runtime's AES hash, several times
	// faster than a byte-at-a-time hash on long statements).
	seed maphash.Seed
}

// New returns a parser.
func New() *Parser {
	return &Parser{conns: make(map[string]*lastStmt), seed: maphash.MakeSeed()}
}

var (
	classGeneral    = []byte("GENERAL")
	classTable      = []byte("TABLE_ACCESS")
	classConnection = []byte("CONNECTION")
	subConnected    = []byte("Connected")
	subDisconnect   = []byte("Disconnect")
	eventCompleted  = []byte("COMPLETED")
)

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	p.tok.Reset(rec)
	var (
		class, sub, evName, status, sql, dbs, tables, ts []byte
		haveEvent, haveTS                                bool
		tsCol, statusCol, costCol                        int
		logTime                                          []byte
		pos                                              int
		cost, rows                                       []byte
	)
	for p.tok.Scan() {
		f := p.tok.Field()
		if f.Key == nil {
			if pos == 0 {
				logTime = f.Value
			}
			pos++
			continue
		}
		v := f.Value
		switch string(f.Key) {
		case "TIMESTAMP":
			ts, haveTS, tsCol = v, true, f.Col
		case "EVENT_CLASS":
			class = v
		case "EVENT_SUBCLASS":
			sub = v
		case "EVENT":
			evName, haveEvent = v, true
		case "STATUS_CODE":
			status, statusCol = v, f.Col
		case "COST_TIME":
			cost, costCol = v, f.Col
		case "HOST":
			ev.Server = parse.S(v)
		case "CLIENT_IP":
			ev.ClientIP = parse.S(v)
		case "CLIENT_PORT":
			if n, ok := parse.Digits(v); ok && n < 65536 {
				ev.ClientPort = uint16(n)
			}
		case "USER":
			ev.User = parse.S(v)
		case "DATABASES":
			dbs = v
		case "TABLES":
			tables = v
		case "SQL_TEXT":
			sql = v
		case "ROWS":
			rows = v
		case "CONNECTION_ID":
			ev.ConnectionID = parse.S(v)
		case "CURRENT_DB":
			if len(v) > 0 {
				ev.Database = parse.S(v)
			}
		case "Reason", "REASON":
			ev.Reason = parse.S(v)
		}
	}
	if err := p.tok.Err(); err != nil {
		return false, err
	}
	if class == nil {
		if pos == 0 {
			return false, parse.Errorf(parse.ReasonSyntax, parse.NoCol, "not a unified-log line")
		}
		return false, parse.Errorf(parse.ReasonSyntax, parse.NoCol, "no EVENT_CLASS field")
	}
	if !haveTS {
		ts = logTime
	}
	t, ok := unified.ParseTime(ts)
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, tsCol, "bad TIMESTAMP %q", ts)
	}
	ev.Time = t
	ev.System = event.SystemTiDB
	ev.Format = Format.Name
	ev.Raw = parse.S(rec)

	code, ok := parse.Digits(status)
	if !ok {
		return false, parse.Errorf(parse.ReasonField, statusCol, "bad STATUS_CODE %q", status)
	}
	ev.StatusCode = parse.S(status)
	if len(cost) > 0 {
		if secs, ok := parseMicros(cost); ok {
			ev.Duration = secs
			ev.HasDuration = true
		} else {
			return false, parse.Errorf(parse.ReasonField, costCol, "bad COST_TIME %q", cost)
		}
	}
	if first, _, ok := nextListItem(dbs); ok && ev.Database == "" {
		ev.Database = parse.S(first)
	}
	for rest := tables; ; {
		item, tail, ok := nextListItem(rest)
		if !ok {
			break
		}
		ev.Objects = append(ev.Objects, parse.S(item))
		rest = tail
	}

	switch {
	case bytes.Equal(class, classConnection):
		switch {
		case bytes.Equal(sub, subConnected):
			ev.Action = event.ActionConnect
		case bytes.Equal(sub, subDisconnect):
			ev.Action = event.ActionDisconnect
			delete(p.conns, ev.ConnectionID)
		default:
			return false, parse.Errorf(parse.ReasonUnknownEvent, parse.NoCol, "unknown CONNECTION subclass %q", sub)
		}
		ev.Category = ev.Action.Category()
		ev.Outcome = outcome(code)
		return true, nil
	case bytes.Equal(class, classGeneral), bytes.Equal(class, classTable):
	default:
		return false, parse.Errorf(parse.ReasonUnknownEvent, parse.NoCol, "unknown EVENT_CLASS %q", class)
	}

	if haveEvent && !bytes.Equal(evName, eventCompleted) {
		return false, nil // STARTING: the COMPLETED record follows
	}
	k := kindGeneral
	if bytes.Equal(class, classTable) {
		k = kindTable
	}
	if p.duplicate(ev.ConnectionID, sql, k) {
		return false, nil
	}
	ev.Statement = parse.S(sql)
	ev.Action = classify.Statement(ev.Statement)
	ev.Outcome = outcome(code)
	ev.Category = classify.Category(ev.Action, code != 0 && classify.DeniedErrno(code))
	if len(rows) > 0 {
		if n, ok := parse.Digits(rows); ok {
			ev.Rows, ev.HasRows = n, true
		}
	}
	return true, nil
}

// duplicate reports whether a GENERAL or TABLE_ACCESS record is the other
// half of the statement last seen on the connection, and records it.
func (p *Parser) duplicate(conn string, sql []byte, k kind) bool {
	if conn == "" {
		return false
	}
	sum := maphash.Bytes(p.seed, sql)
	last := p.conns[conn]
	if last != nil {
		if last.hash == sum && last.seen&k == 0 {
			last.seen |= k
			return true
		}
		*last = lastStmt{hash: sum, seen: k}
		return false
	}
	if len(p.conns) >= maxConns {
		clear(p.conns)
	}
	// The key aliases the input line: store a copy (once per connection).
	p.conns[strings.Clone(conn)] = &lastStmt{hash: sum, seen: k}
	return false
}

func outcome(code int64) event.Outcome {
	if code == 0 {
		return event.OutcomeSuccess
	}
	return event.OutcomeFailure
}

// nextListItem returns the first item of a "[a,b,c]" list (the brackets are
// optional) and the rest after it.
func nextListItem(b []byte) (item, rest []byte, ok bool) {
	if len(b) > 0 && b[0] == '[' {
		b = b[1:]
		if len(b) > 0 && b[len(b)-1] == ']' {
			b = b[:len(b)-1]
		}
	}
	for len(b) > 0 && (b[0] == ',' || b[0] == ' ') {
		b = b[1:]
	}
	if len(b) == 0 {
		return nil, nil, false
	}
	i := bytes.IndexByte(b, ',')
	if i < 0 {
		return b, nil, true
	}
	return b[:i], b[i+1:], true
}

// parseMicros parses a non-negative decimal number of microseconds like
// "1336.083" into seconds, without allocating and with a single rounding.
func parseMicros(b []byte) (float64, bool) {
	var mant uint64
	i, digits, frac := 0, 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		mant = mant*10 + uint64(b[i]-'0')
		digits++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if frac < 9 {
				mant = mant*10 + uint64(b[i]-'0')
				frac++
			}
			digits++
		}
	}
	if digits == 0 || digits > 18 || i != len(b) {
		return 0, false
	}
	return float64(mant) / pow10[frac+6], true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

var _ parse.Parser = (*Parser)(nil)
