// Package redacttest holds the statement shapes that carry a credential,
// shared by the redaction tests of pkg/redact and the end-to-end leak test
// of the exporter.
package redacttest

import (
	"encoding/hex"
	"strings"
)

// Shape is one way of writing a credential into a statement.
type Shape struct {
	Name string
	// Dialects the shape is valid in: "mysql" (TiDB, MariaDB, MySQL,
	// Percona), "postgres", "tdengine".
	Dialects []string
	// SQL is the statement with {S} where the secret goes.
	SQL string
	// Hex: the secret is written as a hex literal (0x…) of its bytes.
	Hex bool
	// Param: the secret is a bind parameter ($1) that only pgaudit's
	// PARAMETER field carries.
	Param bool
}

// Statement returns the shape with secret planted, and the text that must
// not appear anywhere after redaction.
func (s Shape) Statement(secret string) (stmt, planted string) {
	planted = secret
	if s.Hex {
		planted = hex.EncodeToString([]byte(secret))
	}
	return strings.ReplaceAll(s.SQL, "{S}", planted), planted
}

// Has reports whether the shape is valid in dialect d.
func (s Shape) Has(d string) bool {
	for _, x := range s.Dialects {
		if x == d {
			return true
		}
	}
	return false
}

var (
	my = []string{"mysql"}
	pg = []string{"postgres"}
	td = []string{"tdengine"}
)

// Shapes are the credential-carrying statements redaction must mask.
var Shapes = []Shape{
	{Name: "identified-by", Dialects: my, SQL: `CREATE USER 'eve'@'%' IDENTIFIED BY '{S}'`},
	{Name: "comment-between", Dialects: my, SQL: `ALTER USER 'eve'@'%' IDENTIFIED /* x */ BY '{S}'`},
	{Name: "line-comment", Dialects: my, SQL: "CREATE USER eve IDENTIFIED -- x\nBY '{S}'"},
	{Name: "newline-tab", Dialects: my, SQL: "CREATE USER eve IDENTIFIED\n\tBY '{S}'"},
	{Name: "double-quoted", Dialects: my, SQL: `CREATE USER eve IDENTIFIED BY "{S}"`},
	{Name: "introducer", Dialects: my, SQL: `SET PASSWORD FOR eve = _utf8mb4'{S}'`},
	{Name: "hex", Dialects: my, SQL: `SET PASSWORD FOR eve = 0x{S}`, Hex: true},
	{Name: "replace", Dialects: my, SQL: `ALTER USER eve IDENTIFIED BY 'n3w-pw' REPLACE '{S}'`},
	{Name: "old-password", Dialects: my, SQL: `SET PASSWORD FOR eve = OLD_PASSWORD('{S}')`},
	{Name: "password-fn", Dialects: my, SQL: `SET PASSWORD = PASSWORD('{S}')`},
	{Name: "master-password", Dialects: my, SQL: `CHANGE MASTER TO MASTER_HOST='db1', MASTER_PASSWORD='{S}'`},
	{Name: "source-password", Dialects: my, SQL: `CHANGE REPLICATION SOURCE TO SOURCE_USER='r', SOURCE_PASSWORD='{S}'`},
	{Name: "escaped-quote", Dialects: my, SQL: `CREATE USER eve IDENTIFIED BY '{S}\'{S}'`},
	{Name: "grant-identified", Dialects: my, SQL: `GRANT ALL ON *.* TO 'eve'@'%' IDENTIFIED BY '{S}'`},
	{Name: "password-comment", Dialects: []string{"mysql", "postgres"}, SQL: `ALTER USER eve PASSWORD /* x */ '{S}'`},
	{Name: "role-password", Dialects: pg, SQL: `CREATE ROLE eve WITH LOGIN PASSWORD '{S}'`},
	{Name: "dollar", Dialects: pg, SQL: `CREATE ROLE eve LOGIN PASSWORD $${S}$$`},
	{Name: "dollar-tag", Dialects: pg, SQL: `ALTER ROLE eve PASSWORD $tag${S}$tag$`},
	{Name: "e-string", Dialects: pg, SQL: `ALTER ROLE eve PASSWORD E'{S}\'{S}'`},
	{Name: "u-amp", Dialects: pg, SQL: `ALTER ROLE eve PASSWORD U&'{S}'`},
	{Name: "pgaudit-param", Dialects: pg, SQL: `ALTER ROLE eve PASSWORD $1`, Param: true},
	{Name: "td-pass", Dialects: td, SQL: `create user eve pass '{S}' sysinfo 0`},
	{Name: "td-pass-dq", Dialects: td, SQL: `alter user eve pass "{S}"`},
}
