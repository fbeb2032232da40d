package redact

import "github.com/dbsec/dbsec/pkg/event"

// Event redacts, in place, every text field of ev that comes from a log
// record and is stored, exported or served: statement, raw record, reason,
// user, database, server, connection id, status code, objects and the
// messages and entities of its detections. Identifiers dbsec assigns (id,
// source, format, digest) are left alone. The slices of ev (objects, hits)
// are replaced, not written to, when something in them changes, so that a
// shallow copy of an event can be redacted without touching the original.
func Event(ev *event.Event) {
	for _, p := range [...]*string{&ev.Statement, &ev.Raw, &ev.Reason, &ev.User, &ev.Database,
		&ev.Server, &ev.ConnectionID, &ev.StatusCode} {
		*p = String(*p)
	}
	for i, o := range ev.Objects {
		if r := String(o); r != o {
			objs := append([]string(nil), ev.Objects...)
			objs[i] = r
			for j := i + 1; j < len(objs); j++ {
				objs[j] = String(objs[j])
			}
			ev.Objects = objs
			break
		}
	}
	for i := range ev.Hits {
		h := &ev.Hits[i]
		m, e := String(h.Message), String(h.Entity)
		if m == h.Message && e == h.Entity {
			continue
		}
		hits := append([]event.Detection(nil), ev.Hits...)
		for j := i; j < len(hits); j++ {
			hits[j].Message, hits[j].Entity = String(hits[j].Message), String(hits[j].Entity)
		}
		ev.Hits = hits
		break
	}
}

// MayHoldCredential reports, without allocating, whether b mentions a
// credential word (PASSWORD, PASS, IDENTIFIED, …_PASSWORD) or a URL
// credential: text that must not be quoted in a log message.
func MayHoldCredential(b []byte) bool {
	s := unsafeString(b)
	return hasCredWord(s) || mayContain(s)
}
