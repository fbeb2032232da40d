package sqlx

import (
	"encoding/hex"
	"regexp"
	"strings"
)

// maxRaw bounds the raw-text checks so that a huge statement costs O(64 KiB).
const maxRaw = 64 << 10

// rawRule is a keyword-gated regular expression on the lowercased raw text.
// The keyword (a plain substring) is checked first so that most statements
// never run the expression.
type rawRule struct {
	kw   string
	re   *regexp.Regexp // nil: the keyword alone decides
	feat Features
	// lexOnly rules run only when the AST is not available (they duplicate
	// an AST check).
	lexOnly bool
}

var rawRules = []rawRule{
	// D32 injection artefacts, Elastic/Sigma lists.
	{kw: "sleep", re: regexp.MustCompile(`\b(sleep|pg_sleep)\s*\(`), feat: TimeBased},
	{kw: "benchmark", re: regexp.MustCompile(`\bbenchmark\s*\(`), feat: TimeBased},
	{kw: "waitfor", re: regexp.MustCompile(`\bwaitfor\s+delay\b`), feat: TimeBased},
	{kw: "dbms_pipe.receive_message", feat: TimeBased},
	{kw: "dbms_lock.sleep", feat: TimeBased},
	{kw: "extractvalue", re: regexp.MustCompile(`extractvalue\s*\(.*concat\s*\(\s*0x`), feat: ErrorBased},
	{kw: "updatexml", re: regexp.MustCompile(`updatexml\s*\(`), feat: ErrorBased},
	{kw: "gtid_subset", re: regexp.MustCompile(`gtid_subset\s*\(\s*concat\s*\(\s*0x`), feat: ErrorBased},
	{kw: "union", re: regexp.MustCompile(`\bunion\s+(all\s+)?select\s+(null\s*,\s*)+null\b`), feat: UnionNull},
	{kw: "char", re: regexp.MustCompile(`(\bchar\s*\(\s*\d{1,3}\s*\)\s*(,|\+|\|\|)\s*){2,}\bchar\s*\(\s*\d{1,3}\s*\)`), feat: Obfuscated},
	{kw: "/*!", re: regexp.MustCompile(`/\*!\d{5}`), feat: Obfuscated},
	{kw: "/**/", re: regexp.MustCompile(`[a-z0-9_)']/\*\*/[a-z0-9_(']`), feat: Obfuscated},
	{kw: "--", re: regexp.MustCompile(`\b(or|and)\s+'?\w+'?\s*=\s*'?\w+'?\s*(--|#)`), feat: Obfuscated},
	{kw: "#", re: regexp.MustCompile(`\b(or|and)\s+'?\w+'?\s*=\s*'?\w+'?\s*#`), feat: Obfuscated},
	{kw: " or ", re: regexp.MustCompile(`\bor\s+(\d+|'[^']*')\s*=\s*(\d+|'[^']*')`), feat: Tautology, lexOnly: true},

	// D23 / D24 / D25 files, commands, external storage.
	{kw: "outfile", re: regexp.MustCompile(`\binto\s+(outfile|dumpfile)\b`), feat: IntoOutfile, lexOnly: true},
	{kw: "dumpfile", re: regexp.MustCompile(`\binto\s+dumpfile\b`), feat: IntoOutfile, lexOnly: true},
	{kw: "load_file", re: regexp.MustCompile(`\bload_file\s*\(`), feat: FileRead, lexOnly: true},
	{kw: "infile", re: regexp.MustCompile(`\bload\s+data\s+(low_priority\s+|concurrent\s+)?(local\s+)?infile\b`), feat: FileRead, lexOnly: true},
	{kw: "pg_read", re: regexp.MustCompile(`\bpg_read_(binary_)?file\s*\(`), feat: FileRead},
	{kw: "lo_import", feat: FileRead},
	{kw: "lo_export", feat: FileWrite},
	{kw: "copy", re: regexp.MustCompile(`^\s*copy\s.*\bfrom\s+'/`), feat: FileRead},
	{kw: "copy", re: regexp.MustCompile(`^\s*copy\s.*\bto\s+'/`), feat: FileWrite},
	{kw: "program", re: regexp.MustCompile(`^\s*copy\s.*\b(to|from)\s+program\b`), feat: CmdExec},
	{kw: "xp_cmdshell", re: regexp.MustCompile(`\b(exec|execute)\b.*\bxp_cmdshell\b`), feat: CmdExec},
	{kw: "sys_e", re: regexp.MustCompile(`\bsys_(exec|eval)\s*\(`), feat: CmdExec},
	{kw: "s3", re: regexp.MustCompile(`\binto\s+outfile\s+s3\b|\binto\s+s3\s+'`), feat: ExternalExport},
	{kw: "aws_s3.query_export_to_s3", feat: ExternalExport},
	{kw: "backup", re: regexp.MustCompile(`^\s*backup\s.*\bto\s+'(s3|gcs|gs|azblob|azure|hdfs)://`), feat: ExternalExport, lexOnly: true},

	// D18 server-side code; the TiDB parser rejects these, so they are
	// keyword rules for every dialect.
	{kw: "soname", re: regexp.MustCompile(`\b(create\s+(aggregate\s+)?function\s+.*\bsoname\b|install\s+soname\b)`), feat: ServerCode},
	{kw: "install", re: regexp.MustCompile(`^\s*install\s+(plugin|component)\b`), feat: ServerCode},
	{kw: "extension", re: regexp.MustCompile(`^\s*create\s+extension\s+(if\s+not\s+exists\s+)?"?(plpython3u|plpythonu|plpython2u|plperlu|pltclu|plsh|adminpack|dblink|file_fdw|postgres_fdw|lo)\b`), feat: ServerCode},
	{kw: "language", re: regexp.MustCompile(`^\s*create\s+(or\s+replace\s+)?(trusted\s+)?(procedural\s+)?language\b`), feat: ServerCode},

	// D14 audit, non-SET forms.
	{kw: "uninstall", re: regexp.MustCompile(`^\s*uninstall\s+plugin\s+(audit_log|server_audit|audit_log_filter)\b`), feat: AuditDisable},
	{kw: "audit_log_", re: regexp.MustCompile(`\baudit_log_(remove_filter|remove_rule|disable_rule|filter_remove_filter|filter_remove_user)\s*\(`), feat: AuditDisable},
	// A rule or a filter that logs turns audit on (TiDB: create_filter +
	// create_rule is how audit starts); a filter with "log": false, or
	// assigning a filter to a user (which may be a log-nothing filter),
	// narrows it.
	{kw: "audit_log_", re: regexp.MustCompile(`\baudit_log_(create_rule|enable_rule)\s*\(`), feat: AuditEnable},
	{kw: "audit_log_", re: regexp.MustCompile(`\baudit_log_(create_filter|filter_set_filter)\s*\(`), feat: AuditEnable},
	{kw: "false", re: regexp.MustCompile(`\baudit_log_(create_filter|filter_set_filter)\s*\(.*"log"\s*:\s*false`), feat: AuditModify},
	{kw: "audit_log_", re: regexp.MustCompile(`\baudit_log_filter_set_user\s*\(`), feat: AuditModify},
	{kw: "pgaudit", re: regexp.MustCompile(`^\s*drop\s+extension\s+(if\s+exists\s+)?"?pgaudit\b`), feat: AuditDisable},
	{kw: "pgaudit", re: regexp.MustCompile(`^\s*alter\s+(role|user|database)\s.*\breset\s+(pgaudit\.|all\b)`), feat: AuditModify},
	{kw: "server audit", re: regexp.MustCompile(`^\s*(alter|drop)\s+server\s+audit\b`), feat: AuditDisable},

	// D17 MSSQL sp_configure of a dangerous option (value decides "enabled").
	{kw: "sp_configure", re: regexp.MustCompile(`sp_configure\s+'(xp_cmdshell|ole automation procedures|clr enabled|clr strict security|ad hoc distributed queries|external scripts enabled)'`), feat: DangerousFeature},
	{kw: "sp_configure", re: regexp.MustCompile(`sp_configure\s+'(xp_cmdshell|ole automation procedures|clr enabled|ad hoc distributed queries|external scripts enabled)'\s*,\s*1\b`), feat: DangerousEnabled},

	// D22 TiDB recoverability (lexer path).
	{kw: "flashback", re: regexp.MustCompile(`^\s*flashback\s+(cluster|database|table|schema)\b`), feat: Recoverability, lexOnly: true},
	{kw: "recover", re: regexp.MustCompile(`^\s*recover\s+table\b`), feat: Recoverability, lexOnly: true},

	// D30 / D31 catalog and environment (lexer path; the AST sees these).
	{kw: "information_schema", feat: Catalog, lexOnly: true},
	{kw: "performance_schema", feat: Catalog, lexOnly: true},
	{kw: "pg_catalog", feat: Catalog},
	{kw: "pg_shadow", feat: Catalog | PasswordHashRead},
	{kw: "pg_authid", feat: Catalog},
	{kw: "rolpassword", feat: PasswordHashRead},
	{kw: "pg_user", re: regexp.MustCompile(`\bpg_(user|roles|stat_activity|settings)\b`), feat: Catalog},
	{kw: "show", re: regexp.MustCompile(`^\s*show\s+(grants|users|databases|processlist|full\s+processlist|dnodes|mnodes|privileges|variables)\b`), feat: Catalog, lexOnly: true},
	{kw: "mysql.user", feat: Catalog, lexOnly: true},
	{kw: "authentication_string", feat: PasswordHashRead, lexOnly: true},
	{kw: "@@", re: regexp.MustCompile(`@@(global\.|session\.)?(version|version_comment|hostname|datadir|basedir|plugin_dir|secure_file_priv|tmpdir)\b`), feat: EnvProbe, lexOnly: true},
	{kw: "(", re: regexp.MustCompile(`\b(version|user|current_user|database|session_user|system_user|current_database|inet_server_addr)\s*\(\s*\)`), feat: EnvProbe, lexOnly: true},
	{kw: "current_user", feat: EnvProbe, lexOnly: true},
	{kw: "current_setting", re: regexp.MustCompile(`current_setting\s*\(\s*'(data_directory|server_version|config_file|hba_file)'`), feat: EnvProbe},

	// D10 / D11 / D12 DCL of PostgreSQL and TDengine (lexer path).
	{kw: "grant", re: regexp.MustCompile(`^\s*grant\s+all\b(\s+privileges)?\s+on\s+(\*|\w+\.\*|all\s+tables|database|schema)`), feat: GrantAll | GrantBroadLevel, lexOnly: true},
	{kw: "grant", re: regexp.MustCompile(`^\s*grant\s.*\bpg_(execute_server_program|read_server_files|write_server_files|read_all_data|write_all_data)\b`), feat: GrantPrivileged},
	{kw: "superuser", re: regexp.MustCompile(`^\s*(alter|create)\s+(role|user)\s.*\b(superuser|bypassrls|createrole)\b`), feat: GrantPrivileged},
	{kw: "with grant option", feat: GrantOption, lexOnly: true},
	{kw: "with admin option", feat: GrantOption, lexOnly: true},
	{kw: "create", re: regexp.MustCompile(`^\s*create\s+user\s.*\b(pass|password|identified\s+by)\s+''`), feat: EmptyPassword, lexOnly: true},
}

