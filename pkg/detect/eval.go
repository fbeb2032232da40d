package detect

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/sqlx"
)

// --- A. Authentication --------------------------------------------------

func (d *Detector) authFailure(c *evalCtx) {
	ev, now := c.ev, c.now
	pooled := c.hasIP && inNets(d.set.pools, c.ip)
	if ev.User != "" {
		if r := d.failUser.get(c.userKey, now); r != nil {
			r.add(d.ringUser, now, ev.ID)
			rc := d.rc[rD01]
			if d.on[rD01] && r.count(now-int64(rc.Window)) >= rc.Threshold && !d.allowed(rD01, c) &&
				!d.suppressed(rD01, now, rc.Suppress.D(), c.userKey) {
				d.fire(rD01, "", c, "user="+ev.User,
					fmt.Sprintf("%d authentication failures for user %q within %s", rc.Threshold, ev.User, rc.Window.D()),
					r.ids(now-int64(rc.Window)))
			}
		}
	}
	if c.hasIP {
		key := c.ipKey
		if pooled {
			key += "\x1f" + ev.User
		}
		if r := d.failIP.get(key, now); r != nil {
			r.add(d.ringIP, now, ev.ID)
			rc := d.rc[rD02]
			short := r.count(now-int64(rc.Window)) >= rc.Threshold
			long := rc.ThresholdLong > 0 && r.count(now-int64(rc.WindowLong)) >= rc.ThresholdLong
			if d.on[rD02] && (short || long) && !d.allowed(rD02, c) && !d.suppressed(rD02, now, rc.Suppress.D(), key) {
				w := rc.Window
				n := rc.Threshold
				if !short {
					w, n = rc.WindowLong, rc.ThresholdLong
				}
				d.fire(rD02, "", c, "client_ip="+ev.ClientIP,
					fmt.Sprintf("%d authentication failures from %s within %s", n, ev.ClientIP, w.D()), r.ids(now-int64(w)))
			}
		}
		// D03: one IP, many users (not behind a pooler).
		if d.on[rD03] && !pooled && ev.User != "" {
			rc := d.rc[rD03]
			if s := d.spray.get(c.ipKey, now); s != nil {
				s.add(fnv64(ev.User), now, int64(rc.Window), ev.ID)
				if !s.fired && s.distinct() >= rc.Threshold && s.total >= rc.MinTotal &&
					(rc.MaxPerEntity == 0 || s.maxCount() <= rc.MaxPerEntity) && !d.allowed(rD03, c) {
					s.fired = true
					d.fire(rD03, "", c, "client_ip="+ev.ClientIP,
						fmt.Sprintf("%s failed for %d distinct users (%d attempts, at most %d per user) within %s",
							ev.ClientIP, s.distinct(), s.total, s.maxCount(), rc.Window.D()), s.ids)
				}
			}
		}
		// D09: failures from an unexpected network.
		if d.on[rD09] && !inNets(d.set.allowedNets, c.ip) {
			rc := d.rc[rD09]
			if r := d.unexpIP.get(c.ipKey, now); r != nil {
				r.add(max(rc.Threshold, 1), now, ev.ID)
				if r.count(now-int64(rc.Window)) >= rc.Threshold && !d.allowed(rD09, c) &&
					!d.suppressed(rD09, now, rc.Suppress.D(), c.ipKey) {
					d.fire(rD09, SevWarning, c, "client_ip="+ev.ClientIP,
						fmt.Sprintf("%d authentication failures from %s, outside the allowed networks", rc.Threshold, ev.ClientIP),
						r.ids(now-int64(rc.Window)))
				}
			}
		}
	}
	// D04: one user, many IPs.
	if d.on[rD04] && ev.User != "" && c.hasIP {
		rc := d.rc[rD04]
		if s := d.distUser.get(c.userKey, now); s != nil {
			s.add(fnv64(ev.ClientIP), now, int64(rc.Window), ev.ID)
			if s.distinct() >= rc.Threshold && !d.allowed(rD04, c) && !d.suppressed(rD04, now, rc.Suppress.D(), c.userKey) {
				d.fire(rD04, "", c, "user="+ev.User,
					fmt.Sprintf("user %q failed from %d distinct client IPs within %s", ev.User, s.distinct(), rc.Window.D()), s.ids)
			}
		}
	}
}

