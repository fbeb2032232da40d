// Package redashevents parses Redash events (format name "redash-events",
// docs/formats.md): one JSON object per record, either the event as
// record_event builds it ({"action":…, "object_type":…, "object_id":…,
// "user_id":…, "user_name":…, "org_id":…, "ip":…, "user_agent":…,
// "timestamp":<unix s>, …additional properties}), the webhook envelope
// {"schema":"iglu:io.redash.webhooks/event/jsonschema/1-0-0","data":{…}}, or
// a row of the events table exported as JSON (additional_properties nested,
// created_at RFC 3339 instead of timestamp).
//
// Mapping (all outcomes success: Redash records only what happened):
//
//	login                                   login / connect
//	execute_query, api_get                  read / select (Statement = query text)
//	add_member, add_data_source,            privilege_change / grant
//	grant_permission, activate_api_key,
//	change_data_source_permission
//	remove_member, remove_data_source,      privilege_change / revoke
//	revoke_permission, deactivate_api_key
//	regnerate_api_key (sic)                 privilege_change / set_password
//	create user                             privilege_change / create_user
//	edit user                               privilege_change / alter_user
//	                                        (set_password when "password" was updated)
//	create|edit|delete datasource,          admin / config_change
//	data_source, destination, settings
//
// Every other known action (view, list, search, create/edit of queries and
// dashboards, favorite, …) gives (false, nil). An action outside Redash's
// list is an unknown_event error. API keys ("api_key" property) are never
// copied into the event; Raw is the record with their values masked.
package redashevents

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/nginxredash"
)

// FormatName is the name of this format.
const FormatName = "redash-events"

// Format is the parser unit "redash-events".
var Format = parse.Format{
	Name:   FormatName,
	System: event.SystemRedash,
	Doc:    "Redash events (webhook/event JSON, events table rows): logins, query execution, group/permission/API-key changes, data source and settings changes",
	New:    func(parse.Options) parse.Parser { return New() },
}

// MaxRecord is the longest record accepted.
const MaxRecord = 1 << 20

// Parser parses Redash event JSON. It is not safe for concurrent use.
type Parser struct {
	raw  []byte
	objs []byte
}

// New returns a parser.
func New() *Parser { return &Parser{} }

type record struct {
	Schema     string          `json:"schema"`
	Data       json.RawMessage `json:"data"`
	Action     string          `json:"action"`
	ObjectType string          `json:"object_type"`
	ObjectID   json.RawMessage `json:"object_id"`
	UserID     json.RawMessage `json:"user_id"`
	UserName   string          `json:"user_name"`
	IP         string          `json:"ip"`
	Timestamp  json.Number     `json:"timestamp"`
	CreatedAt  string          `json:"created_at"`
	Query      string          `json:"query"`
	DataSource json.RawMessage `json:"data_source_id"`
	Updated    []string        `json:"updated_fields"`
	Additional *record         `json:"additional_properties"`
}

var actions = map[string]struct{}{}

func init() {
	for _, a := range []string{"login", "execute_query", "api_get", "view", "list", "search", "create", "edit", "delete",
		"archive", "fork", "favorite", "unfavorite", "load_favorites", "subscribe", "unsubscribe", "mute", "unmute",
		"evaluate", "test", "pause", "resume", "add_member", "remove_member", "add_data_source", "remove_data_source",
		"change_data_source_permission", "grant_permission", "revoke_permission", "activate_api_key",
		"deactivate_api_key", "regnerate_api_key"} {
		actions[a] = struct{}{}
	}
}

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > MaxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, MaxRecord, "record longer than %d bytes", MaxRecord)
	}
	rec = bytes.TrimSpace(rec)
	if len(rec) == 0 {
		return false, nil
	}
	var r record
	if err := unmarshal(rec, &r); err != nil {
		return false, err
	}
	if len(r.Data) > 0 && r.Action == "" {
		var d record
		if err := unmarshal(r.Data, &d); err != nil {
			return false, err
		}
		r = d
	}
	if a := r.Additional; a != nil {
		if r.Query == "" {
			r.Query = a.Query
		}
		if r.Updated == nil {
			r.Updated = a.Updated
		}
		if r.IP == "" {
			r.IP = a.IP
		}
		if r.UserName == "" {
			r.UserName = a.UserName
		}
		if r.Timestamp == "" {
			r.Timestamp = a.Timestamp
		}
	}
	if r.Action == "" {
		return false, parse.Errorf(parse.ReasonField, 0, "no action")
	}
	if _, ok := actions[r.Action]; !ok {
		return false, parse.Errorf(parse.ReasonUnknownEvent, 0, "unknown Redash action %q", r.Action)
	}
	t, ok := eventTime(&r)
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, 0, "no valid timestamp or created_at")
	}
	cat, act := mapAction(&r)
	if cat == event.CategoryOther {
		return false, nil
	}
	ev.Time = t
	ev.System = event.SystemRedash
	ev.Format = FormatName
	ev.Category, ev.Action, ev.Outcome = cat, act, event.OutcomeSuccess
	if nginxredash.HasAPIKey(rec) || bytes.Contains(rec, []byte(`"api_key"`)) {
		p.raw = maskKeys(p.raw[:0], rec)
		ev.Raw = parse.S(p.raw)
	} else {
		ev.Raw = parse.S(rec)
	}
	ev.User = r.UserName
	if ev.User == "" && len(r.UserID) > 0 && string(r.UserID) != "null" {
		ev.User = unquote(r.UserID)
	}
	ev.ClientIP = r.IP
	if r.ObjectType != "" {
		p.objs = append(p.objs[:0], r.ObjectType...)
		if id := unquote(r.ObjectID); id != "" && id != "null" {
			p.objs = append(p.objs, '/')
			p.objs = append(p.objs, id...)
		}
		ev.Objects = append(ev.Objects, parse.S(p.objs))
	}
	if act == event.ActionSelect {
		ev.Statement = r.Query
		if ds := unquote(r.DataSource); ds != "" && ds != "null" {
			ev.Database = ds
		}
	}
	return true, nil
}