// setRe matches one SET-like assignment in lexer dialects:
// SET [GLOBAL|SESSION|PERSIST] name = value, SET @@global.name = value,
// ALTER SYSTEM SET name = value / TO value, ALTER USER u SET name = value.
var setRe = regexp.MustCompile(`^\s*(alter\s+system\s+|alter\s+(?:role|user|database)\s+(?:"[^"]*"|\S+)\s+(?:in\s+database\s+\S+\s+)?)?set\s+(global\s+|session\s+|persist\s+|local\s+|@@global\.|@@session\.|@@)?([a-z_][a-z0-9_.]*)\s*(=|\bto\b)\s*('[^']*'|[^';\s]*)`)

var pgTargetRe = regexp.MustCompile(`^\s*(alter|drop)\s+(role|user)\s+(if\s+exists\s+)?"?([a-z0-9_$]+)`)

// fileFuncRe finds the path argument of the functions that read or write
// server files: the first argument, or the second after a large-object id
// (lo_export(oid, '/path')). The path may be a quoted string (with the E
// prefix and doubled quotes) or, in MySQL, a hex literal.
var fileFuncRe = regexp.MustCompile(`\b(load_file|pg_read_file|pg_read_binary_file|pg_stat_file|pg_ls_dir|lo_import|lo_export|pg_file_write)\s*\(\s*(?:[\w$.]+\s*,\s*)?(?:e?'((?:[^'\\]|\\.|'')*)'|"((?:[^"\\]|\\.)*)"|0x([0-9a-f]+)|x'([0-9a-f]+)')`)

