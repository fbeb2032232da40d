package detect

import "slices"

// Kind says how a detection is evaluated.
type Kind string

// Kinds of detections.
const (
	// KindEvent fires on one event.
	KindEvent Kind = "event"
	// KindStateful counts events per entity over a window.
	KindStateful Kind = "stateful"
	// KindNovelty fires on the first sighting of a (subject, value) pair
	// after a learning period.
	KindNovelty Kind = "novelty"
	// KindPromQL is evaluated by Prometheus over bounded series; the
	// detector does not count it.
	KindPromQL Kind = "promql"
)

// RuleInfo describes one detection (docs/detections.md). The alerting side
// generates and checks its rules against Catalog.
type RuleInfo struct {
	ID   string `json:"id"`   // D01 … D37
	Name string `json:"name"` // value of the rule label of dbsec_detections_total
	// Title is the human name.
	Title string `json:"title"`
	// Severity is the default severity; Severities every severity the rule
	// can emit (pre-initialised series).
	Severity   string   `json:"severity"`
	Severities []string `json:"severities"`
	Category   string   `json:"category"` // credential-access, privilege, …
	MITRE      string   `json:"mitre"`
	Kind       Kind     `json:"kind"`
	Summary    string   `json:"summary"`
	// Params are the rule-specific keys accepted under [rules.<name>].
	Params []string `json:"params,omitempty"`
}

// Severity names (alerting style).
const (
	SevInfo     = "info"
	SevWarning  = "warning"
	SevCritical = "critical"
)

func sevs(s ...string) []string { return s }

var (
	pThreshWin   = []string{"threshold", "window", "suppress"}
	pNovelty     = []string{"history", "learning"}
	pDistinct    = []string{"threshold", "window", "suppress", "max_per_entity", "min_total"}
	pNone        = []string(nil)
	pRows        = []string{"threshold", "rows", "window", "suppress"}
	pBaseline    = []string{"window", "floor", "z", "min_windows", "suppress"}
	pPaths       = []string{"paths"}
	pNames       = []string{"names", "window"}
	pGC          = []string{"gc_floor"}
	pCatalogEnum = []string{"threshold", "window", "suppress", "history", "learning"}
)

