package sqlx

import (
	"math/bits"
	"strings"
)

// Features is a set of security-relevant properties of a statement.
type Features uint64

// The features. Comments name the detection (docs/detections.md) that uses
// them.
const (
	GrantAll         Features = 1 << iota // D10 GRANT ALL [PRIVILEGES]
	GrantBroadLevel                       // D10 grant on *.* or db.*
	GrantPrivileged                       // D10 SUPER, FILE, … or PG SUPERUSER/BYPASSRLS, pg_*_server_* roles
	GrantOption                           // D11 WITH GRANT OPTION / WITH ADMIN OPTION
	EmptyPassword                         // D12 IDENTIFIED BY '' / PASSWORD '' / PASS ''
	NoAuth                                // D12 CREATE USER without an auth clause
	HostAny                               // D12 account host '%'
	NoWhere                               // D20 DELETE/UPDATE without WHERE
	NoLimit                               // D20 DELETE/UPDATE without LIMIT
	WhereAlwaysTrue                       // D20 WHERE is a constant truth (1=1)
	IntoOutfile                           // D23 SELECT … INTO OUTFILE / DUMPFILE
	FileRead                              // D23 LOAD_FILE(, LOAD DATA INFILE, pg_read_file, COPY FROM '/…'
	FileWrite                             // D23 COPY TO '/…', lo_export
	CmdExec                               // D24 COPY … PROGRAM, xp_cmdshell, sys_exec/sys_eval
	ExternalExport                        // D25 BACKUP TO s3://, INTO S3, aws_s3.query_export_to_s3
	Stacked                               // D32a more than one statement
	Tautology                             // D32b constant comparison in an OR branch
	UnionNull                             // D32c UNION [ALL] SELECT NULL, NULL…
	TimeBased                             // D32d SLEEP(, BENCHMARK(, pg_sleep(, WAITFOR DELAY…
	ErrorBased                            // D32e extractvalue(…concat(0x, updatexml(…
	Obfuscated                            // D32f CHAR() chains, /*!50000, /**/, trailing comment after a predicate
	Catalog                               // D30 information_schema, mysql.*, pg_catalog, SHOW GRANTS…
	PasswordHashRead                      // D30 mysql.user.authentication_string, pg_authid/pg_shadow
	EnvProbe                              // D31 @@version, version(), user(), database()…
	AuditDisable                          // D14 audit logging turned off
	AuditModify                           // D14 audit configuration changed
	LogEvasion                            // D16 sql_log_bin=0, general_log=OFF, tidb_redact_log, log_statement
	DangerousFeature                      // D17 local_infile, xp_cmdshell config, ALTER SYSTEM
	DangerousEnabled                      // D17 the dangerous feature is being enabled
	ServerCode                            // D18 CREATE FUNCTION … SONAME, INSTALL PLUGIN, CREATE EXTENSION (untrusted)
	Recoverability                        // D22 FLASHBACK, RECOVER TABLE
	TempTable                             // D20 the target is a temporary table
	AuditEnable                           // D14 (info) audit logging turned on or widened
	numFeatures      = iota
)

var featureNames = [numFeatures]string{
	"grant_all", "grant_broad_level", "grant_privileged", "grant_option",
	"empty_password", "no_auth", "host_any",
	"no_where", "no_limit", "where_always_true",
	"into_outfile", "file_read", "file_write", "cmd_exec", "external_export",
	"stacked", "tautology", "union_null", "time_based", "error_based", "obfuscated",
	"catalog", "password_hash_read", "env_probe",
	"audit_disable", "audit_modify", "log_evasion", "dangerous_feature", "dangerous_enabled",
	"server_code", "recoverability", "temp_table", "audit_enable",
}

// Injection is every SQL-injection artefact (D32).
const Injection = Stacked | Tautology | UnionNull | TimeBased | ErrorBased | Obfuscated

// String lists the feature names joined by "|", in declaration order.
func (f Features) String() string {
	if f == 0 {
		return ""
	}
	var b strings.Builder
	for f != 0 {
		i := bits.TrailingZeros64(uint64(f))
		f &^= 1 << i
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		if i < numFeatures {
			b.WriteString(featureNames[i])
		}
	}
	return b.String()
}

// Names returns the feature names of f.
func (f Features) Names() []string {
	if f == 0 {
		return nil
	}
	return strings.Split(f.String(), "|")
}
