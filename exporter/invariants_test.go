package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTimeOutOfRange posts a TDengine audit record dated 5138 (the largest
// millisecond stamp, beyond 2262) next to a good one: it is a counted parse error,
// the store keeps only the good one and verifies, and an API time outside
// the supported range is a 400 naming the parameter.
func TestTimeOutOfRange(t *testing.T) {
	dir := t.TempDir()
	recv := freeAddr(t)
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf("[server]\nstate_dir = %q\n\n[store]\npath = %q\n\n[[source]]\nname = \"taos\"\nformat = \"tdengine-audit\"\nlisten = \"http://%s\"\n",
		dir, filepath.Join(dir, "events.db"), recv)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stderr := daemon(t, "--config.file", cfg)
	defer func() {
		if t.Failed() {
			t.Log(stderr.String())
		}
	}()
	waitFor(t, 10*time.Second, func() bool {
		resp, err := http.Get("http://" + recv + "/audit")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	rec := func(ms int64, user string) string {
		return fmt.Sprintf(`{"timestamp":%d,"cluster_id":"7","user":%q,"operation":"login","client_add":"10.1.0.7:50313","db":"","resource":"","details":""}`, ms, user)
	}
	for _, body := range []string{rec(99999999999999, "future"), rec(1733212805000, "dave")} {
		resp, err := http.Post("http://"+recv+"/audit", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	waitFor(t, 10*time.Second, func() bool {
		return value(scrape(t, base+"/metrics"), "dbsec_parse_errors_total", "source", "taos", "reason", "timestamp") == 1
	})
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, 10*time.Second, func() bool {
		_, b := get("/api/v1/status")
		return strings.Contains(b, `"stored":1`)
	})
	code, b := get("/api/v1/integrity")
	var rep struct {
		OK      bool  `json:"ok"`
		Checked int64 `json:"checked"`
	}
	if err := json.Unmarshal([]byte(b), &rep); err != nil || code != 200 || !rep.OK || rep.Checked != 1 {
		t.Fatalf("integrity: %d %s", code, b)
	}
	for _, q := range []string{"from=9999-01-01T00:00:00Z", "to=1500-01-01T00:00:00Z"} {
		code, b := get("/api/v1/events?" + q)
		if code != 400 || !strings.Contains(b, `"param":"`+strings.Split(q, "=")[0]+`"`) {
			t.Errorf("%s: %d %s", q, code, b)
		}
	}
}

// TestEndlessConfigFiles: check-config on /dev/zero and a drift target on
// /dev/zero are refused at once with the file named, instead of reading
// until memory runs out.
func TestEndlessConfigFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, out, errOut := runCapture(t, ctx, "check-config", "--product", "tidb", "/dev/zero")
	if code == 0 || !strings.Contains(out+errOut, "/dev/zero: not a regular file") {
		t.Errorf("check-config /dev/zero: exit %d\n%s%s", code, out, errOut)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf("[server]\nstate_dir = %q\n\n[store]\nenabled = false\n\n[[drift.target]]\nname = \"t\"\nproduct = \"tidb\"\nfiles = [\"/dev/zero\"]\n[drift.target.versions]\ntidb = \"8.5.0\"\n", dir)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCapture(t, ctx, "--config.file", cfg, "--config.check")
	if code == 0 || !strings.Contains(out+errOut, "/dev/zero: not a regular file") {
		t.Errorf("--config.check with a /dev/zero drift target: exit %d\n%s%s", code, out, errOut)
	}
}

// TestSourceMatchingNothing: in serve mode a source whose glob matches
// nothing is logged, exported as 0 files matched and shown in the status.
func TestSourceMatchingNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf("[server]\nstate_dir = %q\n\n[store]\npath = %q\n\n[[source]]\nname = \"empty\"\nformat = \"mariadb-audit\"\npath = %q\n",
		dir, filepath.Join(dir, "events.db"), filepath.Join(dir, "nothing", "*.log"))
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stderr := daemon(t, "--config.file", cfg)
	waitFor(t, 10*time.Second, func() bool {
		return value(scrape(t, base+"/metrics"), "dbsec_source_files_matched", "source", "empty") == 0
	})
	resp, err := http.Get(base + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"files_matched":0`) {
		t.Errorf("status: %s", b)
	}
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(stderr.String(), "no file matches the source's path") })
}
