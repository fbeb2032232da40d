package main

import (
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

// TestTDengineAuditReceiver posts audit records the way taosd does (one
// record to /audit_v2, a batch to /audit-batch, the old /audit shape) to a
// source with listen = "http://…", and expects them counted, stored and
// served by the API like records read from a file.
func TestTDengineAuditReceiver(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf(`[server]
state_dir = %q

[store]
path = %q

[detect]
enabled = false

[[source]]
name = "taos-push"
format = "tdengine-audit"
listen = "http://%s"
`, dir, filepath.Join(dir, "events.db"), addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stderr := daemon(t, "--config.file", cfg)
	recv := "http://" + addr
	post := func(path, body string) int {
		t.Helper()
		resp, err := http.Post(recv+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	waitFor(t, 10*time.Second, func() bool {
		resp, err := http.Get(recv + "/audit_v2")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusMethodNotAllowed
	})
	// Three logins (one in each shape), a CREATE USER whose password
	// must not reach the store, a GRANT and a DROP DATABASE.
	codes := []int{
		post("/audit_v2", `{"timestamp":"1733212800000000000","cluster_id":"7","user":"alice","operation":"login","client_add":"10.1.0.5:50311","db":"","resource":"","details":"app:taos-cli"}`),
		post("/audit-batch", `{"records":[
			{"timestamp":"1733212801000000000","cluster_id":"7","user":"bob","operation":"login","client_add":"10.1.0.6:50312","db":"","resource":"","details":"app:grafana"},
			{"timestamp":"1733212802000000000","cluster_id":"7","user":"root","operation":"createUser","client_add":"10.1.0.5:50311","db":"","resource":"carol","details":"create user carol pass 'Pl4nted-S3cret' sysinfo 0"},
			{"timestamp":"1733212803000000000","cluster_id":"7","user":"root","operation":"grantPrivileges","client_add":"10.1.0.5:50311","db":"power","resource":"carol","details":"grant read on power to carol"},
			{"timestamp":"1733212804000000000","cluster_id":"7","user":"root","operation":"dropDB","client_add":"10.1.0.5:50311","db":"power","resource":"","details":"drop database power"}]}`),
		post("/audit", `{"timestamp":1733212805000,"cluster_id":"7","user":"dave","operation":"login","client_add":"10.1.0.7:50313","db":"","resource":"","details":""}`),
		post("/audit_v2", `{"timestamp":`), // truncated body: 400, nothing counted
	}
	if want := []int{200, 200, 200, 400}; fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("status codes %v, want %v", codes, want)
	}
	waitFor(t, 10*time.Second, func() bool {
		return value(scrape(t, base+"/metrics"), "dbsec_taosaudit_events_total", "source", "taos-push") == 6
	})
	mfs := scrape(t, base+"/metrics")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"dbsec_login_attempts_total", []string{"source", "taos-push", "outcome", "success"}, 3},
		{"dbsec_privilege_changes_total", []string{"source", "taos-push", "action", "create_user"}, 1},
		{"dbsec_privilege_changes_total", []string{"source", "taos-push", "action", "grant"}, 1},
		{"dbsec_ddl_statements_total", []string{"source", "taos-push", "action", "drop_database"}, 1},
		{"dbsec_taosaudit_requests_total", []string{"source", "taos-push", "code", "200"}, 3},
		{"dbsec_taosaudit_requests_total", []string{"source", "taos-push", "code", "400"}, 1},
		{"dbsec_source_up", []string{"source", "taos-push"}, 1},
	} {
		if v := value(mfs, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v\n%s", c.name, c.labels, v, c.want, stderr.String())
		}
	}
	// The events reach the store: the API lists the logins with the
	// posting client, and the planted password is nowhere.
	var page struct {
		Events []struct {
			User     string `json:"user"`
			ClientIP string `json:"client_ip"`
			Source   string `json:"source"`
		} `json:"events"`
	}
	waitFor(t, 10*time.Second, func() bool {
		resp, err := http.Get(base + "/api/v1/events?category=login&from=2024-12-01T00:00:00Z&to=2024-12-04T00:00:00Z")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		page.Events = nil
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&page) != nil {
			return false
		}
		return len(page.Events) == 3
	})
	users := map[string]bool{}
	for _, e := range page.Events {
		users[e.User] = e.Source == "taos-push" && strings.HasPrefix(e.ClientIP, "10.1.0.")
	}
	if !users["alice"] || !users["bob"] || !users["dave"] {
		t.Errorf("stored logins %+v", page.Events)
	}
	resp, err := http.Get(base + "/api/v1/events?from=2024-12-01T00:00:00Z&to=2024-12-04T00:00:00Z&limit=100")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "Pl4nted-S3cret") || !strings.Contains(string(b), "create user carol") {
		t.Errorf("the API leaks the password or lacks the CREATE USER:\n%s", b)
	}
}
