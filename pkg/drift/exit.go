package drift

import "github.com/dbsec/dbsec/pkg/finding"

// Exit codes of `dbsec_exporter check-config` (documented in README.md).
const (
	ExitOK      = 0 // no failing finding at or above the threshold (and no drift when drift fails the run)
	ExitFailing = 1 // failing (unwaived or expired-waiver) findings at or above the threshold
	ExitConfig  = 2 // usage error, a file that is not its product's format, or an error in a rule/overrides/snapshot file or HMAC key
	ExitDrift   = 3 // drift fails the run and the snapshot differs (and nothing at exit 1)
	ExitIO      = 4 // output could not be written
)

// ExitCode maps a result to check-config's exit code.
func ExitCode(res Result, threshold finding.Severity, failOnDrift bool) int {
	for i := range res.Findings {
		f := &res.Findings[i]
		if f.Failing() && f.Severity >= threshold {
			return ExitFailing
		}
	}
	if failOnDrift && driftCount(res.Drift) > 0 {
		return ExitDrift
	}
	return ExitOK
}
