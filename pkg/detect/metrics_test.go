package detect

import (
	"bufio"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func gather(t testing.TB, d *Detector) map[string][]*dto.Metric {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(d.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*dto.Metric{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.Metric
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestMetricsPreinitialisedAndExemplar(t *testing.T) {
	d, _ := newTest(t, nil)
	ms := gather(t, d)
	det := ms["dbsec_detections_total"]
	want := 0
	for _, r := range Catalog() {
		if r.Kind != KindPromQL {
			want += len(r.Severities)
		}
	}
	if len(det) != want {
		t.Errorf("%d detection series, want %d (every severity of every enabled rule)", len(det), want)
	}
	for _, m := range det {
		if m.Counter.GetValue() != 0 {
			t.Errorf("series %v not 0", m.Label)
		}
	}
	e := stmt("root", "SET GLOBAL tidb_audit_enabled = OFF")
	d.Consume(e)
	for _, m := range gather(t, d)["dbsec_detections_total"] {
		if label(m, "rule") == "audit_disabled" && label(m, "severity") == "critical" {
			if m.Counter.GetValue() != 1 {
				t.Errorf("count %v", m.Counter.GetValue())
			}
			ex := m.Counter.GetExemplar()
			if ex == nil || ex.Label[0].GetName() != "event_id" || ex.Label[0].GetValue() != e.ID {
				t.Errorf("exemplar %v, want event_id %s", ex, e.ID)
			}
			return
		}
	}
	t.Error("audit_disabled series missing")
}

func TestTopKCapped(t *testing.T) {
	d, _ := newTest(t, func(r *Rules) { r.Settings.TopK = 5 })
	for i := range 1000 {
		d.Consume(login(string(rune('a'+i%26))+"user", false, ip("10.0.0."+itoa(i%200)), at(time.Duration(i)*time.Second)))
	}
	n := map[string]int{}
	for _, m := range gather(t, d)["dbsec_detect_entity_events"] {
		n[label(m, "dimension")]++
		if label(m, "dimension") == "client_ip" && label(m, "entity")[:2] != "h:" {
			t.Errorf("IP not hashed: %s", label(m, "entity"))
		}
	}
	if n["user"] != 5 || n["client_ip"] != 5 {
		t.Errorf("top-k series %v, want 5 per dimension", n)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func TestStatePersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detect.state")
	mk := func() (*Detector, *recorder) {
		r := DefaultRules()
		r.Rule("D07").Learning = Duration(time.Hour)
		rec := &recorder{}
		d, err := New(r, Options{OnFinding: rec.add, StatePath: path})
		if err != nil {
			t.Fatal(err)
		}
		return d, rec
	}
	d, _ := mk()
	d.Consume(login("root", true, ip("10.1.1.1")))                  // learning starts
	d.Consume(login("root", true, ip("10.3.3.3"), at(time.Minute))) // learned while learning
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, rec := mk()
	if d2.nNet.learningAt(t0.Add(2 * time.Hour).UnixNano()) {
		t.Error("learning progress lost across restart")
	}
	d2.Consume(login("root", true, ip("10.3.3.7"), at(2*time.Hour)))
	for _, f := range rec.fs {
		if f.Rule == "new_network_login" {
			t.Fatalf("first-seen state lost across restart: %s", f.Message)
		}
	}
	d2.Consume(login("root", true, ip("10.4.4.4"), at(3*time.Hour)))
	if len(rec.fs) == 0 {
		t.Error("no finding for a really new network after restart")
	}
}

func TestCorruptStateIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detect.state")
	if err := writeAtomic(path, func(w *bufio.Writer) error { _, err := w.WriteString("garbage"); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := New(DefaultRules(), Options{StatePath: path}); err != nil {
		t.Fatalf("corrupt state should only be logged: %v", err)
	}
}

// TestDetectionsBySource: one exporter reading several servers counts each
// source's detections apart, pre-initialises every configured source, and
// keeps the label bounded: an unconfigured source counts as OtherSource.
func TestDetectionsBySource(t *testing.T) {
	d, err := New(DefaultRules(), Options{Sources: []string{"tidb-1", "maria-1"}})
	if err != nil {
		t.Fatal(err)
	}
	per := 0
	for _, r := range Catalog() {
		if r.Kind != KindPromQL {
			per += len(r.Severities)
		}
	}
	if n := len(gather(t, d)["dbsec_detections_total"]); n != 2*per {
		t.Errorf("%d series before any event, want %d (2 sources × %d)", n, 2*per, per)
	}
	for i, src := range []string{"tidb-1", "tidb-1", "maria-1", "rogue"} {
		e := stmt("root", "SET GLOBAL tidb_audit_enabled = OFF", at(time.Duration(i)*time.Second))
		e.Source = src
		d.Consume(e)
	}
	got := map[string]float64{}
	for _, m := range gather(t, d)["dbsec_detections_total"] {
		if label(m, "rule") == "audit_disabled" && label(m, "severity") == "critical" {
			if label(m, "rule_id") != "D14" {
				t.Errorf("rule_id %q, want D14", label(m, "rule_id"))
			}
			got[label(m, "source")] = m.Counter.GetValue()
		}
	}
	want := map[string]float64{"tidb-1": 2, "maria-1": 1, OtherSource: 1}
	if len(got) != len(want) {
		t.Errorf("sources %v, want %v", got, want)
	}
	for s, n := range want {
		if got[s] != n {
			t.Errorf("source %q: %v detections, want %v", s, got[s], n)
		}
	}
}
