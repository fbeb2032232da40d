package finding

import (
	"encoding/json"
	"testing"
	"time"
)

func TestSeverityRoundTrip(t *testing.T) {
	for _, s := range Severities() {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got Severity
		if err := got.UnmarshalText(b); err != nil || got != s {
			t.Fatalf("round trip %v: got %v, %v", s, got, err)
		}
	}
	if _, err := Severity(0).MarshalText(); err == nil {
		t.Fatal("zero severity must not marshal")
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Fatal("want error")
	}
	if !(Info < Low && Low < Medium && Medium < High && High < Critical) {
		t.Fatal("order")
	}
}

func TestStatusAndWaiver(t *testing.T) {
	var s Status
	if err := s.UnmarshalText([]byte("waived")); err == nil {
		t.Fatal("waived is a disposition, not a status")
	}
	f := Finding{RuleID: "X-1", Severity: High, Status: Fail, Waiver: &Waiver{ID: "w", Expires: time.Unix(0, 0)}}
	if !f.Waived() || f.Failing() {
		t.Fatal("active waiver")
	}
	f.Waiver.Expired = true
	if f.Waived() || !f.Failing() {
		t.Fatal("expired waiver must fail again")
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var back Finding
	if err := json.Unmarshal(b, &back); err != nil || back.Severity != High || back.Status != Fail {
		t.Fatalf("json round trip: %v %+v", err, back)
	}
}