// filePathRes find the file of INTO OUTFILE/DUMPFILE, LOAD DATA INFILE and
// COPY … FROM/TO in the raw text (the AST has the first two when it parses).
var filePathRes = []*regexp.Regexp{
	regexp.MustCompile(`\binto\s+(?:outfile|dumpfile)\s+'((?:[^'\\]|\\.)*)'`),
	regexp.MustCompile(`\bload\s+data\s+(?:low_priority\s+|concurrent\s+)?(?:local\s+)?infile\s+'((?:[^'\\]|\\.)*)'`),
	regexp.MustCompile(`^\s*copy\s.*\b(?:from|to)\s+e?'((?:[^'\\]|\\.|'')*)'`),
}

// filePaths adds the file functions' features and every path the raw text
// names to r.
func filePaths(low string, r *Analysis) {
	if strings.Contains(low, "file") || strings.Contains(low, "pg_") || strings.Contains(low, "lo_") {
		for _, m := range fileFuncRe.FindAllStringSubmatch(low, 8) {
			switch m[1] {
			case "lo_export", "pg_file_write":
				r.Features |= FileWrite
			default:
				r.Features |= FileRead
			}
			p := m[2] + m[3]
			if h := m[4] + m[5]; h != "" {
				if b, err := hex.DecodeString(h); err == nil {
					p = string(b)
				}
			}
			if p != "" {
				r.Paths = appendUniq(r.Paths, strings.ReplaceAll(p, "''", "'"))
			}
		}
	}
	if strings.Contains(low, "file") || strings.Contains(low, "copy") {
		for _, re := range filePathRes {
			if m := re.FindStringSubmatch(low); m != nil && m[1] != "" {
				r.Paths = appendUniq(r.Paths, strings.ReplaceAll(m[1], "''", "'"))
			}
		}
	}
}

