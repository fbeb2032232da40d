// Package config loads and validates the exporter's TOML configuration
// (BurntSushi/toml). Unknown keys are rejected, defaults live in code, and
// every problem is reported at once as "file:line:col: message". Relative
// paths are resolved against the configuration file's directory.
//
// It never reads flags or the environment; the exporter passes it a path.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"

	"github.com/dbsec/dbsec/pkg/drift"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/formats"
	"github.com/dbsec/dbsec/pkg/parse/tdengineaudit"
	"github.com/dbsec/dbsec/pkg/tomlx"
)

// Config is the whole exporter configuration.
type Config struct {
	// File is the path the configuration was read from.
	File    string
	Server  Server
	Store   Store
	Export  Export
	Sources []Source
	Drift   Drift
	Detect  Detect
}

// Detect configures the in-process detections D01–D37 (pkg/detect).
type Detect struct {
	// Enabled runs the detections; default true.
	Enabled bool
	// Rules is a TOML file applied over the built-in rules ("" = built-in
	// only): thresholds, allowlists, privileged users, business hours.
	Rules string
	// StateFile keeps first-seen memory and learning progress across
	// restarts. Default: detect-state.json in the state directory.
	StateFile string
	// Workers is how many goroutines of each file source analyse
	// statements ahead of the detectors (pkg/pipeline's workers): 0 (the
	// default) means GOMAXPROCS, 1 analyses each event in the source's
	// own goroutine. Network sources always use 1.
	Workers int
}

// MaxWorkers bounds [detect] workers.
const MaxWorkers = 256

