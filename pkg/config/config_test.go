package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestGood(t *testing.T) {
	cfg, err := Load("testdata/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	if got, want := cfg.Server.StateDir, "testdata/state"; got != want {
		t.Errorf("state_dir = %q, want %q", got, want)
	}
	if cfg.Store.Retention != 14*24*time.Hour || cfg.Store.MaxSize != 1<<30 || cfg.Store.Path != "testdata/events.db" {
		t.Errorf("store = %+v", cfg.Store)
	}
	if !cfg.Detect.Enabled || cfg.Detect.Rules != "testdata/detect-rules.toml" || cfg.Detect.StateFile != "testdata/state/detect-state.json" {
		t.Errorf("detect = %+v", cfg.Detect)
	}
	if len(cfg.Sources) != 2 {
		t.Fatalf("got %d sources, want 2", len(cfg.Sources))
	}
	s := cfg.Sources[0]
	if s.Name != "tidb-1-audit" || s.Format.Name != "tidb-audit-plugin" || s.StartAt != StartBeginning ||
		s.Location.String() != "Asia/Shanghai" || s.Labels["cluster"] != "prod" || s.Path != "testdata/logs/tidb-audit*.log" {
		t.Errorf("source 0 = %+v (dir %s)", s, dir)
	}
	s = cfg.Sources[1]
	if s.StartAt != StartEnd || s.Timezone != "Local" || s.Path != "/var/log/tidb/tidb-audit.log" {
		t.Errorf("source 1 defaults = %+v", s)
	}
}

// TestBad checks that every problem of a file is reported at once, each with
// file:line:col, against the reviewed expectation in bad.toml.err.
func TestBad(t *testing.T) {
	_, err := Load("testdata/bad.toml")
	if err == nil {
		t.Fatal("bad.toml loaded without error")
	}
	want, rerr := os.ReadFile("testdata/bad.toml.err")
	if rerr != nil {
		t.Fatal(rerr)
	}
	// The list of known formats grows with every parser; compare without it.
	known := regexp.MustCompile(`\(known: [^)]*\)`)
	got := known.ReplaceAllString(err.Error()+"\n", "(known: …)")
	if w := known.ReplaceAllString(string(want), "(known: …)"); got != w {
		t.Errorf("errors differ:\n--- want\n%s--- got\n%s", w, got)
	}
	es, ok := err.(Errors)
	if !ok || len(es) < 10 {
		t.Errorf("want an Errors with every problem, got %T with %d", err, len(es))
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Load("testdata/syntax.toml")
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/syntax.toml:4:") {
		t.Errorf("got %v, want a positioned syntax error on line 4", err)
	}
}