func (d *Detector) authSuccess(c *evalCtx) {
	ev, now := c.ev, c.now
	// D05: success after a failure run.
	if d.on[rD05] {
		rc := d.rc[rD05]
		since := now - int64(rc.Window)
		var ids []string
		n := 0
		if r := d.failUser.peek(c.userKey, now); r != nil && ev.User != "" {
			if k := r.count(since); k >= n {
				n, ids = k, r.ids(since)
			}
		}
		if r := d.failIP.peek(c.ipKey, now); r != nil && c.hasIP {
			if k := r.count(since); k > n {
				n, ids = k, r.ids(since)
			}
		}
		if n >= rc.Threshold && !d.allowed(rD05, c) && !d.suppressed(rD05, now, rc.Suppress.D(), c.userKey, "\x1f", ev.ClientIP) {
			d.fire(rD05, "", c, "user="+ev.User+" client_ip="+ev.ClientIP,
				fmt.Sprintf("user %q logged in from %s after %d failures within %s", ev.User, ev.ClientIP, n, rc.Window.D()), ids)
		}
	}
	// D03 escalation: the spraying IP got in.
	if d.on[rD03] && c.hasIP {
		if s := d.spray.peek(c.ipKey, now); s != nil && s.fired && !d.suppressed(rD03, now, d.rc[rD03].Window.D(), "ok", c.ipKey) {
			d.fire(rD03, SevCritical, c, "client_ip="+ev.ClientIP,
				fmt.Sprintf("password-spraying IP %s logged in as %q", ev.ClientIP, ev.User), s.ids)
		}
	}
	// D07: new network for a privileged user; dormant or new account.
	if d.on[rD07] && ev.User != "" {
		rc := d.rc[rD07]
		outside := c.hasIP && !inNets(d.set.allowedNets, c.ip)
		if c.priv && c.hasIP {
			if d.nNet.observe(now, c.userKey, "\x1f", netBucket(c.ip)) && !d.nNet.learningAt(now) && !d.allowed(rD07, c) {
				sev := SevWarning
				if outside {
					sev = SevCritical
				}
				d.fire(rD07, sev, c, "user="+ev.User+" network="+netBucket(c.ip),
					fmt.Sprintf("privileged user %q logged in from network %s, not seen in %s", ev.User, netBucket(c.ip), rc.History.D()), nil)
			}
		}
		if d.nDormant.observe(now, c.userKey) && !d.nDormant.learningAt(now) && !d.allowed(rD07, c) {
			d.fire(rD07, SevWarning, c, "user="+ev.User,
				fmt.Sprintf("account %q logged in, not seen for %s (new or dormant)", ev.User, rc.DormantHistory.D()), nil)
		}
	}
	// D08: off-hours privileged login.
	if d.on[rD08] && c.priv && d.offHours(now) && !d.allowed(rD08, c) && !d.suppressed(rD08, now, time.Hour, c.userKey) {
		d.fire(rD08, SevInfo, c, "user="+ev.User, fmt.Sprintf("privileged user %q logged in outside business hours", ev.User), nil)
	}
	// D09: success from an unexpected network.
	if d.on[rD09] && c.hasIP && !inNets(d.set.allowedNets, c.ip) && !d.allowed(rD09, c) &&
		!d.suppressed(rD09, now, d.rc[rD09].Suppress.D(), "ok", c.userKey, "\x1f", ev.ClientIP) {
		sev := SevWarning
		if c.priv {
			sev = SevCritical
		}
		d.fire(rD09, sev, c, "user="+ev.User+" client_ip="+ev.ClientIP,
			fmt.Sprintf("user %q logged in from %s, outside the allowed networks", ev.User, ev.ClientIP), nil)
	}
}

// netBucket is the /24 (IPv4) or /56 (IPv6) of ip.
func netBucket(ip netip.Addr) string {
	bits := 24
	if ip.Is6() {
		bits = 56
	}
	p, _ := ip.Prefix(bits)
	return p.String()
}

// offHours reports whether now is outside the business calendar.
func (d *Detector) offHours(now int64) bool {
	t := time.Unix(0, now).In(d.set.loc)
	if d.set.holidays[t.Format(time.DateOnly)] {
		return true
	}
	if len(d.set.BusinessDays) > 0 && !d.set.days[t.Weekday()] {
		return true
	}
	m := t.Hour()*60 + t.Minute()
	return m < d.set.startMin || m >= d.set.endMin
}

// --- Statements ---------------------------------------------------------