// WorkerCount is Workers with 0 resolved to GOMAXPROCS.
func (d Detect) WorkerCount() int {
	if d.Workers > 0 {
		return d.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Drift configures the periodic configuration-drift checks (pkg/drift).
type Drift struct {
	Interval    time.Duration // default 5m
	Rules       []string      // extra rule packs
	Overrides   string        // tailoring, waivers, severity overrides
	Snapshot    string        // approved snapshot to compare against
	HMACKeyFile string        // key for secret HMACs in the snapshot
	Targets     []DriftTarget
}

// DriftTarget is one checked installation: its config files, and the
// product versions that select defaults and rules.
type DriftTarget struct {
	Name  string
	Files []string
	// Product names what the files configure (tidb, tikv, pd, tdengine,
	// taosadapter, taoskeeper, redash) when their names do not say it;
	// "" means from each file's name, and a file whose name says nothing
	// is a configuration error.
	Product string
	// Version is the product version of every file of the target (the
	// per-kind Versions win).
	Version  string
	Versions map[string]string // kind → version, e.g. tidb = "8.5.0"
	Edition  string            // TDengine: community (default) or enterprise
}

// Server holds exporter-wide settings. The listen address and the web
// config (TLS, basic auth) come from exporter-toolkit flags, not from here.
type Server struct {
	// StateDir keeps read positions (checkpoints). Default "data".
	StateDir string
}

// Store configures the embedded event store.
type Store struct {
	// Enabled keeps events for drill-down and serves the JSON API;
	// default true.
	Enabled   bool
	Path      string        // default "data/dbsec.db"
	Retention time.Duration // default 30d
	MaxSize   int64         // bytes; 0 = unlimited
	// AllStatements also stores reads, writes and other statements; by
	// default only security categories and events with detections are.
	AllStatements bool
	// Engine is "sqlite" (the embedded store, default) or "victorialogs"
	// (the fleet-wide store, configured in [store.victorialogs]).
	Engine       string
	VictoriaLogs VictoriaLogs
}

// Store engines.
const (
	EngineSQLite       = "sqlite"
	EngineVictoriaLogs = "victorialogs"
)

// VictoriaLogs configures the victorialogs store engine. Retention is
// VictoriaLogs' own (its -retentionPeriod flag); path, retention and
// max_size of [store] apply to the embedded engine only.
type VictoriaLogs struct {
	// InsertURL and SelectURL are VictoriaLogs base URLs
	// (http://host:9428); SelectURL defaults to InsertURL.
	InsertURL, SelectURL string
	Username, Password   string
	// PasswordFile and BearerTokenFile are read at start.
	PasswordFile, BearerToken, BearerTokenFile string
	TLSCAFile, TLSCertFile, TLSKeyFile         string
	TLSInsecureSkipVerify                      bool
	AccountID, ProjectID                       uint32
	// Exporter names this exporter's stream and hash chain; default the
	// host name.
	Exporter      string
	BatchSize     int           // default 10000
	FlushInterval time.Duration // default 1s
	MaxQueueSize  int64         // on-disk queue bound; default 1GiB
	Timeout       time.Duration // per request; default 30s
}

// Export configures the SIEM export: events as OCSF-aligned JSON lines.
type Export struct {
	// Path of the output file, "-" for stdout, "" for no export.
	Path     string
	MaxSize  int64 // rotate at this size; default 100 MiB
	MaxFiles int   // rotated files kept; default 5
}

// StartAt says where to start reading a file that has no checkpoint.
type StartAt string

// Start positions.
const (
	StartEnd       StartAt = "end"
	StartBeginning StartAt = "beginning"
)

// Source is one log to follow.
type Source struct {
	Name     string
	Format   parse.Format
	Path     string // path or glob, absolute after Load
	StartAt  StartAt
	Timezone string
	Location *time.Location
	Labels   map[string]string
	// LinePrefix is the format's line layout (PostgreSQL log_line_prefix).
	LinePrefix string
	// DockerPrefix strips the "<service> | " that `docker compose logs`
	// puts before every line.
	DockerPrefix bool
	// FollowSymlinks says which symbolic links among the matched files
	// are read: "inside" (default) only those whose target is inside the
	// directory of the path, "always", or "never".
	FollowSymlinks string
	// Listen receives syslog instead of following files:
	// udp://host:port, tcp://host:port or tls://host:port. Exclusive with
	// Path. TLS needs TLSCertFile and TLSKeyFile.
	// http://host:port or https://host:port receives TDengine audit
	// records as taosKeeper does (format tdengine-audit).
	Listen      string
	TLSCertFile string
	TLSKeyFile  string
	// Server names the database server this source's log belongs to.
	// Sources with one server (TiDB's audit log and tidb.log) share the
	// detectors' state (failures in one log, the success in the other)
	// and a statement seen in both is evaluated once. Empty is the source
	// name: a server of its own.
	Server string
}

// ServerKey is the server the source belongs to: Server, or its name.
func (s Source) ServerKey() string {
	if s.Server != "" {
		return s.Server
	}
	return s.Name
}

// IsHTTPReceiver reports whether the source is the TDengine audit receiver
// (listen = "http://…" or "https://…") rather than a syslog listener.
func (s Source) IsHTTPReceiver() bool {
	return strings.HasPrefix(s.Listen, "http://") || strings.HasPrefix(s.Listen, "https://")
}

// Defaults.
const (
	DefaultStateDir  = "data"
	DefaultStorePath = "data/dbsec.db"
	DefaultRetention = 30 * 24 * time.Hour
	// DefaultDriftInterval is how often configuration files are checked.
	DefaultDriftInterval = 5 * time.Minute
)

// Error is one configuration problem with its position (the error type
// of every TOML file dbsec reads).
type Error = tomlx.Error

// Errors is every problem found in one file, in file order.
type Errors = tomlx.Errors

// Load reads and validates the configuration at path. On failure the error
// is an Errors with every problem found.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse validates configuration text; path is used for messages and to
// resolve relative paths.
func Parse(path string, data []byte) (*Config, error) {
	// The configuration is decoded into a map and walked key by key, so
	// that each section validates itself and reports unknown keys in its
	// own words.
	var raw map[string]any
	doc, err := tomlx.Decode(path, data, &raw, nil)
	if err != nil {
		return nil, err
	}
	l := &loader{file: path, pos: doc.Pos}
	cfg := l.config(raw)
	if len(l.errs) > 0 {
		l.errs.Sort()
		return nil, l.errs
	}
	return cfg, nil
}

type loader struct {
	file string
	pos  *tomlx.Positions
	errs Errors
}

// errorf records a problem at the key path; value selects the value's
// column instead of the key's.
func (l *loader) errorf(path string, value bool, format string, args ...any) {
	line, col := l.pos.Key(path)
	if value {
		line, col = l.pos.Value(path)
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) dir() string { return filepath.Dir(l.file) }

func (l *loader) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.dir(), p)
}

func (l *loader) config(raw map[string]any) *Config {
	cfg := &Config{File: l.file}
	cfg.Server.StateDir = DefaultStateDir
	cfg.Store.Path = DefaultStorePath
	cfg.Store.Retention = DefaultRetention
	cfg.Store.Enabled = true
	cfg.Store.Engine = EngineSQLite
	cfg.Drift.Interval = DefaultDriftInterval
	cfg.Detect.Enabled = true
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		switch k {
		case "server":
			t := l.table(k, v)
			for _, kk := range sortedKeys(t) {
				p := k + "." + kk
				switch kk {
				case "state_dir":
					cfg.Server.StateDir = l.str(p, t[kk])
				default:
					l.unknown(p)
				}
			}
		case "store":
			t := l.table(k, v)
			for _, kk := range sortedKeys(t) {
				p := k + "." + kk
				switch kk {
				case "path":
					cfg.Store.Path = l.str(p, t[kk])
				case "retention":
					s := l.str(p, t[kk])
					d, err := model.ParseDuration(s)
					if err != nil || d <= 0 {
						l.errorf(p, true, "retention %q is not a positive duration (examples: 30d, 12h, 2w)", s)
					}
					cfg.Store.Retention = time.Duration(d)
				case "max_size":
					cfg.Store.MaxSize = l.size(p, t[kk])
				case "enabled":
					cfg.Store.Enabled = l.boolean(p, t[kk])
				case "all_statements":
					cfg.Store.AllStatements = l.boolean(p, t[kk])
				case "engine":
					switch e := l.str(p, t[kk]); e {
					case EngineSQLite, EngineVictoriaLogs:
						cfg.Store.Engine = e
					default:
						l.errorf(p, true, "engine must be %q or %q, not %q", EngineSQLite, EngineVictoriaLogs, e)
					}
				case "victorialogs":
					cfg.Store.VictoriaLogs = l.victoriaLogs(p, l.table(p, t[kk]))
				default:
					l.unknown(p)
				}
			}
			if cfg.Store.Engine == EngineVictoriaLogs && cfg.Store.VictoriaLogs.InsertURL == "" {
				l.errorf(k+".engine", true, "engine \"victorialogs\" needs [store.victorialogs] insert_url")
			}
			if _, ok := t["victorialogs"]; ok && cfg.Store.Engine != EngineVictoriaLogs {
				l.errorf(k+".victorialogs", false, "[store.victorialogs] is set but engine is not \"victorialogs\"")
			}
		case "export":
			t := l.table(k, v)
			for _, kk := range sortedKeys(t) {
				p := k + "." + kk
				switch kk {
				case "path":
					cfg.Export.Path = l.str(p, t[kk])
					if cfg.Export.Path != "-" && cfg.Export.Path != "" {
						cfg.Export.Path = l.abs(cfg.Export.Path)
					}
				case "max_size":
					cfg.Export.MaxSize = l.size(p, t[kk])
				case "max_files":
					n, ok := t[kk].(int64)
					if !ok || n < 1 || n > 1000 {
						l.errorf(p, true, "max_files must be a number from 1 to 1000")
					}
					cfg.Export.MaxFiles = int(n)
				default:
					l.unknown(p)
				}
			}
		case "detect":
			t := l.table(k, v)
			for _, kk := range sortedKeys(t) {
				p := k + "." + kk
				switch kk {
				case "enabled":
					b, ok := t[kk].(bool)
					if !ok {
						l.errorf(p, true, "enabled must be true or false, not %s", tomlType(t[kk]))
					}
					cfg.Detect.Enabled = b
				case "rules":
					cfg.Detect.Rules = l.abs(l.str(p, t[kk]))
				case "state_file":
					cfg.Detect.StateFile = l.abs(l.str(p, t[kk]))
				case "workers":
					n, ok := t[kk].(int64)
					if !ok || n < 0 || n > MaxWorkers {
						l.errorf(p, true, "workers must be a number from 0 (one per CPU) to %d", MaxWorkers)
					}
					cfg.Detect.Workers = int(n)
				default:
					l.errorf(p, false, "unknown key %q in [detect]", kk)
				}
			}
		case "drift":
			cfg.Drift = l.drift(k, l.table(k, v), cfg.Drift)
		case "source":
			arr, ok := v.([]map[string]any)
			if !ok {
				l.errorf(k, false, "source must be an array of tables: write [[source]]")
				continue
			}
			seen := map[string]string{}
			type srv struct {
				system event.System
				source string
			}
			servers := map[string]srv{}
			for i, t := range arr {
				s := l.source(fmt.Sprintf("source.%d", i), t)
				if s.Server != "" && s.Format.Name != "" {
					if prev, ok := servers[s.Server]; ok && prev.system != s.Format.System {
						l.errorf(fmt.Sprintf("source.%d.server", i), true, "server %q joins source %q (%s) with source %q (%s): the logs of one server come from one product",
							s.Server, s.Name, s.Format.System, prev.source, prev.system)
					} else if !ok {
						servers[s.Server] = srv{s.Format.System, s.Name}
					}
				}
				if s.Name != "" {
					if prev, dup := seen[s.Name]; dup {
						l.errorf(fmt.Sprintf("source.%d.name", i), true, "source name %q is already used at %s", s.Name, prev)
					} else {
						line, _ := l.pos.Value(fmt.Sprintf("source.%d.name", i))
						seen[s.Name] = fmt.Sprintf("line %d", line)
					}
				}
				cfg.Sources = append(cfg.Sources, s)
			}
		default:
			l.unknown(k)
		}
	}
	cfg.Server.StateDir = l.abs(cfg.Server.StateDir)
	cfg.Store.Path = l.abs(cfg.Store.Path)
	if cfg.Detect.StateFile == "" {
		cfg.Detect.StateFile = filepath.Join(cfg.Server.StateDir, "detect-state.json")
	}
	return cfg
}

