package pipeline

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/parse/tidbauditplugin"
	"github.com/dbsec/dbsec/pkg/parse/tidbslow"
)

type keep struct{ evs []*event.Event }

func (k *keep) Consume(ev *event.Event) { k.evs = append(k.evs, ev.Clone()) }

const good = `[2026/11/30 09:00:00.101 +08:00] [INFO] [logger.go:77] [ID=1] [TIMESTAMP=2026/11/30 09:00:00.101 +08:00] [EVENT_CLASS=CONNECTION] [EVENT_SUBCLASS=Connected] [STATUS_CODE=1045] [COST_TIME=0] [HOST=10.0.1.5] [CLIENT_IP=203.0.113.5] [USER=admin] [CONNECTION_ID=7]`

func TestSource(t *testing.T) {
	reg := collector.NewRegistry()
	m := reg.Configure([]collector.SourceSpec{{Name: "a", System: event.SystemTiDB}})[0]
	var logs bytes.Buffer
	k := &keep{}
	s := New(Config{Name: "a", Format: tidbauditplugin.Format, Metrics: m, Sinks: []Sink{k}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	lines := []string{good, "garbage", good}
	var off int64
	for i, l := range lines {
		s.HandleLine(input.Line{Text: []byte(l), File: "/var/log/a.log", Offset: off, Num: int64(i + 1)})
		off += int64(len(l)) + 1
	}
	if s.Events() != 2 || s.Errors() != 1 {
		t.Fatalf("events %d errors %d, want 2 and 1", s.Events(), s.Errors())
	}
	if len(k.evs) != 2 || k.evs[1].Origin.Line != 3 || k.evs[1].Origin.File != "/var/log/a.log" || k.evs[1].Source != "a" {
		t.Errorf("sink got %+v", k.evs)
	}
	if k.evs[0].User != "admin" || k.evs[0].Category != event.CategoryLogin || k.evs[0].Outcome != event.OutcomeFailure {
		t.Errorf("event %+v", k.evs[0])
	}
	if !strings.Contains(logs.String(), "/var/log/a.log:2:1") {
		t.Errorf("parse error not logged with file:line:col:\n%s", logs.String())
	}
}

func TestAssemblerFlushedOnIdle(t *testing.T) {
	reg := collector.NewRegistry()
	m := reg.Configure([]collector.SourceSpec{{Name: "s", System: event.SystemTiDB}})[0]
	k := &keep{}
	s := New(Config{Name: "s", Format: tidbslow.Format, Metrics: m, Sinks: []Sink{k}})
	for i, l := range []string{"# Time: 2026-11-30T09:10:00.5+08:00", "# User@Host: app[app] @ 10.0.9.20 [10.0.9.20]", "# Query_time: 1.5", "# Succ: true", "select 1;"} {
		s.HandleLine(input.Line{Text: []byte(l), File: "slow.log", Num: int64(i + 1)})
	}
	s.Idle()
	if len(k.evs) != 1 || k.evs[0].Origin.Line != 1 || !k.evs[0].HasDuration || k.evs[0].Duration != 1.5 {
		t.Fatalf("got %+v", k.evs)
	}
}

func TestNoAllocPerLine(t *testing.T) {
	reg := collector.NewRegistry()
	m := reg.Configure([]collector.SourceSpec{{Name: "a", System: event.SystemTiDB}})[0]
	s := New(Config{Name: "a", Format: tidbauditplugin.Format, Metrics: m})
	l := input.Line{Text: []byte(good), File: "a.log", Num: 1}
	if n := testing.AllocsPerRun(1000, func() { s.HandleLine(l) }); n != 0 {
		t.Errorf("%v allocations per line through the pipeline", n)
	}
}

func TestStripDockerPrefix(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"taosd-1  | 11/30 10:00:00.123456 00001234 C MND ERROR user:root, failed to login", "11/30 10:00:00.123456 00001234 C MND ERROR user:root, failed to login"},
		{"redash_nginx_1 | 10.0.0.1 - - [30/Nov/2026:10:00:00 +0000] \"POST /login HTTP/1.1\" 200 5", "10.0.0.1 - - [30/Nov/2026:10:00:00 +0000] \"POST /login HTTP/1.1\" 200 5"},
		{"web | ", ""},
		{"web |", ""},
		// No prefix: the text before " | " is not one word, or there is none.
		{"11/30 10:00:00.123456 00001234 TAOS_ADAPTER info \"| 200 | 1.2ms | 10.0.0.1 | POST | /rest/sql \"", "11/30 10:00:00.123456 00001234 TAOS_ADAPTER info \"| 200 | 1.2ms | 10.0.0.1 | POST | /rest/sql \""},
		{"20261203 10:00:00,vm,app,10.0.0.5,7,1,QUERY,shop,'SELECT 1 | 2',0", "20261203 10:00:00,vm,app,10.0.0.5,7,1,QUERY,shop,'SELECT 1 | 2',0"},
		{" | x", " | x"},
		{"name |x", "name |x"},
		{"", ""},
	} {
		if got := string(StripDockerPrefix([]byte(c.in))); got != c.want {
			t.Errorf("StripDockerPrefix(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestSkippedCounted: a TiDB slow-log record of an internal statement is
// neither an event nor a parse error: it is counted as skipped.
func TestSkippedCounted(t *testing.T) {
	reg := collector.NewRegistry()
	m := reg.Configure([]collector.SourceSpec{{Name: "s", System: event.SystemTiDB}})[0]
	k := &keep{}
	s := New(Config{Name: "s", Format: tidbslow.Format, Metrics: m, Sinks: []Sink{k}})
	for i, l := range []string{
		"# Time: 2026-11-30T09:10:00.5+08:00", "# Query_time: 0.9", "# Is_internal: true", "# Succ: true",
		"select count(1) from mysql.stats_histograms;",
		"# Time: 2026-11-30T09:10:01.5+08:00", "# User@Host: app[app] @ 10.0.9.20 [10.0.9.20]", "# Query_time: 1.5",
		"# Is_internal: false", "# Succ: true", "select 1;",
	} {
		s.HandleLine(input.Line{Text: []byte(l), File: "slow.log", Num: int64(i + 1)})
	}
	s.Idle()
	if len(k.evs) != 1 || s.Errors() != 0 {
		t.Fatalf("events %d errors %d, want 1 and 0", len(k.evs), s.Errors())
	}
	p := prometheus.NewPedanticRegistry()
	p.MustRegister(reg)
	mfs, err := p.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "dbsec_records_skipped_total" {
			found = true
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 1 {
				t.Errorf("skipped = %v, want 1", v)
			}
		}
	}
	if !found {
		t.Error("dbsec_records_skipped_total not exported")
	}
}
