package main

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/version"
)

const exampleTiDB = "../pkg/drift/testdata/examples/tidb/config.toml"

func checkConfigCapture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCapture(t, context.Background(), append([]string{"check-config"}, args...)...)
}

func TestCheckConfigCommand(t *testing.T) {
	code, out, errOut := checkConfigCapture(t, "--output.format", "json", exampleTiDB)
	if code != 1 {
		t.Errorf("exit %d, want 1 (failing findings)\n%s", code, errOut)
	}
	if !strings.Contains(out, `"TIDB-004"`) {
		t.Errorf("JSON output lacks TIDB-004:\n%.500s", out)
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--fact", "offline=true", exampleTiDB}, 1},
		{[]string{"--fact", "offline=true", "--fail-on", "critical", exampleTiDB}, 0},
		{[]string{"--output.format", "xml", exampleTiDB}, 2},
		{[]string{"--format", "json", exampleTiDB}, 2}, // the old flag name is gone
		{[]string{"--product.version", "nope", exampleTiDB}, 2},
		{[]string{"--product.version", "8.5.0", "--fail-on", "critical", exampleTiDB}, 0},
		{[]string{"--product.edition", "premium", exampleTiDB}, 2},
		{[]string{"unknown.file"}, 2},
		{[]string{"--fail-on", "urgent", exampleTiDB}, 2},
		{[]string{}, 2},
	} {
		if code, _, errOut := checkConfigCapture(t, tc.args...); code != tc.want {
			t.Errorf("check-config %q: exit %d, want %d\n%s", tc.args, code, tc.want, errOut)
		}
	}
	// --version is dbsec's version, not the product's: it checks nothing.
	code, out, errOut = checkConfigCapture(t, "--version", "8.5.0", exampleTiDB)
	if code != 0 || strings.Contains(out, "TIDB-") || !strings.Contains(out+errOut, "dbsec_exporter, version") {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestCheckConfigVersion(t *testing.T) {
	old := version.BuildDate
	version.BuildDate = "20261206-06:30:00"
	defer func() { version.BuildDate = old }()
	for _, args := range [][]string{{"--version"}, {"check-config", "--version"}} {
		code, out, errOut := runCapture(t, context.Background(), args...)
		if code != 0 {
			t.Errorf("%q: exit %d\n%s", args, code, errOut)
		}
		if text := out + errOut; !strings.Contains(text, "build date:       20261206-06:30:00") {
			t.Errorf("%q does not show the build date:\n%s", args, text)
		}
	}
}

// TestCheckConfigRefusesForeignFiles: random bytes named taos.cfg are not a
// taos.cfg, so no rule may pass on them: exit 2 with the position.
func TestCheckConfigRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	random := make([]byte, 4096)
	rand.Read(random)
	random[0] = 'x' // the first bad byte is then at column 2 or later
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	posRe := regexp.MustCompile(`check-config: .+:\d+:\d+: not a `)
	for _, tc := range []struct {
		name string
		body []byte
		args []string
	}{
		{"taos.cfg", random, nil},
		{"tidb.toml", random, nil},
		{"env", random, []string{"--product", "redash"}},
		{"taos.cfg", []byte("firstEp  localhost:6030\n# a comment\n<html><body>not a config</body></html>\n"), nil},
	} {
		p := write(tc.name, tc.body)
		code, out, errOut := checkConfigCapture(t, append(tc.args, p)...)
		if code != 2 || out != "" || !posRe.MatchString(errOut) {
			t.Errorf("%s (%.20q): exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout, a positioned error", tc.name, tc.body, code, out, errOut)
		}
	}
	// The taos.cfg line shape is named with its line and column.
	p := write("taos.cfg", []byte("firstEp localhost:6030\n  <html>\n"))
	if _, _, errOut := checkConfigCapture(t, p); !strings.Contains(errOut, p+":2:3: not a taos.cfg line") {
		t.Errorf("stderr %q, want %s:2:3", errOut, p)
	}
	// A file of the right format with a syntax error is a finding (CONF-002), not refused.
	p = write("tidb.toml", []byte("[security\n"))
	if code, out, _ := checkConfigCapture(t, "--fail-on", "high", p); code != 1 || !strings.Contains(out, "CONF-002") {
		t.Errorf("TOML syntax error: exit %d, want 1 with CONF-002:\n%s", code, out)
	}
}

func TestCheckConfigBadRuleAndOverrides(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "bad.toml")
	os.WriteFile(rules, []byte("schema = \"dbsec.baseline/v1\"\nid = \"p\"\nkind = \"tidb\"\n\n[[rule]]\nid = \"X-001\"\ntitle = \"t\"\nseverity = \"low\"\nrationale = \"r\"\nremediation = \"m\"\nreferences = [\"x\"]\n[[rule.check.all]]\nkey = \"host\"\nop = \"present\"\n[[rule.check.all]]\nkey = \"port\"\n  op = \"frobnicate\"\n"), 0o644)
	code, out, errOut := checkConfigCapture(t, "--rules.file", rules, exampleTiDB)
	if code != 2 || out != "" || !strings.Contains(errOut, "bad.toml:17:3:") {
		t.Errorf("bad rule pack: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	ov := filepath.Join(dir, "o.toml")
	os.WriteFile(ov, []byte("schema = \"dbsec.overrides/v1\"\n[[waiver]]\nrule = \"NOPE-001\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2026-07-10\n"), 0o644)
	code, out, errOut = checkConfigCapture(t, "--overrides.file", ov, exampleTiDB)
	if code != 2 || out != "" || !strings.Contains(errOut, "o.toml:3:1:") {
		t.Errorf("bad overrides: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Without the built-in packs and with no rule of its own, nothing fails.
	if code, _, errOut := checkConfigCapture(t, "--no-rules.builtin", "--fail-on", "low", exampleTiDB); code != 0 {
		t.Errorf("--no-rules.builtin: exit %d\n%s", code, errOut)
	}
}

func TestCheckConfigSnapshotDrift(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tidb.toml")
	os.WriteFile(cfgPath, []byte("store = \"unistore\"\n[security]\nauto-tls = true\nsession-token-signing-key = \"old\"\n[status]\nstatus-host = \"0.0.0.0\"\n"), 0o644)
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("install-key\n"), 0o600)
	snap := filepath.Join(dir, "snap.toml")
	if code, _, errOut := checkConfigCapture(t, "--snapshot.approve", "--snapshot.file", snap, "--hmac-key.file", keyFile, "--target", "t1="+cfgPath); code != 0 {
		t.Fatalf("approve exit %d: %s", code, errOut)
	}
	os.WriteFile(cfgPath, []byte("store = \"mocktikv\"\nenable-streaming = false\n[security]\nsession-token-signing-key = \"new\"\n"), 0o644)
	code, js, errOut := checkConfigCapture(t, "--snapshot.file", snap, "--hmac-key.file", keyFile, "--fail-on", "critical", "--fail-on-drift", "--output.format", "json", "--target", "t1="+cfgPath)
	if code != 3 {
		t.Fatalf("exit %d, want 3 (drift): %s", code, errOut)
	}
	for _, want := range []string{`"key": "store"`, `"old": "unistore"`, `"new": "mocktikv"`, `"key": "security.auto-tls"`, `"change": "removed"`,
		`"key": "enable-streaming"`, `"note": "removed in the product (no effect)"`, `"key": "status.status-host"`, `"note": "equals the default: effective value unchanged"`,
		`"key": "security.session-token-signing-key"`, `"secret": true`, `"old_hmac": "`} {
		if !strings.Contains(js, want) {
			t.Errorf("drift JSON lacks %s\n%s", want, js)
		}
	}
	if strings.Contains(js, `"old": "old"`) || strings.Contains(js, `"new"`+": \"new\"") {
		t.Error("secret value in drift")
	}
	// A snapshot without a key is a usage error.
	if code, _, _ := checkConfigCapture(t, "--snapshot.file", snap, cfgPath); code != 2 {
		t.Errorf("want exit 2 without HMAC key, got %d", code)
	}
}