var (
	versionRE = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+){0,3}([-+][0-9A-Za-z.-]+)?$`)
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)
	labelRE   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// reservedLabels are label names dbsec itself uses on some series.
var reservedLabels = map[string]bool{
	"source": true, "system": true, "category": true, "outcome": true, "action": true, "class": true,
	"reason": true, "rule": true, "rule_id": true, "severity": true, "target": true, "le": true, "instance": true, "job": true,
}

func (l *loader) source(p string, t map[string]any) Source {
	s := Source{StartAt: StartEnd, Timezone: "Local"}
	var formatName string
	for _, k := range sortedKeys(t) {
		kp := p + "." + k
		v := t[k]
		switch k {
		case "name":
			s.Name = l.str(kp, v)
			if s.Name != "" && !nameRE.MatchString(s.Name) {
				l.errorf(kp, true, "source name %q must start with a letter or digit and contain only letters, digits and _ . : -", s.Name)
			}
		case "format":
			formatName = l.str(kp, v)
			f, ok := formats.Lookup(formatName)
			if !ok && formatName != "" {
				l.errorf(kp, true, "unknown format %q (known: %s)", formatName, strings.Join(formats.Names(), ", "))
			}
			s.Format = f
		case "path":
			s.Path = l.str(kp, v)
			if _, err := filepath.Match(s.Path, ""); err != nil {
				l.errorf(kp, true, "path %q is not a valid glob: %v", s.Path, err)
			}
			s.Path = l.abs(s.Path)
		case "listen":
			s.Listen = l.str(kp, v)
			scheme, hostport, ok := strings.Cut(s.Listen, "://")
			if !ok || (scheme != "udp" && scheme != "tcp" && scheme != "tls" && scheme != "http" && scheme != "https") || !strings.Contains(hostport, ":") {
				l.errorf(kp, true, "listen %q must be udp://host:port, tcp://host:port or tls://host:port (syslog), or http://host:port or https://host:port (the TDengine audit receiver)", s.Listen)
			}
		case "tls_cert_file":
			s.TLSCertFile = l.abs(l.str(kp, v))
		case "tls_key_file":
			s.TLSKeyFile = l.abs(l.str(kp, v))
		case "start_at":
			switch x := l.str(kp, v); x {
			case "end", "beginning":
				s.StartAt = StartAt(x)
			default:
				l.errorf(kp, true, "start_at must be \"beginning\" or \"end\", not %q", x)
			}
		case "timezone":
			s.Timezone = l.str(kp, v)
		case "log_line_prefix":
			s.LinePrefix = l.str(kp, v)
		case "docker_prefix":
			s.DockerPrefix = l.boolean(kp, v)
		case "server":
			s.Server = l.str(kp, v)
			if s.Server != "" && !nameRE.MatchString(s.Server) {
				l.errorf(kp, true, "server %q must start with a letter or digit and contain only letters, digits and _ . : -", s.Server)
			}
		case "follow_symlinks":
			switch x := l.str(kp, v); x {
			case "inside", "always", "never":
				s.FollowSymlinks = x
			default:
				l.errorf(kp, true, "follow_symlinks must be \"inside\" (links whose target is in the path's directory), \"always\" or \"never\", not %q", x)
			}
		case "labels":
			lt, ok := v.(map[string]any)
			if !ok {
				l.errorf(kp, true, "labels must be a table, for example labels = { cluster = \"prod\" }")
				continue
			}
			s.Labels = map[string]string{}
			for _, lk := range sortedKeys(lt) {
				lv, ok := lt[lk].(string)
				switch {
				case !labelRE.MatchString(lk) || strings.HasPrefix(lk, "__"):
					l.errorf(kp, true, "label name %q is not a valid Prometheus label name", lk)
				case reservedLabels[lk]:
					l.errorf(kp, true, "label name %q is reserved by dbsec", lk)
				case !ok:
					l.errorf(kp, true, "label %q must have a string value", lk)
				default:
					s.Labels[lk] = lv
				}
			}
		default:
			l.unknown(kp)
		}
	}
	if s.Name == "" {
		l.errorf(p, false, "source has no name")
	}
	if formatName == "" {
		l.errorf(p, false, "source %q has no format (known: %s)", s.Name, strings.Join(formats.Names(), ", "))
	}
	switch {
	case s.Path == "" && s.Listen == "":
		l.errorf(p, false, "source %q has no path (or listen, for syslog)", s.Name)
	case s.Path != "" && s.Listen != "":
		l.errorf(p+".listen", false, "source %q has both path and listen: use one", s.Name)
	}
	tls := strings.HasPrefix(s.Listen, "tls://") || strings.HasPrefix(s.Listen, "https://")
	if tls && (s.TLSCertFile == "" || s.TLSKeyFile == "") {
		l.errorf(p+".listen", true, "a tls:// or https:// listener needs tls_cert_file and tls_key_file")
	}
	if !tls && (s.TLSCertFile != "" || s.TLSKeyFile != "") {
		l.errorf(p, false, "tls_cert_file and tls_key_file need listen = \"tls://host:port\" or \"https://host:port\"")
	}
	if s.IsHTTPReceiver() && s.Format.Name != "" && s.Format.Name != tdengineaudit.FormatName {
		l.errorf(p+".listen", true, "an http(s):// listener receives TDengine audit records: it needs format = %q, not %q", tdengineaudit.FormatName, s.Format.Name)
	}
	if s.LinePrefix != "" && s.Format.Name != "" {
		if s.Format.CheckOptions == nil {
			l.errorf(p+".log_line_prefix", true, "format %q does not take a log_line_prefix", s.Format.Name)
		} else if err := s.Format.CheckOptions(parse.Options{LinePrefix: s.LinePrefix}); err != nil {
			l.errorf(p+".log_line_prefix", true, "%v", err)
		}
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		l.errorf(p+".timezone", true, "unknown timezone %q (use an IANA name such as \"UTC\" or \"Europe/Berlin\", or \"Local\")", s.Timezone)
		loc = time.UTC
	}
	s.Location = loc
	return s
}

func (l *loader) drift(p string, t map[string]any, d Drift) Drift {
	for _, k := range sortedKeys(t) {
		kp := p + "." + k
		v := t[k]
		switch k {
		case "interval":
			s := l.str(kp, v)
			iv, err := model.ParseDuration(s)
			if err != nil || iv <= 0 {
				l.errorf(kp, true, "interval %q is not a positive duration (examples: 5m, 1h)", s)
			}
			d.Interval = time.Duration(iv)
		case "rules":
			for _, r := range l.strs(kp, v) {
				d.Rules = append(d.Rules, l.abs(r))
			}
		case "overrides":
			d.Overrides = l.abs(l.str(kp, v))
		case "snapshot":
			d.Snapshot = l.abs(l.str(kp, v))
		case "hmac_key_file":
			d.HMACKeyFile = l.abs(l.str(kp, v))
		case "target":
			arr, ok := v.([]map[string]any)
			if !ok {
				l.errorf(kp, false, "target must be an array of tables: write [[drift.target]]")
				continue
			}
			seen := map[string]bool{}
			for i, tt := range arr {
				tp := fmt.Sprintf("%s.%d", kp, i)
				var dt DriftTarget
				for _, tk := range sortedKeys(tt) {
					tkp := tp + "." + tk
					switch tk {
					case "name":
						dt.Name = l.str(tkp, tt[tk])
					case "files":
						for _, f := range l.strs(tkp, tt[tk]) {
							dt.Files = append(dt.Files, l.abs(f))
						}
					case "versions":
						vt, ok := tt[tk].(map[string]any)
						if !ok {
							l.errorf(tkp, true, "versions must be a table, for example versions = { tidb = \"8.5.0\" }")
							continue
						}
						dt.Versions = map[string]string{}
						for _, vk := range sortedKeys(vt) {
							dt.Versions[vk] = l.str(tkp, vt[vk])
						}
					case "product":
						dt.Product = strings.ToLower(l.str(tkp, tt[tk]))
						if _, err := DriftKind(dt.Product, ""); err != nil {
							l.errorf(tkp, true, "%v", err)
						}
					case "version":
						dt.Version = l.str(tkp, tt[tk])
						if !versionRE.MatchString(dt.Version) {
							l.errorf(tkp, true, "version %q is not a version number such as \"8.5.0\" or \"v7.5.1\"", dt.Version)
						}
					case "edition":
						dt.Edition = l.str(tkp, tt[tk])
						if dt.Edition != "community" && dt.Edition != "enterprise" {
							l.errorf(tkp, true, "edition must be \"community\" or \"enterprise\"")
						}
					default:
						l.errorf(tkp, false, "unknown key %q in [[drift.target]]", tk)
					}
				}
				switch {
				case dt.Name == "":
					l.errorf(tp, false, "drift target has no name")
				case seen[dt.Name]:
					l.errorf(tp+".name", true, "drift target name %q is already used", dt.Name)
				}
				seen[dt.Name] = true
				if len(dt.Files) == 0 {
					l.errorf(tp, false, "drift target %q has no files", dt.Name)
				}
				if dt.Product == "" {
					for _, f := range dt.Files {
						if drift.DetectKind(f) == "" {
							l.errorf(tp+".files", true, "drift target %q: the name of %s does not say which product it configures: set product = \"tidb\" (or tikv, pd, tdengine, taosadapter, taoskeeper, redash)", dt.Name, f)
						}
					}
				}
				d.Targets = append(d.Targets, dt)
			}
		default:
			l.errorf(kp, false, "unknown key %q in [drift]", k)
		}
	}
	if d.Snapshot != "" && d.HMACKeyFile == "" {
		l.errorf(p+".snapshot", true, "a snapshot needs hmac_key_file: secrets are kept only as keyed HMACs")
	}
	return d
}

func (l *loader) victoriaLogs(p string, t map[string]any) VictoriaLogs {
	v := VictoriaLogs{BatchSize: 10000, FlushInterval: time.Second, MaxQueueSize: 1 << 30, Timeout: 30 * time.Second}
	url := func(kp string, x any) string {
		u := l.str(kp, x)
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") || len(strings.TrimRight(u[strings.Index(u, "://")+3:], "/")) == 0 {
			l.errorf(kp, true, "%s %q must be an http:// or https:// URL such as http://victorialogs:9428", kp[strings.LastIndexByte(kp, '.')+1:], u)
		}
		return u
	}
	dur := func(kp string, x any) time.Duration {
		s := l.str(kp, x)
		d, err := model.ParseDuration(s)
		if err != nil || d <= 0 {
			l.errorf(kp, true, "%s %q is not a positive duration (examples: 500ms, 1s, 1m)", kp[strings.LastIndexByte(kp, '.')+1:], s)
		}
		return time.Duration(d)
	}
	u32 := func(kp string, x any) uint32 {
		n, ok := x.(int64)
		if !ok || n < 0 || n > 1<<32-1 {
			l.errorf(kp, true, "%s must be a number from 0 to 4294967295", kp[strings.LastIndexByte(kp, '.')+1:])
		}
		return uint32(n)
	}
	for _, k := range sortedKeys(t) {
		kp := p + "." + k
		x := t[k]
		switch k {
		case "insert_url":
			v.InsertURL = url(kp, x)
		case "select_url":
			v.SelectURL = url(kp, x)
		case "username":
			v.Username = l.str(kp, x)
		case "password":
			v.Password = l.str(kp, x)
		case "password_file":
			v.PasswordFile = l.abs(l.str(kp, x))
		case "bearer_token":
			v.BearerToken = l.str(kp, x)
		case "bearer_token_file":
			v.BearerTokenFile = l.abs(l.str(kp, x))
		case "tls_ca_file":
			v.TLSCAFile = l.abs(l.str(kp, x))
		case "tls_cert_file":
			v.TLSCertFile = l.abs(l.str(kp, x))
		case "tls_key_file":
			v.TLSKeyFile = l.abs(l.str(kp, x))
		case "tls_insecure_skip_verify":
			v.TLSInsecureSkipVerify = l.boolean(kp, x)
		case "account_id":
			v.AccountID = u32(kp, x)
		case "project_id":
			v.ProjectID = u32(kp, x)
		case "exporter":
			v.Exporter = l.str(kp, x)
			if v.Exporter != "" && !nameRE.MatchString(v.Exporter) {
				l.errorf(kp, true, "exporter %q must start with a letter or digit and contain only letters, digits and _ . : -", v.Exporter)
			}
		case "batch_size":
			n, ok := x.(int64)
			if !ok || n < 1 || n > 1000000 {
				l.errorf(kp, true, "batch_size must be a number from 1 to 1000000")
			}
			v.BatchSize = int(n)
		case "flush_interval":
			v.FlushInterval = dur(kp, x)
		case "timeout":
			v.Timeout = dur(kp, x)
		case "max_queue_size":
			v.MaxQueueSize = l.size(kp, x)
			if v.MaxQueueSize < 1<<20 {
				l.errorf(kp, true, "max_queue_size must be at least 1MiB")
			}
		default:
			l.errorf(kp, false, "unknown key %q in [store.victorialogs]", k)
		}
	}
	if (v.Username != "") != (v.Password != "" || v.PasswordFile != "") {
		l.errorf(p, false, "[store.victorialogs] basic auth needs both username and password (or password_file)")
	}
	if v.Password != "" && v.PasswordFile != "" || v.BearerToken != "" && v.BearerTokenFile != "" {
		l.errorf(p, false, "[store.victorialogs] set a secret either inline or as a file, not both")
	}
	if v.Username != "" && (v.BearerToken != "" || v.BearerTokenFile != "") {
		l.errorf(p, false, "[store.victorialogs] set either basic auth or a bearer token, not both")
	}
	if (v.TLSCertFile != "") != (v.TLSKeyFile != "") {
		l.errorf(p, false, "[store.victorialogs] tls_cert_file and tls_key_file go together")
	}
	return v
}

func (l *loader) strs(path string, v any) []string {
	arr, ok := v.([]any)
	if !ok {
		l.errorf(path, true, "%s must be an array of strings", path[strings.LastIndexByte(path, '.')+1:])
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, ok := x.(string)
		if !ok {
			l.errorf(path, true, "%s must be an array of strings", path[strings.LastIndexByte(path, '.')+1:])
			return nil
		}
		out = append(out, s)
	}
	return out
}

func (l *loader) boolean(path string, v any) bool {
	b, ok := v.(bool)
	if !ok {
		l.errorf(path, true, "%s must be true or false, not %s", path[strings.LastIndexByte(path, '.')+1:], tomlType(v))
	}
	return b
}

// size parses a size: a string such as "10GiB" or a number of bytes.
func (l *loader) size(path string, v any) int64 {
	key := path[strings.LastIndexByte(path, '.')+1:]
	switch x := v.(type) {
	case int64:
		if x < 0 {
			l.errorf(path, true, "%s must not be negative", key)
		}
		return x
	case string:
		n, err := units.ParseBase2Bytes(x)
		if err != nil || n < 0 {
			l.errorf(path, true, "%s %q is not a size (examples: 512MiB, 10GiB)", key, x)
		}
		return int64(n)
	default:
		l.errorf(path, true, "%s must be a size string such as \"10GiB\" or a number of bytes", key)
		return 0
	}
}

func (l *loader) unknown(path string) {
	parts := strings.Split(path, ".")
	if len(parts) >= 3 && parts[0] == "source" {
		l.errorf(path, false, "unknown key %q in [[source]]", parts[len(parts)-1])
		return
	}
	l.errorf(path, false, "unknown key %q", path)
}

func (l *loader) table(path string, v any) map[string]any {
	t, ok := v.(map[string]any)
	if !ok {
		l.errorf(path, true, "%s must be a table", path)
		return nil
	}
	return t
}

func (l *loader) str(path string, v any) string {
	s, ok := v.(string)
	if !ok {
		l.errorf(path, true, "%s must be a string, not %s", path[strings.LastIndexByte(path, '.')+1:], tomlType(v))
	}
	return s
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date-time"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DriftKind is the drift kind of a target file: what its name says within
// the product's family, else the product's own kind; with no product, what
// its name says ("" when it says nothing).
func DriftKind(product, path string) (drift.Kind, error) {
	detected := drift.DetectKind(path)
	switch product {
	case "":
		return detected, nil
	case "redash":
		if detected == drift.KindCompose {
			return detected, nil
		}
		return drift.KindDotenv, nil
	}
	k, err := drift.ParseKind(product)
	if err != nil {
		return "", fmt.Errorf("unknown product %q (known: tidb, tikv, pd, tdengine, taosadapter, taoskeeper, redash)", product)
	}
	if k == drift.KindTaosCfg && (detected == drift.KindTaosAdapter || detected == drift.KindTaosKeeper) {
		return detected, nil // a TDengine target holds taos.cfg and its companions
	}
	return k, nil
}