func (d *Detector) statement(c *evalCtx) {
	ev, a, now := c.ev, c.a, c.now
	act := a.Action
	if ev.Action != event.ActionNone && ev.Action != event.ActionOther && act == event.ActionOther {
		act = ev.Action
	}
	failed := ev.Outcome == event.OutcomeFailure
	user := func() string { return "user=" + ev.User } // only when a rule fires

	// (user, digest) novelty, shared by D30, D31 and D33.
	if ev.User != "" && a.Digest != "" {
		c.newDig = d.nDigest.observe(now, c.userKey, "\x1f", a.Digest) && !d.nDigest.learningAt(now)
	}

	// G. D32 runs on failed statements too: a rejected injection attempt is
	// still one.
	if d.on[rD32] && a.Any(sqlx.Injection) && !d.allowed(rD32, c) {
		sev := SevWarning
		if c.svc {
			sev = SevCritical
		}
		d.fire(rD32, sev, c, user(), fmt.Sprintf("SQL-injection artefacts in a statement of %q: %s", ev.User, a.Features&sqlx.Injection), nil)
	}
	if failed {
		return
	}
	// D33: new statement shape from a service account.
	if d.on[rD33] && c.svc && c.newDig && !d.allowed(rD33, c) && !d.suppressed(rD33, now, d.rc[rD33].Suppress.D(), c.userKey) {
		d.fire(rD33, "", c, user()+" digest="+a.Digest, fmt.Sprintf("service account %q ran a statement shape never seen for it", ev.User), nil)
	}
	// D31: environment probing from a service account.
	if d.on[rD31] && c.svc && a.Has(sqlx.EnvProbe) && c.newDig && !d.allowed(rD31, c) {
		d.fire(rD31, "", c, user(), fmt.Sprintf("service account %q probed the server environment in a new statement", ev.User), nil)
	}
	// D30: catalog enumeration and password-hash reads.
	if d.on[rD30] {
		rc := d.rc[rD30]
		if a.Has(sqlx.PasswordHashRead) && !d.allowed(rD30, c) {
			d.fire(rD30, SevCritical, c, user(), fmt.Sprintf("%q read password hashes", ev.User), nil)
		} else if a.Has(sqlx.Catalog) && c.newDig && ev.User != "" {
			if s := d.catUser.get(c.userKey, now); s != nil {
				s.add(fnv64(a.Digest), now, int64(rc.Window), ev.ID)
				if s.distinct() >= rc.Threshold && !d.allowed(rD30, c) && !d.suppressed(rD30, now, rc.Suppress.D(), c.userKey) {
					d.fire(rD30, SevWarning, c, user(), fmt.Sprintf("%q ran %d new catalog/privilege queries within %s", ev.User, s.distinct(), rc.Window.D()), s.ids)
				}
			}
		}
	}

	// B. Privileges and accounts.
	if d.on[rD10] && (a.Has(sqlx.GrantAll|sqlx.GrantBroadLevel) || a.Has(sqlx.GrantPrivileged)) && !d.allowed(rD10, c) {
		d.fire(rD10, "", c, user()+" targets="+strings.Join(a.TargetUsers, ","),
			fmt.Sprintf("%q granted broad privileges (%s) to %s", ev.User, a.Features&(sqlx.GrantAll|sqlx.GrantBroadLevel|sqlx.GrantPrivileged), strings.Join(a.TargetUsers, ",")), nil)
	}
	if d.on[rD11] && a.Has(sqlx.GrantOption) && !d.allowed(rD11, c) {
		d.fire(rD11, "", c, user(), fmt.Sprintf("%q granted privileges WITH GRANT/ADMIN OPTION to %s", ev.User, strings.Join(a.TargetUsers, ",")), nil)
	}
	if d.on[rD12] && (act == event.ActionCreateUser || act == event.ActionCreateRole) && !d.allowed(rD12, c) {
		if bad := a.Features & (sqlx.EmptyPassword | sqlx.NoAuth | sqlx.HostAny); bad != 0 {
			d.fire(rD12, SevCritical, c, user(), fmt.Sprintf("%q created account %s insecurely (%s)", ev.User, strings.Join(a.TargetUsers, ","), bad), nil)
		} else {
			d.fire(rD12, SevInfo, c, user(), fmt.Sprintf("%q created account %s", ev.User, strings.Join(a.TargetUsers, ",")), nil)
		}
	}
	if d.on[rD13] && !d.allowed(rD13, c) {
		rc := d.rc[rD13]
		switch act {
		case event.ActionAlterUser, event.ActionSetPassword, event.ActionRenameUser:
			actor := c.lowUser
			for _, t := range a.TargetUsers {
				if t != "" && t != actor && d.match(d.set.PrivilegedUsers, t) {
					d.fire(rD13, SevCritical, c, user()+" target="+t, fmt.Sprintf("%q changed the credentials of privileged account %q", ev.User, t), nil)
					break
				}
			}
		case event.ActionDropUser, event.ActionRevoke, event.ActionDropRole:
			if r := d.dropAct.get(c.userKey, now); r != nil {
				r.add(max(rc.Threshold, 1), now, ev.ID)
				if r.count(now-int64(rc.Window)) >= rc.Threshold && !d.suppressed(rD13, now, rc.Suppress.D(), c.userKey) {
					d.fire(rD13, SevWarning, c, user(), fmt.Sprintf("%q removed account access %d times within %s", ev.User, rc.Threshold, rc.Window.D()), r.ids(now-int64(rc.Window)))
				}
			}
		}
	}
	// D08: DCL/DDL by a privileged user off hours.
	if d.on[rD08] && c.priv && (act.Class() == event.ClassDCL || act.Class() == event.ClassDDL) && d.offHours(now) && !d.allowed(rD08, c) {
		d.fire(rD08, SevWarning, c, user(), fmt.Sprintf("privileged user %q ran %s outside business hours", ev.User, act), nil)
	}

	// C. Defense impairment.
	if d.on[rD14] && a.Any(sqlx.AuditDisable|sqlx.AuditModify|sqlx.AuditEnable) && !d.allowed(rD14, c) {
		// Disabling, narrowing, excluding users or unloading is the
		// configured severity (critical); turning audit on or widening
		// what it records is info.
		what, sev := "modified", ""
		switch {
		case a.Has(sqlx.AuditDisable):
			what = "disabled"
		case !a.Any(sqlx.AuditModify):
			what, sev = "enabled or widened", SevInfo
		}
		d.fire(rD14, sev, c, user(), fmt.Sprintf("%q %s audit logging", ev.User, what), nil)
	}
	if d.on[rD16] && a.Has(sqlx.LogEvasion) && !d.allowed(rD16, c) {
		d.fire(rD16, "", c, user(), fmt.Sprintf("%q turned off statement or binary logging", ev.User), nil)
	}
	if d.on[rD17] && a.Has(sqlx.DangerousFeature) && !d.allowed(rD17, c) {
		sev := SevWarning
		if a.Has(sqlx.DangerousEnabled) {
			sev = SevCritical
		}
		d.fire(rD17, sev, c, user(), fmt.Sprintf("%q changed a dangerous server feature", ev.User), nil)
	}
	if d.on[rD18] && a.Has(sqlx.ServerCode) && !d.allowed(rD18, c) {
		d.fire(rD18, "", c, user(), fmt.Sprintf("%q loaded server-side code", ev.User), nil)
	}

	// D. Impact.
	d.impact(c, act)

	// E. Collection and exfiltration.
	if d.on[rD23] && a.Any(sqlx.IntoOutfile|sqlx.FileRead|sqlx.FileWrite) && !d.allowed(rD23, c) {
		sev := SevWarning
		for _, p := range a.Paths {
			for _, pre := range d.rc[rD23].Paths {
				if strings.HasPrefix(p, strings.ToLower(pre)) || strings.Contains(p, strings.ToLower(pre)) && strings.HasPrefix(pre, "~") {
					sev = SevCritical
				}
			}
		}
		d.fire(rD23, sev, c, user(), fmt.Sprintf("%q read or wrote server files through SQL (%s)", ev.User, strings.Join(a.Paths, ", ")), nil)
	}
	if d.on[rD24] && a.Has(sqlx.CmdExec) && !d.allowed(rD24, c) {
		d.fire(rD24, "", c, user(), fmt.Sprintf("%q executed an operating-system command through SQL", ev.User), nil)
	}
	if d.on[rD25] && a.Has(sqlx.ExternalExport) && !d.match(d.set.BackupUsers, c.lowUser) && !d.allowed(rD25, c) {
		d.fire(rD25, "", c, user(), fmt.Sprintf("%q exported data to external storage", ev.User), nil)
	}
	if act == event.ActionSelect && ev.HasRows {
		if d.on[rD26] && ev.Rows >= d.rc[rD26].Rows && !d.allowed(rD26, c) {
			d.fire(rD26, "", c, user(), fmt.Sprintf("%q read %d rows in one statement", ev.User, ev.Rows), nil)
		}
		if d.on[rD27] && ev.User != "" {
			d.baselineRule(rD27, d.volUser, c, float64(ev.Rows), "rows read")
		}
	}
	if d.on[rD28] && ev.User != "" {
		d.baselineRule(rD28, d.qUser, c, 1, "statements")
	}
	// D29: first access to a sensitive table.
	if d.on[rD29] && ev.User != "" {
		for _, t := range a.Tables {
			q := t
			if !strings.Contains(t, ".") && ev.Database != "" {
				// database.table in a scratch buffer: what keeps it (the
				// match memo) copies it.
				b := appendLower(d.qbuf[:0], ev.Database)
				b = append(b, '.')
				b = append(b, t...)
				d.qbuf = b
				q = unsafe.String(unsafe.SliceData(b), len(b))
			}
			if !d.sensitive(q, t) {
				continue
			}
			if d.nSens.observe(now, c.userKey, "\x1f", q) && !d.nSens.learningAt(now) && !d.allowed(rD29, c) {
				d.fire(rD29, "", c, user()+" table="+q, fmt.Sprintf("%q accessed sensitive table %s for the first time", ev.User, q), nil)
			}
		}
	}
}

