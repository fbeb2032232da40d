// Package detect owns the in-process security detections D01–D37 (the
// catalogue is in docs/detections.md): rules as data (TOML, built-in
// defaults in rules/*.toml that a user file overrides), stateful detectors
// with bounded memory, first-seen state persisted across restarts, the
// detections they emit and the dbsec_detections_total metrics.
//
// A Detector is the pipeline's detection stage (Detect). It takes time
// from the events, never from the wall clock. Statements are analysed with pkg/sqlx (TiDB parser), so
// this package must not be imported by the per-line metrics path
// (pkg/classify, pkg/parse/...).
package detect

import (
	"fmt"
	"log/slog"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // business-hour time zones on hosts without zoneinfo
	"unicode/utf8"
	"unsafe"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/sqlx"
)

// Options of a Detector.
type Options struct {
	// OnFinding sees every detection, synchronously inside Detect (to log
	// it); it must not block and must not keep the pointer (the detection
	// belongs to the event's Hits).
	OnFinding func(d *event.Detection)
	// StatePath is the file that keeps first-seen state across restarts
	// ("" = in memory only). It is read by New and written by Save/Close.
	StatePath string
	// IDGen assigns ids to events that arrive without one, so that
	// findings can cite them. Nil leaves such events without an id.
	IDGen *event.IDGen
	// Analyzer is the statement analyser; nil makes one with a 4096-entry
	// cache.
	Analyzer *sqlx.Analyzer
	Logger   *slog.Logger
	// Sources are the configured source names: the source label of
	// dbsec_detections_total is one of them (pre-initialised to 0 for
	// every enabled rule) or OtherSource.
	Sources []string
	// Servers maps a source to the database server whose log it reads
	// (config [[source]] server). The detectors' state is keyed by server,
	// so that one server's failures and successes meet across its logs,
	// and a statement or login that two sources of one server both record
	// (same connection id, verb, objects, within DedupWindow) is evaluated
	// once. A source missing here is a server of its own.
	Servers map[string]string
}

// DedupWindow is how far apart in time two logs of one server may record
// the same statement or login.
const DedupWindow = 5 * time.Second

// seen is the last sighting of a statement or login of one server.
type seen struct {
	t   int64
	src string
}

// Detector runs the enabled rules over events. It is safe for concurrent
// use; the state updates are serialised by one mutex (the statement
// analysis of a Prep runs outside it).
type Detector struct {
	mu    sync.Mutex
	rules Rules
	set   *Settings
	rc    [numRules]*RuleConfig
	on    [numRules]bool
	opts  Options
	an    *sqlx.Analyzer
	log   *slog.Logger

	now int64 // latest event time seen (ns)

	supp     *tracker[int64]
	failUser *tracker[ring]
	failIP   *tracker[ring]
	spray    *tracker[smallSet]
	distUser *tracker[smallSet]
	unexpIP  *tracker[ring]
	dropAct  *tracker[ring]
	ddlUser  *tracker[ring]
	rowsUser *tracker[winSum]
	wiped    *tracker[stamp]
	volUser  *tracker[baseline]
	qUser    *tracker[baseline]
	catUser  *tracker[smallSet]
	errUser  *tracker[ring]
	errIP    *tracker[ring]
	rdLogin  *tracker[ring]
	rdDenied *tracker[ring]
	rd404    *tracker[ring]
	dedup    *tracker[seen]
	shared   map[string]bool // servers read by more than one source

	trackers []trackerStats

	nNet, nDormant, nDestr, nSens, nDigest *novelty
	novelties                              []*novelty

	ringUser, ringIP int

	m      metrics
	topk   [numDims]*spaceSaving
	mcache map[matchKey]bool
	users  map[string]userInfo
	sens   map[string]bool // Detector.sensitive's memo
	src    srcMemo
	codes  map[string]bool
	// url is the scratch buffer of decodeRequest; kbuf holds the entity
	// keys of the event being evaluated, sbuf a suppression key, dbuf a
	// dedup key, qbuf a qualified table name.
	url, kbuf, sbuf, dbuf, qbuf []byte
	// sync is the Prep of Detect (guarded by mu).
	sync prep
}

