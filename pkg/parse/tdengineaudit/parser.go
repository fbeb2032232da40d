// Package tdengineaudit parses TDengine Enterprise audit records (format name
// "tdengine-audit", docs/formats.md): the JSON that taosd POSTs to
// taosKeeper, one record per line for files, or whole HTTP request bodies
// with ParseBody.
//
// A record (taosKeeper tools/keeper/api/audit.go, AuditInfo):
//
//	{"timestamp":"1702548856940013848","cluster_id":"8468922059162439502","user":"root",
//	 "operation":"createTable","client_add":"173.50.0.7:45166","db":"test","resource":"",
//	 "details":"d630302"}
//
// "timestamp" is nanoseconds since the epoch as a JSON string (/audit_v2,
// /audit-batch) or milliseconds as a JSON number (the old /audit endpoint,
// AuditInfoOld). A value of 14 digits or fewer is taken as milliseconds and a
// longer one as nanoseconds, whichever JSON type carries it. Newer taosd
// versions add "affected_rows" and "duration" (seconds); both are optional.
// A batch body is {"records":[…]}; ParseBody accepts it, a single record, or
// a bare array of records.
//
// Mapping (docs/formats.md). The audit records only operations that were
// carried out, so every event has outcome success:
//
//   - login = category login, action connect; details ("app:<name>") goes to
//     Reason, not Statement;
//   - createUser/alterUser/dropUser/grantPrivileges/revokePrivileges =
//     privilege_change (create_user, alter_user, drop_user, grant, revoke);
//   - createDB/alterDB/dropDB, createStb/alterStb/dropStb,
//     createTable/dropTable, createView/dropView, createIndex/dropIndex and
//     other create*/alter*/drop* operations (streams, topics, rsmas …) = ddl;
//   - dnode/mnode/qnode/snode/cluster/vgroup/compact/trim/encryption/mount/
//     token operations = admin (config_change; kill* = kill);
//   - delete = dml_write; any other operation = category other.
//
// Statement is details, with passwords masked (pkg/redact); User, ClientIP
// and ClientPort come from user and client_add ("ip:port", or a bare IPv6
// address), Database from db, Objects from resource, Server from cluster_id.
package tdengineaudit

import (
	"bytes"
	"net/netip"
	"strconv"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/redact"
)

// FormatName is the name of this format.
const FormatName = "tdengine-audit"

// Format is the parser unit "tdengine-audit".
var Format = parse.Format{
	Name:   FormatName,
	System: event.SystemTDengine,
	Doc:    "TDengine Enterprise audit records (taosKeeper /audit_v2, /audit-batch and /audit JSON): logins, user/privilege changes, DDL, cluster operations",
	New:    func(o parse.Options) parse.Parser { return New(o) },
}

// MaxRecord is the longest record accepted by Parse: taosKeeper keeps 50000
// bytes of details, and the other columns are short.
const MaxRecord = 256 << 10

// Parser parses audit records. It is not safe for concurrent use.
type Parser struct {
	opts    parse.Options
	scratch []byte
}

// New returns a parser.
func New(o parse.Options) *Parser { return &Parser{opts: o.Defaults()} }

// Parse implements parse.Parser for one record (one line). A batch object
// ({"records":[…]}) is an error here: use ParseBody.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > MaxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, MaxRecord, "record longer than %d bytes", MaxRecord)
	}
	p.scratch = p.scratch[:0]
	i := skipWS(rec, 0)
	if i == len(rec) {
		return false, nil // blank line
	}
	var r record
	j, err := p.object(rec, i, &r)
	if err != nil {
		return false, err
	}
	if j = skipWS(rec, j); j != len(rec) {
		return false, parse.Errorf(parse.ReasonEncoding, j, "trailing data after the object")
	}
	if r.hasRecords {
		return false, parse.Errorf(parse.ReasonSyntax, i, "a batch ({\"records\":[…]}) is not one record")
	}
	return p.build(rec, &r, ev)
}

// build fills ev from r. raw is the record's text.
func (p *Parser) build(raw []byte, r *record, ev *event.Event) (bool, error) {
	if !r.hasTS {
		return false, parse.Errorf(parse.ReasonTimestamp, parse.NoCol, "no timestamp")
	}
	t, ok := stamp(r.timestamp)
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, parse.NoCol, "invalid timestamp %q", r.timestamp)
	}
	if len(r.operation) == 0 {
		return false, parse.Errorf(parse.ReasonField, parse.NoCol, "no operation")
	}
	ev.Time = t
	ev.System = event.SystemTDengine
	ev.Format = FormatName
	ev.Raw = redact.String(parse.S(raw))
	ev.Outcome = event.OutcomeSuccess
	ev.Action = Action(r.operation)
	ev.Category = ev.Action.Category()
	ev.User = parse.S(r.user)
	ev.Database = parse.S(r.db)
	ev.Server = parse.S(r.clusterID)
	if len(r.resource) > 0 {
		ev.Objects = append(ev.Objects, parse.S(r.resource))
	}
	ev.ClientIP, ev.ClientPort = hostPort(r.clientAdd)
	if ev.Action == event.ActionConnect {
		ev.Reason = parse.S(r.details) // "app:<name>"
	} else {
		ev.Statement = redact.String(parse.S(r.details))
	}
	if n, ok := parse.Int(r.affectedRows); ok {
		ev.Rows, ev.HasRows = n, true
	}
	if len(r.duration) > 0 {
		if d, err := strconv.ParseFloat(parse.S(r.duration), 64); err == nil && d >= 0 {
			ev.Duration, ev.HasDuration = d, true
		}
	}
	return true, nil
}