// sensitive reports whether the table t, q qualified (t itself when
// qualified already), is in the sensitive list under either name. For a
// qualified db.t the answer is a function of q alone (t is q after its
// last dot), memoised in one string-keyed lookup instead of two match
// ones.
func (d *Detector) sensitive(q, t string) bool {
	if len(q) == len(t) { // q is t
		return d.match(d.set.SensitiveTables, t)
	}
	if len(d.set.SensitiveTables) == 0 {
		return false
	}
	if v, ok := d.sens[q]; ok {
		return v
	}
	v := d.match(d.set.SensitiveTables, q) || d.match(d.set.SensitiveTables, t)
	if d.sens == nil || len(d.sens) >= matchCacheSize {
		d.sens = make(map[string]bool, 256)
	}
	d.sens[strings.Clone(q)] = v
	return v
}

func (d *Detector) impact(c *evalCtx, act event.Action) {
	ev, a, now := c.ev, c.a, c.now
	user := func() string { return "user=" + ev.User } // only when a rule fires
	destructive := act == event.ActionDropDatabase || act == event.ActionDropTable || act == event.ActionTruncateTable
	if d.on[rD19] && destructive && !d.allowed(rD19, c) && !d.namesAllowed(rD19, a.Tables) {
		rc := d.rc[rD19]
		switch {
		case act == event.ActionDropDatabase:
			names := a.Tables
			if len(names) == 0 {
				names = ev.Objects // the lexer names no table in DROP DATABASE
			}
			d.fire(rD19, SevCritical, c, user(), fmt.Sprintf("%q dropped database %s", ev.User, strings.Join(names, ",")), nil)
		default:
			fired := false
			if r := d.ddlUser.get(c.userKey, now); r != nil {
				r.add(max(rc.Threshold, 1), now, ev.ID)
				if r.count(now-int64(rc.Window)) >= rc.Threshold && !d.suppressed(rD19, now, rc.Suppress.D(), c.userKey) {
					fired = true
					d.fire(rD19, SevCritical, c, user(), fmt.Sprintf("%q ran %d DROP TABLE/TRUNCATE within %s", ev.User, rc.Threshold, rc.Window.D()), r.ids(now-int64(rc.Window)))
				}
			}
			if !fired {
				newU := d.nDestr.observe(now, "u", c.userKey, "\x1f", act.String())
				newIP := c.hasIP && d.nDestr.observe(now, "i", c.ipKey, "\x1f", act.String())
				if (newU || newIP) && !d.nDestr.learningAt(now) {
					d.fire(rD19, SevWarning, c, user()+" client_ip="+ev.ClientIP,
						fmt.Sprintf("first %s by %q / %s in %s", act, ev.User, ev.ClientIP, rc.History.D()), nil)
				}
			}
		}
	}
	// D21: remember the wipe, then look for the note.
	if destructive || act == event.ActionDelete && a.Has(sqlx.NoWhere) {
		if s := d.wiped.get(c.userKey, now); s != nil {
			*s = stamp{now, strings.Clone(ev.ID)}
		}
	}
	if d.on[rD21] && (act == event.ActionCreateTable || act == event.ActionCreateDatabase || act == event.ActionInsert || act == event.ActionCreateView) {
		rc := d.rc[rD21]
		if s := d.wiped.peek(c.userKey, now); s != nil && s.t != 0 && now-s.t <= int64(rc.Window) {
			for _, t := range a.Tables {
				if d.match(rc.Names, t) || d.match(rc.Names, lastPart(t)) {
					if !d.allowed(rD21, c) {
						d.fire(rD21, "", c, user(), fmt.Sprintf("%q dropped data then created %s within %s", ev.User, t, rc.Window.D()), []string{s.id})
					}
					break
				}
			}
		}
	}
	if d.on[rD20] && (act == event.ActionDelete || act == event.ActionUpdate) && !d.allowed(rD20, c) {
		rc := d.rc[rD20]
		switch {
		case ev.HasRows && rc.Rows > 0 && ev.Rows >= rc.Rows:
			d.fire(rD20, SevCritical, c, user(), fmt.Sprintf("%q changed %d rows in one %s", ev.User, ev.Rows, act), nil)
		case a.Any(sqlx.NoWhere|sqlx.WhereAlwaysTrue) && a.Has(sqlx.NoLimit) && !a.Has(sqlx.TempTable):
			d.fire(rD20, SevWarning, c, user(), fmt.Sprintf("%q ran %s without a WHERE condition on %s", ev.User, act, strings.Join(a.Tables, ",")), nil)
		}
		if ev.HasRows && rc.Threshold > 0 {
			if w := d.rowsUser.get(c.userKey, now); w != nil {
				if w.start == 0 || now-w.start > int64(rc.Window) {
					*w = winSum{start: now, ids: w.ids[:0]}
				}
				w.sum += ev.Rows
				if len(w.ids) < 8 {
					w.ids = append(w.ids, ev.ID)
				}
				if w.sum >= int64(rc.Threshold) && !d.suppressed(rD20, now, rc.Suppress.D(), c.userKey) {
					d.fire(rD20, SevCritical, c, user(), fmt.Sprintf("%q changed %d rows within %s", ev.User, w.sum, rc.Window.D()), w.ids)
				}
			}
		}
	}
	if d.on[rD22] && !d.allowed(rD22, c) {
		if a.Has(sqlx.Recoverability) {
			d.fire(rD22, "", c, user(), fmt.Sprintf("%q ran a flashback/recover statement", ev.User), nil)
		}
		for _, v := range a.Vars {
			if v.Name != "tidb_gc_life_time" {
				continue
			}
			if dur, err := time.ParseDuration(strings.Trim(v.Value, "'\"")); err == nil && dur < d.rc[rD22].GCFloor.D() {
				d.fire(rD22, "", c, user(), fmt.Sprintf("%q lowered tidb_gc_life_time to %s (floor %s)", ev.User, dur, d.rc[rD22].GCFloor.D()), nil)
			}
		}
	}
}