// winSum is a sum over a window anchored at its first event.
type winSum struct {
	start int64
	sum   int64
	ids   []string
}

type trackerStats interface {
	len() int
	stats() (name string, evictions, rejected uint64)
}

func (t *tracker[T]) stats() (string, uint64, uint64) { return t.name, t.evictions, t.rejected }

// New returns a Detector for the rules. The state file, when given and
// present, restores first-seen memory and learning progress.
func New(rules Rules, opts Options) (*Detector, error) {
	if rules.Rules == nil {
		rules = DefaultRules()
	}
	d := &Detector{rules: rules, opts: opts, an: opts.Analyzer, log: opts.Logger}
	d.set = &d.rules.Settings
	d.sync.d = d
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.an == nil {
		d.an = sqlx.New(sqlx.Options{})
	}
	for i := range catalog {
		d.rc[i] = d.rules.byIndex[i]
		if d.rc[i] == nil {
			return nil, fmt.Errorf("detect: rule %s not configured (use DefaultRules, LoadRules or ParseRules)", catalog[i].ID)
		}
		d.on[i] = d.rc[i].On() && catalog[i].Kind != KindPromQL
	}
	c := d.set.MaxEntities
	hour := time.Hour
	win := func(ri int) time.Duration { return max(d.rc[ri].Window.D(), d.rc[ri].WindowLong.D(), time.Minute) }
	d.supp = newTracker[int64]("suppress", 4*c, 24*hour)
	d.ringUser = max(d.rc[rD01].Threshold, d.rc[rD05].Threshold, 1)
	d.ringIP = max(d.rc[rD02].Threshold, d.rc[rD02].ThresholdLong, d.rc[rD05].Threshold, 1)
	d.failUser = newTracker[ring]("auth_failures_by_user", c, max(win(rD01), win(rD05)))
	d.failIP = newTracker[ring]("auth_failures_by_ip", c, max(win(rD02), win(rD05)))
	d.spray = newTracker[smallSet]("password_spray", c, win(rD03))
	d.distUser = newTracker[smallSet]("distributed_brute_force", c, win(rD04))
	d.unexpIP = newTracker[ring]("unexpected_network", c, win(rD09))
	d.dropAct = newTracker[ring]("account_removal", c, win(rD13))
	d.ddlUser = newTracker[ring]("destructive_ddl", c, win(rD19))
	d.rowsUser = newTracker[winSum]("mass_dml", c, win(rD20))
	d.wiped = newTracker[stamp]("ransom_pattern", c, win(rD21))
	d.volUser = newTracker[baseline]("data_volume", c, 32*win(rD27))
	d.qUser = newTracker[baseline]("query_volume", c, 32*win(rD28))
	d.catUser = newTracker[smallSet]("catalog_enumeration", c, win(rD30))
	d.errUser = newTracker[ring]("sql_errors_by_user", c, win(rD34))
	d.errIP = newTracker[ring]("sql_errors_by_ip", c, win(rD34))
	d.rdLogin = newTracker[ring]("redash_login_by_ip", c, max(win(rD35), 15*time.Minute))
	d.rdDenied = newTracker[ring]("redash_denied_by_ip", c, win(rD36))
	d.rd404 = newTracker[ring]("redash_not_found_by_ip", c, win(rD37))
	d.dedup = newTracker[seen]("same_server_dedup", c, DedupWindow)
	d.shared = map[string]bool{}
	perServer := map[string]int{}
	for _, srv := range opts.Servers {
		perServer[srv]++
		if perServer[srv] > 1 {
			d.shared[srv] = true
		}
	}
	d.trackers = []trackerStats{d.supp, d.failUser, d.failIP, d.spray, d.distUser, d.unexpIP, d.dropAct, d.ddlUser,
		d.rowsUser, d.wiped, d.volUser, d.qUser, d.catUser, d.errUser, d.errIP, d.rdLogin, d.rdDenied, d.rd404, d.dedup}

	n := d.set.NoveltyCapacity
	r7, r19, r29, r33 := d.rc[rD07], d.rc[rD19], d.rc[rD29], d.rc[rD33]
	d.nNet = newNovelty("new_network_login", n, r7.History.D(), r7.Learning.D())
	d.nDormant = newNovelty("dormant_account", n, r7.DormantHistory.D(), r7.Learning.D())
	d.nDestr = newNovelty("destructive_ddl", n, r19.History.D(), r19.Learning.D())
	d.nSens = newNovelty("sensitive_first_access", n, r29.History.D(), r29.Learning.D())
	d.nDigest = newNovelty("user_digest", n, r33.History.D(), r33.Learning.D())
	d.novelties = []*novelty{d.nNet, d.nDormant, d.nDestr, d.nSens, d.nDigest}

	d.codes = map[string]bool{}
	for _, c := range d.rc[rD34].Codes {
		d.codes[c] = true
	}
	if k := d.set.TopK; k > 0 {
		for i := range d.topk {
			d.topk[i] = newSpaceSaving(k)
		}
	}
	d.m.init(d)
	if opts.StatePath != "" {
		if err := d.load(opts.StatePath); err != nil {
			d.log.Warn("cannot restore detector state, starting to learn again", "path", opts.StatePath, "err", err)
		}
	}
	return d, nil
}

