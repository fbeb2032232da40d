package drift

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/dbsec/dbsec/pkg/finding"
)

// Formats supported by Write.
var Formats = []string{"text", "json", "sarif", "junit"}

// Write renders res in format to w. Only redacted values reach outputs.
func Write(w io.Writer, format string, res Result) error {
	switch format {
	case "text":
		return writeText(w, res)
	case "json":
		return writeJSON(w, res)
	case "sarif":
		return writeSARIF(w, res)
	case "junit":
		return writeJUnit(w, res)
	}
	return fmt.Errorf("unknown format %q (want %s): %w", format, strings.Join(Formats, ", "), ErrConfig)
}

func statusWord(f *finding.Finding) string {
	switch {
	case f.Waived():
		return "WAIVED"
	case f.Status == finding.Fail:
		return "FAIL"
	case f.Status == finding.Pass:
		return "PASS"
	case f.Status == finding.NotApplicable:
		return "N/A"
	}
	return "UNKNOWN"
}

func location(f *finding.Finding) string {
	s := f.File
	if f.Subject != "" {
		s += "#" + f.Subject
	}
	if f.Line > 0 {
		s += fmt.Sprintf(":%d", f.Line)
	}
	return s
}

// Summary counts findings by status (waived counted separately).
type Summary struct {
	Pass, Fail, Waived, NotApplicable, Unknown int
}

// Summarize counts res.Findings.
func Summarize(res Result) Summary {
	var s Summary
	for i := range res.Findings {
		f := &res.Findings[i]
		switch {
		case f.Waived():
			s.Waived++
		case f.Status == finding.Fail:
			s.Fail++
		case f.Status == finding.Pass:
			s.Pass++
		case f.Status == finding.NotApplicable:
			s.NotApplicable++
		default:
			s.Unknown++
		}
	}
	return s
}