// catalog is in ID order; ruleIndex is the position of a rule.
var catalog = []RuleInfo{
	{"D01", "brute_force_user", "Brute force on one account", SevWarning, sevs(SevWarning), "credential-access", "T1110.001", KindStateful, "≥threshold authentication failures for one user within window", pThreshWin},
	{"D02", "brute_force_source", "Brute force from one source", SevWarning, sevs(SevWarning), "credential-access", "T1110", KindStateful, "≥threshold failures in window, or ≥threshold_long in window_long, from one client IP (pooler CIDRs count per IP and user)", []string{"threshold", "window", "threshold_long", "window_long", "suppress"}},
	{"D03", "password_spray", "Password spray (one IP, many users)", SevWarning, sevs(SevWarning, SevCritical), "credential-access", "T1110.003", KindStateful, "one IP fails for ≥threshold distinct users, ≤max_per_entity each, ≥min_total in window; critical when that IP then succeeds", pDistinct},
	{"D04", "distributed_brute_force", "Distributed attack on one account", SevWarning, sevs(SevWarning), "credential-access", "T1110", KindStateful, "≥threshold distinct client IPs fail for one user within window", pThreshWin},
	{"D05", "brute_force_success", "Brute force succeeded", SevCritical, sevs(SevCritical), "credential-access", "T1110", KindStateful, "a successful login after ≥threshold failures of the same user or IP within window", pThreshWin},
	{"D06", "auth_failure_anomaly", "Auth-failure rate anomaly", SevWarning, sevs(SevWarning), "credential-access", "T1110", KindPromQL, "robust z ≥4 of the per-instance auth-failure rate against its hour-of-week baseline, with a floor (PromQL)", pNone},
	{"D07", "new_network_login", "Login from a new network or dormant account", SevWarning, sevs(SevWarning, SevCritical), "initial-access", "T1078", KindNovelty, "a privileged user logs in from a /24 (/56) not seen in history, or an account not seen for dormant_history logs in; critical if privileged and outside allowed_networks", []string{"history", "learning", "dormant_history"}},
	{"D08", "off_hours_privileged", "Off-hours privileged activity", SevInfo, sevs(SevInfo, SevWarning), "initial-access", "T1078", KindEvent, "a privileged user logs in (info) or runs DCL/DDL (warning) outside business hours", pNone},
	{"D09", "unexpected_network", "Access from an unexpected network", SevWarning, sevs(SevWarning, SevCritical), "initial-access", "T1133", KindStateful, "a login from outside allowed_networks succeeds (critical if privileged) or fails ≥threshold times in window", pThreshWin},
	{"D10", "broad_privilege_grant", "Broad privilege grant", SevCritical, sevs(SevCritical), "privilege", "T1098", KindEvent, "GRANT ALL on *.* or db.*, a privileged grant (SUPER, FILE, AUDIT_ADMIN, …) or PG SUPERUSER/BYPASSRLS/pg_*_server_*", pNone},
	{"D11", "grant_with_grant_option", "Grant with grant option", SevWarning, sevs(SevWarning), "privilege", "T1098", KindEvent, "GRANT … WITH GRANT OPTION / WITH ADMIN OPTION", pNone},
	{"D12", "insecure_account_created", "Account created (insecurely)", SevInfo, sevs(SevInfo, SevCritical), "persistence", "T1136", KindEvent, "CREATE USER (info); critical with an empty password, no auth clause or host '%'", pNone},
	{"D13", "privileged_account_changed", "Credential change on a privileged account", SevCritical, sevs(SevCritical, SevWarning), "privilege", "T1098", KindStateful, "ALTER USER/SET PASSWORD/RENAME USER on a privileged account by another actor (critical); ≥threshold DROP USER/REVOKE by one actor in window (warning)", pThreshWin},
	{"D14", "audit_disabled", "Audit logging disabled or modified", SevCritical, sevs(SevCritical, SevInfo), "defense-impairment", "T1562", KindEvent, "tidb_audit_enabled=OFF, server_audit_logging=OFF, audit_log_filter_disable, audit filter removal, UNINSTALL PLUGIN audit, pgaudit.log narrowed or none, users excluded (critical); audit turned on or widened (info)", pNone},
	{"D15", "audit_silent", "Audit stream went silent", SevWarning, sevs(SevWarning), "defense-impairment", "T1562", KindPromQL, "rate(dbsec_events_total[15m]) == 0 while the source is up and its 1w baseline > 0 (PromQL)", pNone},
	{"D16", "logging_evasion", "Logging or replication evasion", SevWarning, sevs(SevWarning), "defense-impairment", "T1562", KindEvent, "SET sql_log_bin=0, general_log=OFF, tidb_redact_log, log_statement='none'", pNone},
	{"D17", "dangerous_feature", "Dangerous server feature changed", SevWarning, sevs(SevWarning, SevCritical), "execution", "T1505.001", KindEvent, "local_infile, xp_cmdshell & co. via sp_configure, PG ALTER SYSTEM; critical when enabled", pNone},
	{"D18", "server_code_loaded", "Server-side code loaded", SevCritical, sevs(SevCritical), "persistence", "T1505.001", KindEvent, "CREATE FUNCTION … SONAME, INSTALL PLUGIN/SONAME, untrusted CREATE EXTENSION, CREATE LANGUAGE", pNone},
	{"D19", "destructive_ddl", "Destructive DDL", SevCritical, sevs(SevCritical, SevWarning), "impact", "T1485", KindStateful, "DROP DATABASE (critical); ≥threshold DROP TABLE/TRUNCATE by one user in window (critical); first destructive verb from a user or IP in history (warning)", []string{"threshold", "window", "suppress", "history", "learning"}},
	{"D20", "mass_dml", "Unbounded or mass DML", SevWarning, sevs(SevWarning, SevCritical), "impact", "T1485", KindStateful, "DELETE/UPDATE without WHERE (or WHERE 1=1) and LIMIT (warning); ≥rows affected by one statement or by one user in window (critical)", pRows},
	{"D21", "ransom_pattern", "Wipe / ransom pattern", SevCritical, sevs(SevCritical), "impact", "T1485", KindStateful, "a DROP/TRUNCATE then CREATE/INSERT of an object named like readme/recover/ransom/bitcoin by the same user within window", pNames},
	{"D22", "recoverability_reduced", "Recoverability reduced", SevWarning, sevs(SevWarning), "impact", "T1490", KindEvent, "tidb_gc_life_time set below gc_floor, FLASHBACK, RECOVER TABLE", pGC},
	{"D23", "file_access_sql", "File read/write through SQL", SevWarning, sevs(SevWarning, SevCritical), "collection", "T1005", KindEvent, "INTO OUTFILE/DUMPFILE, LOAD_FILE, LOAD DATA INFILE, COPY to/from a file, pg_read_file, lo_export; critical under sensitive paths", pPaths},
	{"D24", "command_exec_sql", "Command execution through SQL", SevCritical, sevs(SevCritical), "execution", "T1059", KindEvent, "COPY … PROGRAM, EXEC xp_cmdshell, sys_exec/sys_eval", pNone},
	{"D25", "external_export", "Bulk export to external storage", SevCritical, sevs(SevCritical), "exfiltration", "T1537", KindEvent, "BACKUP/IMPORT/INTO OUTFILE with s3://, gcs://, azblob://, aws_s3.query_export_to_s3 by a user outside the allowlist", pNone},
	{"D26", "large_result_set", "Large result set", SevWarning, sevs(SevWarning), "collection", "T1213", KindEvent, "one read returns ≥rows rows", []string{"rows"}},
	{"D27", "data_volume_anomaly", "Data-volume anomaly per user", SevWarning, sevs(SevWarning), "collection", "T1213", KindStateful, "rows read by one user in window ≥floor and ≥z standard deviations above the user's EWMA of previous windows", pBaseline},
	{"D28", "query_volume_spike", "Query-volume spike per user", SevWarning, sevs(SevWarning), "collection", "T1119", KindStateful, "statements of one user in window ≥floor and ≥z standard deviations above the user's EWMA of previous windows", pBaseline},
	{"D29", "sensitive_first_access", "First access to a sensitive object", SevWarning, sevs(SevWarning), "collection", "T1213", KindNovelty, "a user touches a sensitive table (settings.sensitive_tables) for the first time in history", pNovelty},
	{"D30", "catalog_enumeration", "Catalog or privilege enumeration", SevWarning, sevs(SevWarning, SevCritical), "discovery", "T1087", KindStateful, "≥threshold catalog digests new for the user within window (warning); any read of password hashes (critical)", pCatalogEnum},
	{"D31", "environment_probe", "Environment probing from an app account", SevInfo, sevs(SevInfo), "discovery", "T1082", KindNovelty, "a service user runs @@version, version(), user(), … in a digest new for it", pNovelty},
	{"D32", "sqli_artefacts", "SQL-injection artefacts in executed SQL", SevWarning, sevs(SevWarning, SevCritical), "injection", "T1190", KindEvent, "stacked statements, OR-tautology, UNION SELECT NULL,NULL, SLEEP/BENCHMARK, error-based functions, obfuscation; critical for service users", pNone},
	{"D33", "new_statement_shape", "New statement shape from a service account", SevWarning, sevs(SevWarning), "injection", "T1190", KindNovelty, "after learning, a service user runs a digest never seen for it (one finding per user per suppress)", []string{"history", "learning", "suppress"}},
	{"D34", "sql_error_burst", "SQL error burst", SevWarning, sevs(SevWarning), "injection", "T1190", KindStateful, "≥threshold syntax/permission errors (1064, 1142, 1143, 1044, 42601, 42501) per user or IP within window", []string{"threshold", "window", "suppress", "codes"}},
	{"D35", "redash_login_brute_force", "Redash login brute force", SevWarning, sevs(SevWarning, SevCritical), "credential-access", "T1110", KindStateful, "≥threshold failed POST /login per IP in window or any 429 (warning); a success after ≥success_after failures from the IP (critical)", []string{"threshold", "window", "suppress", "success_after"}},
	{"D36", "redash_access_denied_burst", "Redash 401/403 burst and API-key exposure", SevWarning, sevs(SevWarning, SevInfo), "credential-access", "T1550.001", KindStateful, "≥threshold 401/403 per IP in window (warning); an api_key in a URL (info, once per IP per suppress)", pThreshWin},
	{"D37", "redash_scanner", "Scanner or injection against Redash", SevWarning, sevs(SevWarning, SevCritical), "initial-access", "T1595.002", KindEvent, "a scanner's user agent (sqlmap, Nikto, Nuclei, WPScan, gobuster, ffuf …) or SQL injection in the URL-decoded request (critical for sqlmap with a 2xx answer); ≥threshold 404s from one IP in window (content discovery)", []string{"threshold", "window", "suppress"}},
}

// Catalog returns every detection D01–D37 in ID order.
func Catalog() []RuleInfo {
	out := make([]RuleInfo, len(catalog))
	for i, r := range catalog {
		r.Severities = slices.Clone(r.Severities)
		r.Params = slices.Clone(r.Params)
		out[i] = r
	}
	return out
}

// rule indexes (positions in catalog).
const (
	rD01 = iota
	rD02
	rD03
	rD04
	rD05
	rD06
	rD07
	rD08
	rD09
	rD10
	rD11
	rD12
	rD13
	rD14
	rD15
	rD16
	rD17
	rD18
	rD19
	rD20
	rD21
	rD22
	rD23
	rD24
	rD25
	rD26
	rD27
	rD28
	rD29
	rD30
	rD31
	rD32
	rD33
	rD34
	rD35
	rD36
	rD37
	numRules
)

var ruleByKey = func() map[string]int {
	m := make(map[string]int, 2*len(catalog))
	for i, r := range catalog {
		m[r.ID] = i
		m[r.Name] = i
	}
	return m
}()