// Close persists the state file. The Detector must not be used after.
func (d *Detector) Close() error { return d.Save() }

// evalCtx is what the rules of one event share.
type evalCtx struct {
	ev      *event.Event
	now     int64
	a       *sqlx.Analysis
	ip      netip.Addr
	hasIP   bool
	src     string
	srv     string // the server: Options.Servers of the source, or the source
	userKey string
	ipKey   string
	priv    bool
	svc     bool
	newDig  bool
	// lowUser is the user lowercased; gUser whether the global allowlist
	// holds it (both from Detector.um).
	lowUser string
	gUser   bool
	shared  bool // Detector.shared[srv]
}

// srcMemo is what consume derives from the source name alone, kept for
// the next event of the same source: its server in Options.Servers ("":
// the source itself) and whether other sources share that server.
type srcMemo struct {
	ok     bool
	source []byte
	srv    string
	shared bool
}

// userInfo is what consume derives from the user name alone: its
// lowercase form and its privileged, service and globally allowed flags
// (the lists do not change), memoised per user in Detector.users.
type userInfo struct {
	low             string
	priv, svc, gUsr bool
}

// Detect is the detection stage of the pipeline, run on every event before
// any sink sees it. Its contract:
//   - it appends one event.Detection per rule hit to ev.Hits (severity,
//     message, rule id and name, entity, evidence event ids), and the rule
//     name to ev.Detections, and returns the hits of this call;
//   - it sets ev.Digest when empty, and ev.ID when empty and an IDGen is
//     configured (the pipeline normally assigned it already);
//   - it changes nothing else, keeps no reference to ev, and takes its
//     time from the event, never from the wall clock.
func (d *Detector) Detect(ev *event.Event) []event.Detection {
	n := len(ev.Hits)
	d.mu.Lock()
	d.sync.prepare(ev)
	d.consume(ev, &d.sync)
	d.sync.ev, d.sync.a = nil, sqlx.Analysis{} // keep no reference to ev
	d.mu.Unlock()
	return ev.Hits[n:]
}

// Consume runs Detect and drops the returned slice (for callers that use
// the detector as a plain sink, like the tests and benchmarks).
func (d *Detector) Consume(ev *event.Event) { d.Detect(ev) }

// Prep is the per-event scratch of a pipeline that runs the pure part of
// detection ahead, in parallel workers (pkg/pipeline's Preparer): Prepare
// analyses the event's statement without touching the detector's state and
// may run concurrently for different events (each with its own Prep);
// Detect then is the Detector's Detect with that analysis, and must be
// called for the events in their order. The type is an alias of a literal
// so that it is identical to pkg/pipeline's, which this package must not
// import.
type Prep = interface {
	Prepare(ev *event.Event)
	Detect(ev *event.Event) []event.Detection
}