// analyzeRaw runs the keyword rules and derives the SET-variable features.
func analyzeRaw(sql string, r *Analysis) {
	if len(sql) > maxRaw {
		sql = sql[:maxRaw]
	}
	low := strings.ToLower(sql)
	filePaths(low, r)
	for i := range rawRules {
		rr := &rawRules[i]
		if rr.lexOnly && r.Parsed {
			continue
		}
		if r.Features&rr.feat == rr.feat {
			continue
		}
		if !strings.Contains(low, rr.kw) {
			continue
		}
		if rr.re == nil || rr.re.MatchString(low) {
			r.Features |= rr.feat
		}
	}
	if !r.Parsed {
		if m := setRe.FindStringSubmatch(low); m != nil {
			system := strings.HasPrefix(strings.TrimSpace(m[1]), "alter system")
			global := m[1] != "" || strings.Contains(m[2], "global") || strings.Contains(m[2], "persist")
			r.Vars = append(r.Vars, Var{Name: m[3], Global: global, Value: strings.TrimSpace(strings.Trim(m[5], "'"))})
			if system {
				r.Features |= DangerousFeature // D17: any PG ALTER SYSTEM
			}
		}
		if r.Dialect != MySQL {
			if m := pgTargetRe.FindStringSubmatch(low); m != nil {
				r.TargetUsers = appendUniq(r.TargetUsers, m[4])
			}
		}
		if r.Features&(NoWhere) == 0 {
			lexDML(low, r)
		}
	}
	for _, v := range r.Vars {
		r.Features |= varFeatures(v)
	}
}

var (
	lexDelRe = regexp.MustCompile(`^\s*(delete\s+from|update)\s`)
	lexTmpRe = regexp.MustCompile(`^\s*create\s+(global\s+|local\s+)?temp(orary)?\s+table\b`)
)

// lexDML approximates NoWhere/NoLimit for statements the parser did not
// accept (single statement only).
func lexDML(low string, r *Analysis) {
	if lexTmpRe.MatchString(low) {
		r.Features |= TempTable
	}
	if r.Statements != 1 || !lexDelRe.MatchString(low) {
		return
	}
	if !strings.Contains(low, " where ") && !strings.Contains(low, "\nwhere ") {
		r.Features |= NoWhere
	}
	if !strings.Contains(low, " limit ") {
		r.Features |= NoLimit
	}
}

func isOff(v string) bool {
	switch v {
	case "0", "off", "false", "none", "no":
		return true
	}
	return false
}

func isOn(v string) bool {
	switch v {
	case "1", "on", "true", "yes", "force_plus_permanent":
		return true
	}
	return false
}