func lastPart(t string) string {
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		return t[i+1:]
	}
	return t
}

// baselineRule is D27/D28: the window total of one user against the EWMA of
// its previous windows, with an absolute floor.
func (d *Detector) baselineRule(ri int, t *tracker[baseline], c *evalCtx, v float64, what string) {
	rc := d.rc[ri]
	b := t.get(c.userKey, c.now)
	if b == nil {
		return
	}
	b.add(v, c.now, int64(rc.Window), c.ev.ID)
	if b.fired || b.sum < rc.Floor || b.windows < rc.MinWindows || b.z() < rc.Z || d.allowed(ri, c) {
		return
	}
	b.fired = true
	d.fire(ri, "", c, "user="+c.ev.User,
		fmt.Sprintf("%q: %.0f %s within %s, baseline %.0f (z %.1f)", c.ev.User, b.sum, what, rc.Window.D(), b.mean, b.z()), b.ids)
}

// --- D34 ------------------------------------------------------------------

func (d *Detector) sqlError(c *evalCtx) {
	if !d.on[rD34] || d.allowed(rD34, c) {
		return
	}
	rc := d.rc[rD34]
	for _, k := range [2]struct {
		t   *tracker[ring]
		key string
		ok  bool
		sub string
	}{{d.errUser, c.userKey, c.ev.User != "", "user=" + c.ev.User}, {d.errIP, c.ipKey, c.hasIP, "client_ip=" + c.ev.ClientIP}} {
		if !k.ok {
			continue
		}
		r := k.t.get(k.key, c.now)
		if r == nil {
			continue
		}
		r.add(max(rc.Threshold, 1), c.now, c.ev.ID)
		if r.count(c.now-int64(rc.Window)) >= rc.Threshold && !d.suppressed(rD34, c.now, rc.Suppress.D(), k.sub) {
			d.fire(rD34, "", c, k.sub, fmt.Sprintf("%d SQL syntax/permission errors for %s within %s", rc.Threshold, k.sub, rc.Window.D()), r.ids(c.now-int64(rc.Window)))
			return
		}
	}
}