// NewPrep returns a new Prep of the detector, to be reused for event after
// event (one per event in flight).
func (d *Detector) NewPrep() Prep { return &prep{d: d} }

// prep holds what Prepare computed for one event.
type prep struct {
	d *Detector
	// ev is the event Prepare ran for (nil: none, Detect prepares).
	ev *event.Event
	// a is the statement's analysis when has.
	a   sqlx.Analysis
	has bool
}

// needsAnalysis reports whether consume analyses ev's statement (the
// statement branch of its switch).
func needsAnalysis(ev *event.Event) bool {
	if ev.System == event.SystemRedash || ev.Statement == "" {
		return false
	}
	return !(isLogin(ev) && (ev.Outcome == event.OutcomeFailure || ev.Outcome == event.OutcomeSuccess))
}

func isLogin(ev *event.Event) bool {
	return ev.Action == event.ActionConnect || ev.Action == event.ActionChangeUser ||
		(ev.Category == event.CategoryLogin && !ev.Action.IsStatement())
}

// prepare is the pure part: the statement analysis (its result depends
// only on the text).
func (p *prep) prepare(ev *event.Event) {
	p.ev, p.has = ev, false
	if needsAnalysis(ev) {
		p.a = p.d.an.Analyze(ev.Statement, sqlx.DialectOf(ev.System))
		p.has = true
	}
}

// Prepare implements Prep.
func (p *prep) Prepare(ev *event.Event) { p.prepare(ev) }

// Detect implements Prep: Detector.Detect with the analysis of Prepare
// (made here when Prepare was not called for ev).
func (p *prep) Detect(ev *event.Event) []event.Detection {
	n := len(ev.Hits)
	if p.ev != ev {
		p.prepare(ev)
	}
	d := p.d
	d.mu.Lock()
	d.consume(ev, p)
	d.mu.Unlock()
	p.ev = nil
	return ev.Hits[n:]
}

// consume runs the rules over ev with the analysis in p; d.mu is held.
func (d *Detector) consume(ev *event.Event, p *prep) {
	now := ev.Time.UnixNano()
	if ev.Time.IsZero() {
		now = d.now
	}
	d.now = max(d.now, now)
	if ev.ID == "" && d.opts.IDGen != nil {
		ev.ID = d.opts.IDGen.Next(ev.Time)
	}
	m := &d.src
	if !m.ok || string(m.source) != ev.Source {
		m.source = append(m.source[:0], ev.Source...)
		m.srv = d.opts.Servers[ev.Source]
		srv := m.srv
		if srv == "" {
			srv = ev.Source
		}
		m.shared, m.ok = d.shared[srv], true
	}
	srv := ev.Source
	if m.srv != "" {
		srv = m.srv
	}
	c := evalCtx{ev: ev, now: now, src: ev.Source, srv: srv, shared: d.src.shared}
	if ip, err := netip.ParseAddr(ev.ClientIP); err == nil {
		c.ip, c.hasIP = ip.Unmap(), true
	}
	// The entity keys server\x1fuser and server\x1fclient_ip are views of
	// a scratch buffer, valid during this call: whatever keeps a key (the
	// trackers, the suppression and dedup memories, the match memo) copies
	// it.
	b := append(d.kbuf[:0], srv...)
	b = append(b, '\x1f')
	b = append(b, ev.User...)
	nu := len(b)
	b = append(b, srv...)
	b = append(b, '\x1f')
	b = append(b, ev.ClientIP...)
	d.kbuf = b
	c.userKey = unsafe.String(unsafe.SliceData(b), nu)
	c.ipKey = unsafe.String(unsafe.SliceData(b[nu:]), len(b)-nu)
	d.userFlags(&c)

	if ev.System == event.SystemRedash {
		d.redash(&c)
		d.countTopK(&c)
		return
	}
	login := isLogin(ev)
	switch {
	case login && (ev.Outcome == event.OutcomeFailure || ev.Outcome == event.OutcomeSuccess):
		if d.duplicate(&c, "L", ev.Action.String(), ev.Outcome.String(), "\x1f", c.lowUser) {
			return
		}
		if ev.Outcome == event.OutcomeFailure {
			d.authFailure(&c)
		} else {
			d.authSuccess(&c)
		}
	case ev.Statement != "":
		c.a = &p.a
		a := c.a
		if ev.Digest == "" {
			ev.Digest = a.Digest
		}
		act := a.Action
		if act == event.ActionOther || act == event.ActionNone {
			act = ev.Action
		}
		if d.dupStatement(&c, act) {
			return
		}
		d.statement(&c)
	}
	if ev.Outcome == event.OutcomeFailure && ev.StatusCode != "" && d.codes[ev.StatusCode] && !login {
		d.sqlError(&c)
	}
	d.countTopK(&c)
}