// stamp converts a timestamp: up to 14 digits = milliseconds, more =
// nanoseconds.
func stamp(b []byte) (time.Time, bool) {
	if len(b) == 0 || len(b) > 19 {
		return time.Time{}, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' || n > (1<<63-1-9)/10 {
			return time.Time{}, false
		}
		n = n*10 + int64(c-'0')
	}
	if n <= 0 {
		return time.Time{}, false
	}
	if len(b) <= 14 {
		return time.UnixMilli(n).UTC(), true
	}
	return time.Unix(0, n).UTC(), true
}

// hostPort splits taosd's client_add: "ip:port", "[v6]:port", a bare IPv6
// address (no port), or anything else kept whole as the address.
func hostPort(b []byte) (string, uint16) {
	if len(b) == 0 {
		return "", 0
	}
	if b[0] == '[' {
		if k := bytes.IndexByte(b, ']'); k > 0 {
			ip := b[1:k]
			if k+1 < len(b) && b[k+1] == ':' {
				if port, ok := port(b[k+2:]); ok {
					return parse.S(ip), port
				}
			}
			return parse.S(ip), 0
		}
		return parse.S(b), 0
	}
	c := bytes.LastIndexByte(b, ':')
	if c < 0 {
		return parse.S(b), 0
	}
	if bytes.IndexByte(b[:c], ':') >= 0 { // two colons or more: IPv6
		if _, err := netip.ParseAddr(parse.S(b)); err == nil {
			return parse.S(b), 0
		}
		if _, err := netip.ParseAddr(parse.S(b[:c])); err == nil {
			if port, ok := port(b[c+1:]); ok {
				return parse.S(b[:c]), port
			}
		}
		return parse.S(b), 0
	}
	if port, ok := port(b[c+1:]); ok {
		return parse.S(b[:c]), port
	}
	return parse.S(b), 0
}

func port(b []byte) (uint16, bool) {
	n, ok := parse.Digits(b)
	if !ok || len(b) == 0 || n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// Action maps an audit operation name (camelCase, docs/formats.md) to an
// action.
func Action(op []byte) event.Action {
	if a, ok := operations[string(op)]; ok {
		return a
	}
	switch {
	case bytes.HasPrefix(op, []byte("create")):
		return event.ActionCreateOther
	case bytes.HasPrefix(op, []byte("alter")):
		return event.ActionAlterOther
	case bytes.HasPrefix(op, []byte("drop")):
		return event.ActionDropOther
	case bytes.HasPrefix(op, []byte("kill")):
		return event.ActionKill
	}
	return event.ActionOther
}

var operations = map[string]event.Action{
	"login": event.ActionConnect,

	"createUser":       event.ActionCreateUser,
	"alterUser":        event.ActionAlterUser,
	"dropUser":         event.ActionDropUser,
	"grantPrivileges":  event.ActionGrant,
	"revokePrivileges": event.ActionRevoke,
	"createRole":       event.ActionCreateRole,
	"dropRole":         event.ActionDropRole,

	"createDB":    event.ActionCreateDatabase,
	"alterDB":     event.ActionAlterDatabase,
	"dropDB":      event.ActionDropDatabase,
	"createStb":   event.ActionCreateTable,
	"alterStb":    event.ActionAlterTable,
	"dropStb":     event.ActionDropTable,
	"createTable": event.ActionCreateTable,
	"alterTable":  event.ActionAlterTable,
	"dropTable":   event.ActionDropTable,
	"createView":  event.ActionCreateView,
	"dropView":    event.ActionDropView,
	"createIndex": event.ActionCreateIndex,
	"dropIndex":   event.ActionDropIndex,
	"createTSMA":  event.ActionCreateIndex,
	"dropTSMA":    event.ActionDropIndex,

	"createDnode":        event.ActionConfigChange,
	"dropDnode":          event.ActionConfigChange,
	"alterDnode":         event.ActionConfigChange,
	"restoreDnode":       event.ActionConfigChange,
	"createMnode":        event.ActionConfigChange,
	"dropMnode":          event.ActionConfigChange,
	"createQnode":        event.ActionConfigChange,
	"dropQnode":          event.ActionConfigChange,
	"createSnode":        event.ActionConfigChange,
	"dropSnode":          event.ActionConfigChange,
	"createArbitrator":   event.ActionConfigChange,
	"dropArbitrator":     event.ActionConfigChange,
	"alterCluster":       event.ActionConfigChange,
	"balanceVgroupLead":  event.ActionConfigChange,
	"balanceVgroup":      event.ActionConfigChange,
	"redistributeVgroup": event.ActionConfigChange,
	"assignLeader":       event.ActionConfigChange,
	"splitVgroup":        event.ActionConfigChange,
	"compact":            event.ActionConfigChange,
	"trimDB":             event.ActionConfigChange,
	"autoTrimDB":         event.ActionConfigChange,
	"createMount":        event.ActionConfigChange,
	"dropMount":          event.ActionConfigChange,
	"createEncryptAlgr":  event.ActionConfigChange,
	"dropEncryptAlgr":    event.ActionConfigChange,
	"createToken":        event.ActionConfigChange,
	"dropToken":          event.ActionConfigChange,
	"killCompact":        event.ActionKill,
	"killRetention":      event.ActionKill,
	"killTrim":           event.ActionKill,

	"delete": event.ActionDelete,
}

var _ parse.Parser = (*Parser)(nil)
