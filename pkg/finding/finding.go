// Package finding owns the Finding type that configuration checks (pkg/drift)
// and future detections share: a rule evaluated against a target, with a
// closed-set severity and status, remediation text and redacted evidence.
//
// It imports only the standard library. Observed values stored in a Finding
// must already be redacted by the producer; this package never sees secrets.
package finding

import (
	"fmt"
	"time"
)

// Severity is the closed set info < low < medium < high < critical.
// The zero value is invalid and marshals as an error.
type Severity uint8

// Severities in ascending order.
const (
	Info Severity = iota + 1
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"", "info", "low", "medium", "high", "critical"}

// Severities lists every valid severity in ascending order.
func Severities() []Severity { return []Severity{Info, Low, Medium, High, Critical} }

// String returns the lowercase name, or "invalid" for an out-of-range value.
func (s Severity) String() string {
	if s.Valid() {
		return severityNames[s]
	}
	return "invalid"
}

// Valid reports whether s is one of the five severities.
func (s Severity) Valid() bool { return s >= Info && s <= Critical }

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("invalid severity %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity parses a lowercase severity name.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if i > 0 && n == name {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want info, low, medium, high or critical)", name)
}

// Status is the outcome of evaluating one rule against one subject.
type Status string

// The closed set of statuses.
const (
	// Pass: the requirement holds (possibly via the product default).
	Pass Status = "pass"
	// Fail: the requirement does not hold.
	Fail Status = "fail"
	// NotApplicable: the rule does not apply (version, edition, precondition).
	NotApplicable Status = "not_applicable"
	// Unknown: the input could not decide (unresolved reference, host check
	// offline, no default known for the version).
	Unknown Status = "unknown"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case Pass, Fail, NotApplicable, Unknown:
		return true
	}
	return false
}

// MarshalText implements encoding.TextMarshaler.
func (s Status) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("invalid status %q", string(s))
	}
	return []byte(s), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Status) UnmarshalText(b []byte) error {
	v := Status(b)
	if !v.Valid() {
		return fmt.Errorf("invalid status %q", string(b))
	}
	*s = v
	return nil
}

// Waiver records an accepted risk attached to a failing finding. A waiver
// never changes Status: a waived finding is still Fail (see Finding.Waived).
type Waiver struct {
	ID         string    `json:"id"`
	Reason     string    `json:"reason"`
	Owner      string    `json:"owner"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	Ticket     string    `json:"ticket,omitempty"`
	Expires    time.Time `json:"expires"`
	// Expired is true when the scan clock is past Expires; the finding then
	// counts as failing again.
	Expired bool `json:"expired"`
}

// SeverityOverride records that the effective Severity differs from the
// rule's built-in severity.
type SeverityOverride struct {
	From   Severity `json:"from"`
	Reason string   `json:"reason"`
}

// Finding is one rule evaluated against one subject of one target.
type Finding struct {
	RuleID           string            `json:"rule"`
	Title            string            `json:"title,omitempty"`
	Category         string            `json:"category,omitempty"`
	Severity         Severity          `json:"severity"`
	SeverityOverride *SeverityOverride `json:"severity_override,omitempty"`
	Status           Status            `json:"status"`
	Target           string            `json:"target"`
	Kind             string            `json:"kind,omitempty"`
	File             string            `json:"file,omitempty"`
	Line             int               `json:"line,omitempty"`
	// Subject names the part of the file the rule looked at, e.g. a compose
	// service. Empty for single-subject files.
	Subject string `json:"subject,omitempty"`
	// Key is the configuration key (dotted path) the finding is about.
	Key         string   `json:"key,omitempty"`
	Message     string   `json:"message"`
	Rationale   string   `json:"rationale,omitempty"`
	Remediation string   `json:"remediation,omitempty"`
	References  []string `json:"references,omitempty"`
	// Observed is the value seen, already redacted for secret-class keys.
	Observed string `json:"observed,omitempty"`
	// DefaultUsed is true when the key was absent and the product default
	// for the version decided the outcome.
	DefaultUsed      bool      `json:"default_used,omitempty"`
	Waiver           *Waiver   `json:"waiver,omitempty"`
	FirstSeen        time.Time `json:"first_seen"`
	LastSeen         time.Time `json:"last_seen"`
	EvidenceEventIDs []string  `json:"evidence_event_ids,omitempty"`
}

// Waived reports whether f fails but is covered by an unexpired waiver.
func (f *Finding) Waived() bool {
	return f.Status == Fail && f.Waiver != nil && !f.Waiver.Expired
}

// Failing reports whether f fails and is not covered by an active waiver.
func (f *Finding) Failing() bool { return f.Status == Fail && !f.Waived() }