// varFeatures classifies one variable assignment (D14, D16, D17).
func varFeatures(v Var) Features {
	n := v.Name
	switch {
	// D14: turning audit off is AuditDisable, turning it on or making it
	// record more AuditEnable, anything else (narrowing, excluding users,
	// moving the file) AuditModify.
	case n == "tidb_audit_enabled" || n == "server_audit_logging" || n == "audit_log_enabled":
		switch {
		case isOff(v.Value):
			return AuditDisable
		case isOn(v.Value):
			return AuditEnable
		}
		return AuditModify
	case n == "audit_log_filter_disable" || n == "audit_log_disable":
		switch {
		case isOn(v.Value):
			return AuditDisable
		case isOff(v.Value):
			return AuditEnable
		}
		return AuditModify
	case n == "pgaudit.log":
		return pgauditLog(v.Value)
	case n == "pgaudit.log_catalog" || n == "pgaudit.log_parameter" || n == "pgaudit.log_relation" ||
		n == "pgaudit.log_statement" || n == "pgaudit.log_client" || n == "pgaudit.log_rows":
		// Booleans whose "on" records more.
		if isOn(v.Value) {
			return AuditEnable
		}
		return AuditModify
	case n == "server_audit_events":
		// Empty is every event class; CONNECT plus QUERY covers every
		// statement and login.
		if v.Value == "" || hasWord(v.Value, "query") && hasWord(v.Value, "connect") {
			return AuditEnable
		}
		return AuditModify
	case n == "server_audit_excl_users":
		// Clearing the exclusion list widens; filling it excludes users.
		if v.Value == "" {
			return AuditEnable
		}
		return AuditModify
	case strings.HasPrefix(n, "tidb_audit_log") || n == "tidb_audit_redact_log",
		strings.HasPrefix(n, "server_audit_"), strings.HasPrefix(n, "audit_log_"),
		strings.HasPrefix(n, "pgaudit."):
		return AuditModify
	// D16: logging and replication evasion.
	case n == "sql_log_bin":
		if isOff(v.Value) {
			return LogEvasion
		}
	case n == "general_log" || n == "log_connections" || n == "log_disconnections" || n == "tidb_general_log":
		if isOff(v.Value) {
			return LogEvasion
		}
	case n == "log_statement":
		if isOff(v.Value) {
			return LogEvasion
		}
	case n == "tidb_redact_log" || n == "tidb_enable_stmt_summary":
		return LogEvasion
	// D17: dangerous features.
	case n == "local_infile":
		if isOn(v.Value) {
			return DangerousFeature | DangerousEnabled
		}
		return DangerousFeature
	case n == "secure_file_priv" || n == "tidb_enable_udf":
		return DangerousFeature
	}
	return 0
}

// pgauditLog classifies a pgaudit.log value: none (or empty) disables, a
// list with "all" and no "-class" exclusion records everything, anything
// else (a subset, exclusions) may narrow what was recorded.
func pgauditLog(v string) Features {
	v = strings.TrimSpace(v)
	if v == "" || isOff(v) {
		return AuditDisable
	}
	if hasWord(v, "all") && !strings.Contains(v, "-") {
		return AuditEnable
	}
	return AuditModify
}

// hasWord reports whether the comma- or space-separated list v holds w.
func hasWord(v, w string) bool {
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if f == w {
			return true
		}
	}
	return false
}

// account is one account name as the MySQL family writes it: 'u'@'h',
// `u`@`h`, "u"@"h", u@h or a bare name (PostgreSQL, TDengine).
const account = `(?:'((?:[^'\\]|\\.)*)'|` + "`([^`]*)`" + `|"([^"]*)"|([a-z0-9_$.\-]+))(?:\s*@\s*(?:'([^']*)'|` + "`([^`]*)`" + `|"([^"]*)"|([a-z0-9_%.:\-]+)))?`

var (
	lexDCLRes = []*regexp.Regexp{
		regexp.MustCompile(`^\s*(?:create|alter|drop)\s+(?:user|role)\s+(?:if\s+(?:not\s+)?exists\s+)?\{?` + account),
		regexp.MustCompile(`^\s*rename\s+user\s+` + account),
		regexp.MustCompile(`^\s*set\s+password\s+for\s+` + account),
		regexp.MustCompile(`^\s*grant\s.*?\bto\s+` + account),
		regexp.MustCompile(`^\s*revoke\s.*?\bfrom\s+` + account),
	}
	lexCreateUserRe = regexp.MustCompile(`^\s*create\s+user\s`)
)

// lexDCL is the tolerant path for account statements the parser rejects
// (truncated at the server's query-log limit, or masked in a way the
// placeholder does not repair, or TiDB's "secure text" forms such as
// alter user {root@% password = ***}): it keeps the first target account
// and whether an account is created for any host.
func lexDCL(sql string, r *Analysis) {
	if len(sql) > maxRaw {
		sql = sql[:maxRaw]
	}
	low := strings.ToLower(sql)
	for _, re := range lexDCLRes {
		m := re.FindStringSubmatch(low)
		if m == nil {
			continue
		}
		user := m[1] + m[2] + m[3] + m[4]
		host := m[5] + m[6] + m[7] + m[8]
		switch user {
		case "", "current_user", "if":
			continue
		}
		r.TargetUsers = appendUniq(r.TargetUsers, user)
		if host == "%" && lexCreateUserRe.MatchString(low) {
			r.Features |= HostAny
		}
		return
	}
}
