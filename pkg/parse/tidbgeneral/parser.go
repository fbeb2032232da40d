// Package tidbgeneral parses TiDB general-log records (format name
// "tidb-general", docs/formats.md), written in the unified log format to
// tidb.log or to log.general-log-file:
//
//	[t] [INFO] [session.go:N] [GENERAL_LOG] [conn=<id>] [session_alias=<s>]?
//	[user=<user>@<host>] [schemaVersion=<n>] [txnStartTS=<n>] [forUpdateTS=<n>]
//	[isReadConsistency=<bool>] [currentDB=<db>] [isPessimistic=<bool>]
//	[sessionTxnMode=<mode>] [sql=<quoted>]
//
// Older TiDB (≤ v6.0) writes current_db and txn_mode instead of currentDB and
// sessionTxnMode. The record is written before the statement runs, so the
// outcome is always unknown. Lines other than [GENERAL_LOG] give (false, nil),
// so the parser can read a tidb.log that also carries the general log.
package tidbgeneral

import (
	"bytes"
	"net/netip"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/unified"
)

// Format is the parser unit "tidb-general".
var Format = parse.Format{
	Name:   "tidb-general",
	System: event.SystemTiDB,
	Doc:    "TiDB general log ([GENERAL_LOG] lines, text or log.format = json; statements submitted, outcome unknown)",
	New:    func(parse.Options) parse.Parser { return New() },
}

// Parser parses general-log lines. It is not safe for concurrent use.
type Parser struct {
	tok  unified.Tokenizer
	json unified.JSON
}

// New returns a parser.
func New() *Parser { return &Parser{} }

// Parse implements parse.Parser. A line of log.format = "json" is read as
// its text form (unified.JSON); the event keeps the JSON line as Raw.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if unified.IsJSON(rec) {
		text, err := p.json.Text(rec)
		if err != nil {
			return false, err
		}
		ok, err := p.parseText(text, ev)
		if ok {
			ev.Raw = parse.S(rec)
		}
		return ok, err
	}
	return p.parseText(rec, ev)
}

func (p *Parser) parseText(rec []byte, ev *event.Event) (bool, error) {
	if len(bytes.TrimSpace(rec)) == 0 {
		return false, nil
	}
	p.tok.Reset(rec)
	var (
		ts              []byte
		n               int
		general, hasSQL bool
		conn, user, db  []byte
		sql             []byte
	)
	for p.tok.Scan() {
		f := p.tok.Field()
		if f.Key == nil {
			if n == 0 {
				ts = f.Value
			} else if n >= 2 && string(f.Value) == "GENERAL_LOG" {
				general = true
			}
			n++
			continue
		}
		if !general {
			break // key/value fields of some other message
		}
		switch string(f.Key) {
		case "conn":
			conn = f.Value
		case "user":
			user = f.Value
		case "currentDB", "current_db":
			db = f.Value
		case "sql":
			sql, hasSQL = f.Value, true
		}
	}
	if err := p.tok.Err(); err != nil {
		if n < 2 || general {
			return false, err
		}
		return false, nil // a malformed line that is not ours
	}
	if n == 0 {
		return false, parse.Errorf(parse.ReasonSyntax, 0, "not a unified-log line")
	}
	t, ok := unified.ParseTime(ts)
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, 1, "bad time %q", ts)
	}
	if !general {
		return false, nil
	}
	if !hasSQL {
		return false, parse.Errorf(parse.ReasonField, 0, "GENERAL_LOG without sql")
	}
	ev.Time = t
	ev.System = event.SystemTiDB
	ev.Format = Format.Name
	ev.Raw = parse.S(rec)
	ev.ConnectionID = parse.S(conn)
	ev.Database = parse.S(db)
	ev.Statement = parse.S(sql)
	ev.Action = classify.Statement(ev.Statement)
	ev.Category = ev.Action.Category()
	ev.Outcome = event.OutcomeUnknown
	if i := bytes.LastIndexByte(user, '@'); i >= 0 {
		ev.User = parse.S(user[:i])
		// The host is the client's host, or an account pattern such as '%'.
		if h := user[i+1:]; len(h) > 0 {
			if _, err := netip.ParseAddr(parse.S(h)); err == nil {
				ev.ClientIP = parse.S(h)
			}
		}
	} else {
		ev.User = parse.S(user)
	}
	return true, nil
}

var _ parse.Parser = (*Parser)(nil)