// dupStatement is duplicate for a statement: its verb, target accounts and
// tables.
func (d *Detector) dupStatement(c *evalCtx, act event.Action) bool {
	if !c.shared || c.ev.ConnectionID == "" {
		return false
	}
	return d.duplicate(c, "S", act.String(), "\x1f", strings.Join(c.a.TargetUsers, ","), "\x1f", strings.Join(c.a.Tables, ","))
}

// duplicate reports whether another source of the same server recorded
// the same login or statement (what, concatenated) on the same connection
// within DedupWindow; it remembers this sighting otherwise.
func (d *Detector) duplicate(c *evalCtx, what ...string) bool {
	ev := c.ev
	if !c.shared || ev.ConnectionID == "" {
		return false
	}
	b := append(d.dbuf[:0], c.srv...)
	b = append(b, '\x1f')
	b = append(b, ev.ConnectionID...)
	b = append(b, '\x1f')
	for _, w := range what {
		b = append(b, w...)
	}
	d.dbuf = b
	p := d.dedup.get(unsafe.String(unsafe.SliceData(b), len(b)), c.now)
	if p == nil {
		return false
	}
	if p.src != "" && p.src != ev.Source && c.now-p.t <= int64(DedupWindow) && p.t-c.now <= int64(DedupWindow) {
		return true
	}
	*p = seen{c.now, strings.Clone(ev.Source)}
	return false
}

// fire counts and emits one finding of rule ri. sev "" is the configured
// severity.
func (d *Detector) fire(ri int, sev string, c *evalCtx, subject, msg string, ids []string) {
	info := &catalog[ri]
	if sev == "" {
		sev = d.rc[ri].Severity
	}
	ev := c.ev
	if ev.ID != "" && !slices.Contains(ids, ev.ID) {
		ids = append(ids, ev.ID)
	}
	if !slices.Contains(ev.Detections, info.Name) {
		ev.Detections = append(ev.Detections, info.Name)
	}
	d.m.count(ri, sev, ev)
	t := time.Unix(0, c.now).UTC()
	hit := event.Detection{
		Time:     t,
		RuleID:   info.ID,
		Rule:     info.Name,
		Title:    info.Title,
		Severity: sev,
		Message:  msg,
		Source:   strings.Clone(ev.Source),
		User:     strings.Clone(ev.User),
		ClientIP: strings.Clone(ev.ClientIP),
		Entity:   strings.Clone(subject),
		EventID:  strings.Clone(ev.ID),
		Evidence: cloneStrings(ids),
	}
	ev.Hits = append(ev.Hits, hit)
	if d.opts.OnFinding != nil {
		d.opts.OnFinding(&ev.Hits[len(ev.Hits)-1])
	}
}

func cloneStrings(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.Clone(v)
	}
	return out
}