func writeText(w io.Writer, res Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := range res.Findings {
		f := &res.Findings[i]
		sev := f.Severity.String()
		if f.SeverityOverride != nil {
			sev += "(was " + f.SeverityOverride.From.String() + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", statusWord(f), sev, f.RuleID, f.Target, location(f), f.Message)
		if f.Waiver != nil && f.Status == finding.Fail {
			state := "active"
			if f.Waiver.Expired {
				state = "EXPIRED"
			}
			fmt.Fprintf(tw, "\t\t\t\t\twaiver %s (%s, owner %s, expires %s): %s\n", f.Waiver.ID, state, f.Waiver.Owner, f.Waiver.Expires.Format("2006-01-02"), f.Waiver.Reason)
		}
		if f.SeverityOverride != nil {
			fmt.Fprintf(tw, "\t\t\t\t\tseverity override: %s\n", f.SeverityOverride.Reason)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write text: %w", err)
	}
	if len(res.Drift) > 0 {
		fmt.Fprintln(w, "\ndrift against approved snapshot:")
		for _, c := range res.Drift {
			where := c.Path
			if c.Subject != "" {
				where += "#" + c.Subject
			}
			var what string
			switch {
			case c.Secret:
				what = fmt.Sprintf("%s (secret; hmac %s -> %s)", c.Change, orDash(c.OldHMAC), orDash(c.NewHMAC))
			case c.Change == "added":
				what = fmt.Sprintf("added = %s", c.New)
			case c.Change == "removed":
				what = fmt.Sprintf("removed (was %s)", c.Old)
			default:
				what = fmt.Sprintf("%s %s -> %s", c.Change, c.Old, c.New)
			}
			if c.Note != "" {
				what += " [" + c.Note + "]"
			}
			fmt.Fprintf(w, "  %s %s %s: %s\n", c.Target, where, c.Key, what)
		}
	}
	p := res.Profile
	fmt.Fprintf(w, "\nprofile: packs=%s rules=%d", strings.Join(p.Packs, ","), p.RulesEnabled)
	if len(p.Disabled) > 0 {
		fmt.Fprintf(w, " disabled=%s", strings.Join(p.Disabled, ","))
	}
	for _, o := range p.SeverityOverrides {
		fmt.Fprintf(w, " severity[%s]=%s", o.Rule, o.Severity)
	}
	for _, wv := range p.Waivers {
		fmt.Fprintf(w, " waiver[%s]=%s", wv.ID, wv.State)
	}
	s := Summarize(res)
	_, err := fmt.Fprintf(w, "\nsummary: %d fail, %d waived, %d pass, %d unknown, %d not applicable, %d drift change(s)\n",
		s.Fail, s.Waived, s.Pass, s.Unknown, s.NotApplicable, driftCount(res.Drift))
	if err != nil {
		return fmt.Errorf("write text: %w", err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func driftCount(cs []DriftChange) int {
	n := 0
	for _, c := range cs {
		if c.CountsAsDrift() {
			n++
		}
	}
	return n
}

type jsonReport struct {
	Schema string `json:"schema"`
	Result
	Summary Summary `json:"summary"`
}

func writeJSON(w io.Writer, res Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jsonReport{Schema: "dbsec.findings/v1", Result: res, Summary: Summarize(res)}); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// ---- SARIF 2.1.0 ----

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool      `json:"tool"`
	Results    []sarifResult  `json:"results"`
	Properties map[string]any `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	ShortDescription sarifText      `json:"shortDescription"`
	FullDescription  sarifText      `json:"fullDescription"`
	Help             sarifText      `json:"help"`
	Properties       map[string]any `json:"properties"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	Level               string            `json:"level"`
	Kind                string            `json:"kind"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Suppressions        []sarifSuppress   `json:"suppressions,omitempty"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
	Region struct {
		StartLine int `json:"startLine"`
	} `json:"region"`
}

type sarifSuppress struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification"`
}

func sarifLevel(s finding.Severity) string {
	switch s {
	case finding.Critical, finding.High:
		return "error"
	case finding.Medium:
		return "warning"
	}
	return "note"
}

func securitySeverity(s finding.Severity) string {
	return map[finding.Severity]string{finding.Critical: "9.5", finding.High: "8.0", finding.Medium: "5.5", finding.Low: "3.0", finding.Info: "0.0"}[s]
}

func writeSARIF(w io.Writer, res Result) error {
	rules := map[string]sarifRule{}
	var results []sarifResult
	for i := range res.Findings {
		f := &res.Findings[i]
		if f.Status != finding.Fail && f.Status != finding.Unknown {
			continue // SARIF carries problems and coverage gaps only
		}
		if _, ok := rules[f.RuleID]; !ok {
			rules[f.RuleID] = sarifRule{ID: f.RuleID, ShortDescription: sarifText{f.Title}, FullDescription: sarifText{f.Rationale},
				Help: sarifText{f.Remediation}, Properties: map[string]any{"tags": []string{f.Category, f.Kind, "security"},
					"security-severity": securitySeverity(f.Severity), "references": f.References}}
		}
		r := sarifResult{RuleID: f.RuleID, Level: sarifLevel(f.Severity), Kind: "fail", Message: sarifText{f.Message},
			Properties: map[string]any{"severity": f.Severity.String(), "target": f.Target, "status": string(f.Status), "security-severity": securitySeverity(f.Severity)}}
		if f.Status == finding.Unknown {
			r.Kind, r.Level = "review", "none"
		}
		if f.SeverityOverride != nil {
			r.Properties["severity_override_from"] = f.SeverityOverride.From.String()
			r.Properties["severity_override_reason"] = f.SeverityOverride.Reason
		}
		if f.Observed != "" {
			r.Properties["observed"] = f.Observed
		}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = f.File
		loc.PhysicalLocation.Region.StartLine = max(f.Line, 1)
		r.Locations = []sarifLocation{loc}
		sum := sha256.Sum256([]byte(f.RuleID + "|" + f.Target + "|" + f.File + "|" + f.Subject + "|" + f.Key))
		r.PartialFingerprints = map[string]string{"dbsec/v1": hex.EncodeToString(sum[:])}
		if f.Waiver != nil && !f.Waiver.Expired {
			r.Suppressions = []sarifSuppress{{Kind: "external", Status: "accepted", Justification: f.Waiver.Reason + " (owner " + f.Waiver.Owner + ", expires " + f.Waiver.Expires.Format("2006-01-02") + ")"}}
		}
		results = append(results, r)
	}
	ids := sortedKeys(rules)
	drv := sarifDriver{Name: "dbsec check-config", InformationURI: "https://github.com/dbsec/dbsec"}
	for _, id := range ids {
		drv.Rules = append(drv.Rules, rules[id])
	}
	if drv.Rules == nil {
		drv.Rules = []sarifRule{}
	}
	if results == nil {
		results = []sarifResult{}
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0",
		Runs: []sarifRun{{Tool: sarifTool{drv}, Results: results, Properties: map[string]any{"profile": res.Profile, "drift": res.Drift}}}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("write sarif: %w", err)
	}
	return nil
}

// ---- JUnit ----

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string    `xml:"name,attr"`
	Classname string    `xml:"classname,attr"`
	Failure   *junitMsg `xml:"failure,omitempty"`
	Skipped   *junitMsg `xml:"skipped,omitempty"`
}

type junitMsg struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

func writeJUnit(w io.Writer, res Result) error {
	suites := map[string]*junitSuite{}
	for i := range res.Findings {
		f := &res.Findings[i]
		name := f.Target + " " + f.File
		if f.Subject != "" {
			name += "#" + f.Subject
		}
		s := suites[name]
		if s == nil {
			s = &junitSuite{Name: name}
			suites[name] = s
		}
		c := junitCase{Name: f.RuleID + " [" + f.Severity.String() + "] " + f.Title, Classname: f.Kind}
		switch {
		case f.Waived():
			c.Skipped = &junitMsg{Message: "waived: " + f.Waiver.Reason + " (owner " + f.Waiver.Owner + ")"}
			s.Skipped++
		case f.Status == finding.Fail:
			body := f.Message + "\nremediation: " + f.Remediation
			if f.SeverityOverride != nil {
				body += "\nseverity overridden from " + f.SeverityOverride.From.String() + ": " + f.SeverityOverride.Reason
			}
			c.Failure = &junitMsg{Message: f.Message, Type: f.Severity.String(), Body: body}
			s.Failures++
		case f.Status == finding.NotApplicable, f.Status == finding.Unknown:
			c.Skipped = &junitMsg{Message: string(f.Status) + ": " + f.Message}
			s.Skipped++
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	out := junitSuites{Name: "dbsec check-config"}
	names := make([]string, 0, len(suites))
	for n := range suites {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out.Suites = append(out.Suites, *suites[n])
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