// --- H. Redash ------------------------------------------------------------

// scannerMarks are lower-case pieces of the user agents of SQL-injection,
// web-vulnerability and content-discovery tools, as they send them by
// default.
var scannerMarks = []string{
	"sqlmap/", "nikto/", "(nikto", "nuclei - open-source project", "projectdiscovery/nuclei", "wpscan v",
	"gobuster/", "fuzz faster u fool", "feroxbuster/", "dirbuster-", "wfuzz/", "nmap scripting engine",
	"masscan/", "zgrab/", "acunetix", "arachni/", "w3af.org", "openvas-vt", "netsparker", "havij",
	"commix/", "zmeu", "jaeles", "sqlninja", "bsqlbf", "absinthe", "whatweb/", "skipfish",
}

// uriSQLi are SQL-injection shapes looked for in the URL-decoded request
// line, gated by a cheap keyword.
//
// The gate of "or" is also met by ordinary requests ("order", "origin",
// "redash.example.org"), so that entry has a second necessary condition,
// checked before its regexp: "or" or "and" followed by whitespace, which
// both of its alternatives need. Without it the regexp ran on almost every
// request line (half of the detector's CPU on a Redash access log).
var uriSQLi = []struct {
	kw   string
	gate func(string) bool
	re   *regexp.Regexp
}{
	{"union", nil, regexp.MustCompile(`\bunion(\s|/\*.*?\*/)+(all(\s|/\*.*?\*/)+|distinct(\s|/\*.*?\*/)+)?select\b`)},
	{"sleep", nil, regexp.MustCompile(`\b(pg_)?sleep\s*\(\s*\d`)},
	{"benchmark", nil, regexp.MustCompile(`\bbenchmark\s*\(\s*\d`)},
	{"waitfor", nil, regexp.MustCompile(`\bwaitfor\s+delay\s+'`)},
	{"or", orAndSpace, regexp.MustCompile(`['"]\s*(or|and)\s+['"]?(\w+)['"]?\s*(=|like)\s*['"]?\w+|\b(or|and)\s+(\d+)\s*=\s*(\d+)\b`)},
	{"information_schema", nil, nil},
	{"load_file", nil, regexp.MustCompile(`\bload_file\s*\(`)},
	{"outfile", nil, regexp.MustCompile(`\binto\s+(out|dump)file\b`)},
	{"@@version", nil, nil},
	{"extractvalue", nil, regexp.MustCompile(`\b(extractvalue|updatexml)\s*\(`)},
	{"updatexml", nil, regexp.MustCompile(`\b(extractvalue|updatexml)\s*\(`)},
	{"select", nil, regexp.MustCompile(`;\s*(select|drop|insert|update|delete|exec)\b`)},
	{"xp_cmdshell", nil, nil},
	{"pg_read_file", nil, nil},
}