// suppressed reports whether rule ri fired for the key made of parts
// (concatenated) within dur, and records a firing when it did not.
func (d *Detector) suppressed(ri int, now int64, dur time.Duration, parts ...string) bool {
	if dur <= 0 {
		return false
	}
	b := utf8.AppendRune(d.sbuf[:0], rune('A'+ri))
	for _, p := range parts {
		b = append(b, p...)
	}
	d.sbuf = b
	p := d.supp.get(unsafe.String(unsafe.SliceData(b), len(b)), now)
	if p == nil {
		return false
	}
	if *p != 0 && now-*p < int64(dur) {
		return true
	}
	*p = now
	return false
}

// userFlags sets c.lowUser, c.priv, c.svc and c.gUser from the memo
// d.users (one lookup instead of a lowercasing and three match lookups);
// the memo is cleared when it holds matchCacheSize users.
func (d *Detector) userFlags(c *evalCtx) {
	u := c.ev.User
	if u == "" {
		c.lowUser = ""
		return
	}
	in, ok := d.users[u]
	if !ok {
		low := strings.Clone(strings.ToLower(u))
		in = userInfo{
			low:  low,
			priv: d.match(d.set.PrivilegedUsers, low),
			svc:  d.match(d.set.ServiceUsers, low),
			gUsr: d.match(d.set.Allow.Users, low),
		}
		if d.users == nil || len(d.users) >= matchCacheSize {
			d.users = make(map[string]userInfo, 256)
		}
		d.users[strings.Clone(u)] = in
	}
	c.lowUser, c.priv, c.svc, c.gUser = in.low, in.priv, in.svc, in.gUsr
}

// allowed reports whether the event is allowlisted for rule ri (global or
// per-rule users, client networks or digests).
func (d *Detector) allowed(ri int, c *evalCtx) bool {
	if c.gUser {
		return true
	}
	dg := c.ev.Digest
	if c.a != nil {
		dg = c.a.Digest
	}
	for i, al := range [2]*Allow{&d.set.Allow, &d.rc[ri].Allow} {
		if i > 0 && len(al.Users) > 0 && c.ev.User != "" && d.match(al.Users, c.lowUser) {
			return true
		}
		if c.hasIP && len(al.nets) > 0 && inNets(al.nets, c.ip) {
			return true
		}
		if dg != "" && len(al.Digests) > 0 && slices.Contains(al.Digests, dg) {
			return true
		}
	}
	return false
}

// namesAllowed reports whether every table is allowlisted by name for ri.
func (d *Detector) namesAllowed(ri int, tables []string) bool {
	if len(tables) == 0 {
		return false
	}
	for _, t := range tables {
		if !d.match(d.rc[ri].Allow.Names, t) && !d.match(d.set.Allow.Names, t) {
			return false
		}
	}
	return true
}

func inNets(nets []netip.Prefix, ip netip.Addr) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// matchKey identifies one (pattern list, name) question for matchCache.
type matchKey struct {
	list *string
	name string
}

// matchCacheSize bounds the memo of glob matches; it is cleared when full.
const matchCacheSize = 8192

// match is matchAny memoised for lists that hold globs: path.Match over
// every pattern was most of the detectors' time on a hot table or user.
// Callers hold d.mu.
func (d *Detector) match(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return false
	}
	k := matchKey{&patterns[0], s}
	if v, ok := d.mcache[k]; ok {
		return v
	}
	v := matchAny(patterns, s)
	if d.mcache == nil || len(d.mcache) >= matchCacheSize {
		d.mcache = make(map[matchKey]bool, 256)
	}
	k.name = strings.Clone(s)
	d.mcache[k] = v
	return v
}

// matchAny matches s against exact names or path.Match globs.
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if p == s {
			return true
		}
		if strings.ContainsAny(p, "*?[") {
			if ok, _ := path.Match(strings.ToLower(p), s); ok {
				return true
			}
			// "*.x" should also match an unqualified "x".
			if rest, ok := strings.CutPrefix(p, "*."); ok && !strings.Contains(s, ".") {
				if ok, _ := path.Match(strings.ToLower(rest), s); ok {
					return true
				}
			}
		}
	}
	return false
}
