package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSyslogSource sends the sample corpus's four failed logins as RFC 5424 messages over TCP (octet counting) to a source with
// listen, and expects them counted like the same lines read from a file.
func TestSyslogSource(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf(`[server]
state_dir = %q

[detect]
enabled = false

[[source]]
name = "sys"
format = "tidb-audit-plugin"
listen = "tcp://%s"
`, dir, addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../testdata/tidb/tidb-audit-plugin.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")[6:10] // lines 7-10: failed, failed, failed, failed
	base, stderr := daemon(t, "--config.file", cfg)
	var conn net.Conn
	waitFor(t, 10*time.Second, func() bool {
		conn, err = net.Dial("tcp", addr)
		return err == nil
	})
	defer conn.Close()
	w := bufio.NewWriter(conn)
	for _, l := range lines {
		msg := fmt.Sprintf("<134>1 2026-11-30T01:01:10Z tidb-7 tidb - - - %s", l)
		fmt.Fprintf(w, "%d %s", len(msg), msg)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool {
		return value(scrape(t, base+"/metrics"), "dbsec_login_attempts_total", "source", "sys", "outcome", "failure") == 4
	})
	mfs := scrape(t, base+"/metrics")
	if v := value(mfs, "dbsec_lines_read_total", "source", "sys"); v != 4 {
		t.Errorf("lines read = %v, want 4\n%s", v, stderr.String())
	}
	if v := value(mfs, "dbsec_source_up", "source", "sys"); v != 1 {
		t.Errorf("source_up = %v, want 1", v)
	}
	if v := value(mfs, "dbsec_syslog_messages_total", "listener", "sys", "transport", "tcp", "protocol", "rfc5424"); v != 4 {
		t.Errorf("dbsec_syslog_messages_total{rfc5424} = %v, want 4", v)
	}
	if v := value(mfs, "dbsec_syslog_connections", "listener", "sys", "transport", "tcp"); v != 1 {
		t.Errorf("dbsec_syslog_connections = %v, want 1", v)
	}
}