func unmarshal(b []byte, r *record) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(r); err != nil {
		return &parse.Error{Reason: parse.ReasonEncoding, Msg: "invalid event JSON", Err: err}
	}
	if d.More() {
		return parse.Errorf(parse.ReasonEncoding, int(d.InputOffset()), "trailing data after the JSON object")
	}
	return nil
}

func unquote(b json.RawMessage) string {
	if len(b) >= 2 && b[0] == '"' {
		if s, err := strconv.Unquote(string(b)); err == nil {
			return s
		}
	}
	return string(b)
}

func eventTime(r *record) (time.Time, bool) {
	if r.Timestamp != "" {
		f, err := r.Timestamp.Float64()
		if err == nil && f > 0 && f < 1e11 {
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC().Truncate(time.Microsecond), true
		}
		return time.Time{}, false
	}
	if r.CreatedAt != "" {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05.999999-07", "2006-01-02T15:04:05.999999"} {
			if t, err := time.Parse(layout, r.CreatedAt); err == nil {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

func mapAction(r *record) (event.Category, event.Action) {
	switch r.Action {
	case "login":
		return event.CategoryLogin, event.ActionConnect
	case "execute_query", "api_get":
		return event.CategoryRead, event.ActionSelect
	case "add_member", "add_data_source", "grant_permission", "activate_api_key", "change_data_source_permission":
		return event.CategoryPrivilegeChange, event.ActionGrant
	case "remove_member", "remove_data_source", "revoke_permission", "deactivate_api_key":
		return event.CategoryPrivilegeChange, event.ActionRevoke
	case "regnerate_api_key":
		return event.CategoryPrivilegeChange, event.ActionSetPassword
	case "create", "edit", "delete":
		switch r.ObjectType {
		case "user":
			switch r.Action {
			case "create":
				return event.CategoryPrivilegeChange, event.ActionCreateUser
			case "edit":
				for _, f := range r.Updated {
					if f == "password" {
						return event.CategoryPrivilegeChange, event.ActionSetPassword
					}
				}
				return event.CategoryPrivilegeChange, event.ActionAlterUser
			case "delete":
				return event.CategoryPrivilegeChange, event.ActionDropUser
			}
		case "datasource", "data_source", "destination", "settings":
			return event.CategoryAdmin, event.ActionConfigChange
		}
	}
	return event.CategoryOther, event.ActionNone
}

// maskKeys masks the value of "api_key": "…" JSON members and of api_key=
// URL parameters.
func maskKeys(dst, src []byte) []byte {
	tmp := nginxredash.RedactAPIKeys(nil, src)
	key := []byte(`"api_key"`)
	for {
		i := bytes.Index(tmp, key)
		if i < 0 {
			return append(dst, tmp...)
		}
		dst = append(dst, tmp[:i+len(key)]...)
		tmp = tmp[i+len(key):]
		j := 0
		for j < len(tmp) && (tmp[j] == ' ' || tmp[j] == ':') {
			j++
		}
		dst = append(dst, tmp[:j]...)
		tmp = tmp[j:]
		if len(tmp) > 0 && tmp[0] == '"' {
			k := 1
			for k < len(tmp) && tmp[k] != '"' {
				if tmp[k] == '\\' {
					k++
				}
				k++
			}
			dst = append(dst, `"***"`...)
			if k < len(tmp) {
				tmp = tmp[k+1:]
			} else {
				tmp = nil
			}
		}
	}
}

var _ parse.Parser = (*Parser)(nil)