func TestMissingFile(t *testing.T) {
	if _, err := Load("testdata/nope.toml"); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("got %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestVictoriaLogsStore(t *testing.T) {
	good := `[store]
engine = "victorialogs"
all_statements = true

[store.victorialogs]
insert_url = "https://vlogs-insert:9428"
select_url = "https://vlogs-select:9428/"
bearer_token_file = "token"
tls_ca_file = "/etc/ssl/vlogs-ca.pem"
account_id = 12
project_id = 3
exporter = "db-7"
batch_size = 5000
flush_interval = "250ms"
max_queue_size = "256MiB"
`
	cfg, err := Parse("/etc/dbsec/dbsec.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.Store.VictoriaLogs
	if cfg.Store.Engine != EngineVictoriaLogs || v.InsertURL != "https://vlogs-insert:9428" || v.SelectURL != "https://vlogs-select:9428/" ||
		v.BearerTokenFile != "/etc/dbsec/token" || v.TLSCAFile != "/etc/ssl/vlogs-ca.pem" || v.AccountID != 12 || v.ProjectID != 3 ||
		v.Exporter != "db-7" || v.BatchSize != 5000 || v.FlushInterval != 250*time.Millisecond || v.MaxQueueSize != 256<<20 || v.Timeout != 30*time.Second {
		t.Errorf("store = %+v", cfg.Store)
	}
	cfg, err = Parse("x.toml", []byte("[store]\nretention = \"7d\"\n"))
	if err != nil || cfg.Store.Engine != EngineSQLite {
		t.Fatalf("default engine: %+v %v", cfg, err)
	}
	bad := `[store]
engine = "clickhouse"

[store.victorialogs]
insert_url = "vlogs:9428"
batch_size = 0
flush_interval = "soon"
account_id = -1
username = "u"
exporter = "a b"
tls_cert_file = "c.pem"
bogus = 1
`
	_, err = Parse("bad.toml", []byte(bad))
	want := `bad.toml:2:10: engine must be "sqlite" or "victorialogs", not "clickhouse"
bad.toml:4:1: [store.victorialogs] basic auth needs both username and password (or password_file)
bad.toml:4:1: [store.victorialogs] tls_cert_file and tls_key_file go together
bad.toml:4:1: [store.victorialogs] is set but engine is not "victorialogs"
bad.toml:5:14: insert_url "vlogs:9428" must be an http:// or https:// URL such as http://victorialogs:9428
bad.toml:6:14: batch_size must be a number from 1 to 1000000
bad.toml:7:18: flush_interval "soon" is not a positive duration (examples: 500ms, 1s, 1m)
bad.toml:8:14: account_id must be a number from 0 to 4294967295
bad.toml:10:12: exporter "a b" must start with a letter or digit and contain only letters, digits and _ . : -
bad.toml:12:1: unknown key "bogus" in [store.victorialogs]`
	if err == nil || err.Error() != want {
		t.Errorf("errors differ:\n--- want\n%s\n--- got\n%v", want, err)
	}
	_, err = Parse("x.toml", []byte("[store]\nengine = \"victorialogs\"\n"))
	if err == nil || err.Error() != `x.toml:2:10: engine "victorialogs" needs [store.victorialogs] insert_url` {
		t.Errorf("missing insert_url: %v", err)
	}
}

// TestServerKey: sources that read one server's logs share a server key;
// one key cannot join the logs of two products, and the error says where.
func TestServerKey(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.toml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := Load(write(`
[[source]]
name = "tidb-1-audit"
format = "tidb-audit-plugin"
path = "/var/log/tidb/tidb-audit.log"
server = "tidb-1"

[[source]]
name = "tidb-1-log"
format = "tidb-log"
path = "/var/log/tidb/tidb.log"
server = "tidb-1"

[[source]]
name = "maria"
format = "mariadb-audit"
path = "/var/lib/mysql/server_audit.log"
`))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.Sources[0].ServerKey(), cfg.Sources[1].ServerKey(), cfg.Sources[2].ServerKey()}
	if strings.Join(got, ",") != "tidb-1,tidb-1,maria" {
		t.Errorf("server keys %v", got)
	}
	_, err = Load(write(`
[[source]]
name = "tidb-1-log"
format = "tidb-log"
path = "/var/log/tidb/tidb.log"
server = "db-1"

[[source]]
name = "maria"
format = "mariadb-audit"
path = "/var/lib/mysql/server_audit.log"
server = "db-1"
`))
	if err == nil || !strings.Contains(err.Error(), `c.toml:12:10: server "db-1" joins source "maria" (mariadb) with source "tidb-1-log" (tidb)`) {
		t.Errorf("mixed products: %v", err)
	}
	_, err = Load(write(`
[[source]]
name = "x"
format = "tidb-log"
path = "/var/log/tidb/tidb.log"
server = "bad name"
`))
	if err == nil || !strings.Contains(err.Error(), `c.toml:6:10: server "bad name" must start`) {
		t.Errorf("bad server name: %v", err)
	}
}

// TestDriftProduct: a drift target names its product and version; without
// a product, a file whose name does not say what it configures is refused
// at the line of files.
func TestDriftProduct(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.toml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := Load(write(`
[[drift.target]]
name = "tidb-2"
files = ["/srv/tidb-2/conf/server.conf"]
product = "TiDB"
version = "v7.5.1"

[[drift.target]]
name = "taos"
files = ["/etc/taos/taos.cfg", "/etc/taos/taosadapter.toml"]
product = "tdengine"
`))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Drift.Targets[0]
	if d.Product != "tidb" || d.Version != "v7.5.1" {
		t.Errorf("target = %+v", d)
	}
	for _, c := range []struct{ product, path, want string }{
		{"tidb", "/srv/tidb-2/conf/server.conf", "tidb"},
		{"tdengine", "/etc/taos/taos.cfg", "taoscfg"},
		{"tdengine", "/etc/taos/taosadapter.toml", "taosadapter"},
		{"redash", "/opt/redash/env", "dotenv"},
		{"redash", "/opt/redash/docker-compose.yml", "compose"},
		{"", "/etc/tidb/tidb.toml", "tidb"},
		{"", "/srv/x/server.conf", ""},
	} {
		if k, err := DriftKind(c.product, c.path); err != nil || string(k) != c.want {
			t.Errorf("DriftKind(%q, %q) = %q, %v; want %q", c.product, c.path, k, err, c.want)
		}
	}
	_, err = Load(write(`
[[drift.target]]
name = "tidb-2"
files = ["/srv/tidb-2/conf/server.conf"]

[[drift.target]]
name = "x"
files = ["/etc/tidb/tidb.toml"]
product = "oracle"
version = "latest"
`))
	for _, want := range []string{
		`c.toml:4:9: drift target "tidb-2": the name of /srv/tidb-2/conf/server.conf does not say which product it configures: set product = "tidb"`,
		`c.toml:9:11: unknown product "oracle"`,
		`c.toml:10:11: version "latest" is not a version number`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in:\n%v", want, err)
		}
	}
}

// TestDetectWorkers: [detect] workers defaults to one per CPU, takes 1 to
// MaxWorkers, and refuses anything else with its position.
func TestDetectWorkers(t *testing.T) {
	cfg, err := Parse("w.toml", []byte("[detect]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Detect.Workers != 0 || cfg.Detect.WorkerCount() < 1 {
		t.Errorf("default workers %d (count %d)", cfg.Detect.Workers, cfg.Detect.WorkerCount())
	}
	cfg, err = Parse("w.toml", []byte("[detect]\nworkers = 3\n"))
	if err != nil || cfg.Detect.WorkerCount() != 3 {
		t.Fatalf("workers = 3: %v %+v", err, cfg)
	}
	for _, v := range []string{"-1", "257", `"2"`, "1.5"} {
		if _, err := Parse("w.toml", []byte("[detect]\nworkers = "+v+"\n")); err == nil || !strings.Contains(err.Error(), "w.toml:2:") {
			t.Errorf("workers = %s: %v, want a positioned error", v, err)
		}
	}
}