// decodeRequest returns ev.Raw lower-cased with nginx's \xHH escapes,
// %XX escapes (up to twice, for double encoding) and '+' decoded, in d.url.
func (d *Detector) decodeRequest(raw string) string {
	b := d.url[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+3 < len(raw) && raw[i+1] == 'x' {
			if v, ok := unhex(raw[i+2], raw[i+3]); ok {
				b = append(b, lower(v))
				i += 3
				continue
			}
		}
		b = append(b, lower(c))
	}
	for pass := 0; pass < 2; pass++ {
		n, changed := 0, false
		for i := 0; i < len(b); i++ {
			c := b[i]
			switch {
			case c == '%' && i+2 < len(b):
				if v, ok := unhex(b[i+1], b[i+2]); ok {
					b[n] = lower(v)
					n++
					i += 2
					changed = true
					continue
				}
			case c == '+' && pass == 0:
				c, changed = ' ', true
			}
			b[n] = c
			n++
		}
		b = b[:n]
		if !changed {
			break
		}
	}
	d.url = b
	return string(b)
}

// appendLower appends strings.ToLower(s) to b, without allocating when s
// is ASCII.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return append(b, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		b = append(b, lower(s[i]))
	}
	return b
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func unhex(a, b byte) (byte, bool) {
	x, ok1 := hexDigit(a)
	y, ok2 := hexDigit(b)
	return x<<4 | y, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// sqliIn reports whether the decoded request holds an injection shape.
func sqliIn(low string) bool {
	found := sqliKeywords.set(low, false)
	for i, p := range uriSQLi {
		if found&(1<<i) != 0 && (p.gate == nil || p.gate(low)) && (p.re == nil || p.re.MatchString(low)) {
			return true
		}
	}
	return false
}

// The keywords of uriSQLi and the scanner marks, each found in one pass.
var (
	sqliKeywords = func() *multiMatch {
		kws := make([]string, len(uriSQLi))
		for i, p := range uriSQLi {
			kws[i] = p.kw
		}
		return newMultiMatch(kws)
	}()
	scanners = newMultiMatch(scannerMarks)
)

// orAndSpace reports whether "or" or "and" is followed by a regexp \s
// (tab, newline, form feed, carriage return or space) somewhere in s.
func orAndSpace(s string) bool {
	return wordThenSpace(s, "or") || wordThenSpace(s, "and")
}

func wordThenSpace(s, w string) bool {
	for {
		i := strings.Index(s, w)
		if i < 0 {
			return false
		}
		if j := i + len(w); j < len(s) {
			switch s[j] {
			case '\t', '\n', '\f', '\r', ' ':
				return true
			}
		}
		s = s[i+1:]
	}
}

func (d *Detector) redash(c *evalCtx) {
	ev, now := c.ev, c.now
	if ev.Category == event.CategoryLogin && c.hasIP {
		rc := d.rc[rD35]
		r := d.rdLogin.get(c.ipKey, now)
		n := max(rc.Threshold, rc.SuccessAfter, 1)
		switch {
		case ev.Outcome == event.OutcomeFailure && r != nil:
			r.add(n, now, ev.ID)
			if d.on[rD35] && !d.allowed(rD35, c) {
				if ev.Reason == "throttled" && !d.suppressed(rD35, now, rc.Suppress.D(), "429", c.ipKey) {
					d.fire(rD35, SevWarning, c, "client_ip="+ev.ClientIP, fmt.Sprintf("Redash throttled logins from %s (429)", ev.ClientIP), nil)
				} else if r.count(now-int64(rc.Window)) >= rc.Threshold && !d.suppressed(rD35, now, rc.Suppress.D(), c.ipKey) {
					d.fire(rD35, SevWarning, c, "client_ip="+ev.ClientIP, fmt.Sprintf("%d failed Redash logins from %s within %s", rc.Threshold, ev.ClientIP, rc.Window.D()), r.ids(now-int64(rc.Window)))
				}
			}
		case ev.Outcome == event.OutcomeSuccess && r != nil:
			since := now - int64(15*time.Minute)
			if n := r.count(since); d.on[rD35] && n >= rc.SuccessAfter && !d.allowed(rD35, c) {
				ids := r.ids(since)
				r.reset()
				d.fire(rD35, SevCritical, c, "client_ip="+ev.ClientIP, fmt.Sprintf("Redash login from %s succeeded after %d failures", ev.ClientIP, n), ids)
			}
		}
	}
	if d.on[rD36] && c.hasIP && !d.allowed(rD36, c) {
		rc := d.rc[rD36]
		if ev.Category == event.CategoryAccessDenied {
			if r := d.rdDenied.get(c.ipKey, now); r != nil {
				r.add(max(rc.Threshold, 1), now, ev.ID)
				if r.count(now-int64(rc.Window)) >= rc.Threshold && !d.suppressed(rD36, now, rc.Suppress.D(), c.ipKey) {
					d.fire(rD36, SevWarning, c, "client_ip="+ev.ClientIP, fmt.Sprintf("%d Redash 401/403 answers to %s within %s", rc.Threshold, ev.ClientIP, rc.Window.D()), r.ids(now-int64(rc.Window)))
				}
			}
		}
		if strings.Contains(ev.Raw, "api_key=") && !d.suppressed(rD36, now, rc.Suppress.D(), "key", c.ipKey) {
			d.fire(rD36, SevInfo, c, "client_ip="+ev.ClientIP, fmt.Sprintf("Redash API key sent in a URL from %s (secret exposure)", ev.ClientIP), nil)
		}
	}
	if d.on[rD37] && ev.Raw != "" && !d.allowed(rD37, c) {
		rc := d.rc[rD37]
		low := d.decodeRequest(ev.Raw)
		scanner := scanners.set(low, true) != 0
		sqli := sqliIn(low)
		if scanner || sqli {
			sev := SevWarning
			if strings.Contains(low, "sqlmap/") && strings.HasPrefix(ev.StatusCode, "2") {
				sev = SevCritical
			}
			if !d.suppressed(rD37, now, rc.Suppress.D(), sev, c.ipKey) {
				what := "SQL injection in a request"
				if scanner {
					what = "a scanner's user agent"
				}
				d.fire(rD37, sev, c, "client_ip="+ev.ClientIP, fmt.Sprintf("%s against Redash from %s (HTTP %s)", what, ev.ClientIP, ev.StatusCode), nil)
			}
		}
		// Content discovery: a burst of 404s from one address.
		if ev.StatusCode == "404" && c.hasIP && rc.Threshold > 0 {
			if r := d.rd404.get(c.ipKey, now); r != nil {
				r.add(rc.Threshold, now, ev.ID)
				if r.count(now-int64(rc.Window)) >= rc.Threshold && !d.suppressed(rD37, now, rc.Suppress.D(), "404", c.ipKey) {
					d.fire(rD37, SevWarning, c, "client_ip="+ev.ClientIP,
						fmt.Sprintf("%d Redash 404 answers to %s within %s (content discovery)", rc.Threshold, ev.ClientIP, rc.Window.D()), r.ids(now-int64(rc.Window)))
				}
			}
		}
	}
}
