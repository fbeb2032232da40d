package sqlx

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver" // value expressions for Parse

	"github.com/dbsec/dbsec/pkg/event"
)

// parserPool holds TiDB parsers; a parser is not safe for concurrent use,
// and the statements a Parse returns live in the parser (its result slice
// is reused by the next Parse), so a parser goes back to the pool only once
// its statements have been walked.
var parserPool = sync.Pool{New: func() any { return parser.New() }}

// privileged grants for D10 (static privileges).
var privilegedPrivs = map[mysql.PrivilegeType]bool{
	mysql.SuperPriv: true, mysql.FilePriv: true, mysql.ProcessPriv: true,
	mysql.ShutdownPriv: true, mysql.ReloadPriv: true, mysql.CreateUserPriv: true,
	mysql.GrantPriv: true, mysql.ConfigPriv: true,
}

// privileged dynamic privileges for D10.
var privilegedDynamic = map[string]bool{
	"SYSTEM_VARIABLES_ADMIN": true, "AUDIT_ADMIN": true, "BACKUP_ADMIN": true,
	"RESTORE_ADMIN": true, "CONNECTION_ADMIN": true, "SYSTEM_USER": true,
	"ROLE_ADMIN": true, "ENCRYPTION_KEY_ADMIN": true,
}

// maskRe matches what servers write in place of a secret: MariaDB's
// *****, pgaudit's <REDACTED>, MySQL Enterprise's <secret>, dbsec's own
// '<redacted>' (quoted or not).
var maskRe = regexp.MustCompile(`'?(?:\*{3,}|<(?i:redacted|secret)>)'?`)

func analyzeMySQL(sql string, r *Analysis) {
	p := parserPool.Get().(*parser.Parser)
	stmts, _, err := p.Parse(sql, "", "")
	if err != nil && maskRe.MatchString(sql) {
		// A masked statement does not parse; with a placeholder literal
		// in place of each mask it does, and keeps its accounts, objects
		// and verbs. The digest stays that of the text as logged.
		stmts, _, err = p.Parse(maskRe.ReplaceAllString(sql, "'x'"), "", "")
		if err == nil {
			r.Masked = true
		}
	}
	if err != nil || len(stmts) == 0 {
		parserPool.Put(p)
		// Truncated or non-TiDB syntax: keep the digest, take the tables
		// from the lexer and the accounts from the DCL keywords.
		lexNormalize(sql, MySQL, r)
		lexDCL(sql, r)
		return
	}
	r.Parsed = true
	if len(stmts) > r.Statements {
		r.Statements = len(stmts)
	}
	r.Action = actionOf(stmts[0])
	v := &visitor{r: r}
	for _, s := range stmts {
		stmtFeatures(s, r)
		s.Accept(v)
	}
	parserPool.Put(p)
}

func actionOf(s ast.StmtNode) event.Action {
	switch n := s.(type) {
	case *ast.SelectStmt, *ast.SetOprStmt:
		return event.ActionSelect
	case *ast.InsertStmt:
		if n.IsReplace {
			return event.ActionReplace
		}
		return event.ActionInsert
	case *ast.UpdateStmt:
		return event.ActionUpdate
	case *ast.DeleteStmt:
		return event.ActionDelete
	case *ast.LoadDataStmt, *ast.ImportIntoStmt:
		return event.ActionLoadData
	case *ast.CreateTableStmt:
		return event.ActionCreateTable
	case *ast.AlterTableStmt:
		return event.ActionAlterTable
	case *ast.DropTableStmt:
		if n.IsView {
			return event.ActionDropView
		}
		return event.ActionDropTable
	case *ast.TruncateTableStmt:
		return event.ActionTruncateTable
	case *ast.RenameTableStmt:
		return event.ActionRenameTable
	case *ast.CreateDatabaseStmt:
		return event.ActionCreateDatabase
	case *ast.AlterDatabaseStmt:
		return event.ActionAlterDatabase
	case *ast.DropDatabaseStmt:
		return event.ActionDropDatabase
	case *ast.CreateIndexStmt:
		return event.ActionCreateIndex
	case *ast.DropIndexStmt:
		return event.ActionDropIndex
	case *ast.CreateViewStmt:
		return event.ActionCreateView
	case *ast.GrantStmt, *ast.GrantRoleStmt:
		return event.ActionGrant
	case *ast.RevokeStmt, *ast.RevokeRoleStmt:
		return event.ActionRevoke
	case *ast.CreateUserStmt:
		if n.IsCreateRole {
			return event.ActionCreateRole
		}
		return event.ActionCreateUser
	case *ast.AlterUserStmt:
		return event.ActionAlterUser
	case *ast.DropUserStmt:
		if n.IsDropRole {
			return event.ActionDropRole
		}
		return event.ActionDropUser
	case *ast.RenameUserStmt:
		return event.ActionRenameUser
	case *ast.SetPwdStmt:
		return event.ActionSetPassword
	case *ast.SetRoleStmt, *ast.SetDefaultRoleStmt:
		return event.ActionSetRole
	case *ast.SetStmt:
		global := false
		for _, v := range n.Variables {
			if strings.HasPrefix(strings.ToLower(v.Name), "tidb_audit") {
				return event.ActionAuditConfig
			}
			global = global || v.IsGlobal || v.IsInstance
		}
		if !global {
			return event.ActionSetSession // SET NAMES, SET autocommit, SET @x …
		}
		return event.ActionSet
	case *ast.CreateBindingStmt, *ast.DropBindingStmt, *ast.SetBindingStmt:
		return event.ActionConfigChange
	case *ast.UseStmt:
		return event.ActionUse
	case *ast.ShowStmt:
		return event.ActionShow
	case *ast.ExplainStmt:
		return event.ActionExplain
	case *ast.KillStmt:
		return event.ActionKill
	case *ast.FlushStmt:
		return event.ActionFlush
	case *ast.ShutdownStmt:
		return event.ActionShutdown
	case *ast.BRIEStmt:
		if n.Kind == ast.BRIEKindBackup {
			return event.ActionBackup
		}
		return event.ActionRestore
	case *ast.BeginStmt, *ast.CommitStmt, *ast.RollbackStmt, *ast.SavepointStmt, *ast.ReleaseSavepointStmt:
		return event.ActionTransaction
	case *ast.PrepareStmt:
		return event.ActionPrepare
	case *ast.ExecuteStmt:
		return event.ActionExecute
	case *ast.CallStmt:
		return event.ActionCall
	case *ast.RecoverTableStmt, *ast.FlashBackTableStmt, *ast.FlashBackDatabaseStmt, *ast.FlashBackToTimestampStmt:
		return event.ActionAlterOther
	}
	return event.ActionNone // classify decides
}

// stmtFeatures sets the statement-level features of one statement.
func stmtFeatures(s ast.StmtNode, r *Analysis) {
	switch n := s.(type) {
	case *ast.GrantStmt:
		if n.WithGrant {
			r.Features |= GrantOption
		}
		if n.Level != nil && (n.Level.Level == ast.GrantLevelGlobal || n.Level.Level == ast.GrantLevelDB) {
			r.Features |= GrantBroadLevel
		}
		for _, p := range n.Privs {
			switch {
			case p.Priv == mysql.AllPriv:
				r.Features |= GrantAll
			case p.Priv == mysql.ExtendedPriv:
				name := strings.ToUpper(p.Name)
				if privilegedDynamic[name] || strings.HasPrefix(name, "RESTRICTED_") {
					r.Features |= GrantPrivileged
				}
			case privilegedPrivs[p.Priv]:
				r.Features |= GrantPrivileged
			}
		}
		for _, u := range n.Users {
			if u.User != nil {
				r.TargetUsers = appendUniq(r.TargetUsers, strings.ToLower(u.User.Username))
			}
		}
	case *ast.GrantRoleStmt:
		for _, u := range n.Users {
			r.TargetUsers = appendUniq(r.TargetUsers, strings.ToLower(u.Username))
		}
	case *ast.CreateUserStmt:
		for _, sp := range n.Specs {
			if sp.User != nil {
				r.TargetUsers = appendUniq(r.TargetUsers, strings.ToLower(sp.User.Username))
				if sp.User.Hostname == "%" && !n.IsCreateRole {
					r.Features |= HostAny
				}
			}
			switch {
			case n.IsCreateRole:
			case sp.AuthOpt == nil:
				r.Features |= NoAuth
			case sp.AuthOpt.ByAuthString && sp.AuthOpt.AuthString == "":
				r.Features |= EmptyPassword
			case sp.AuthOpt.ByHashString && sp.AuthOpt.HashString == "":
				r.Features |= EmptyPassword
			}
		}
	case *ast.AlterUserStmt:
		for _, sp := range n.Specs {
			if sp.User != nil {
				name := sp.User.Username
				if sp.User.CurrentUser {
					name = ""
				}
				r.TargetUsers = appendUniq(r.TargetUsers, strings.ToLower(name))
			}
			if sp.AuthOpt != nil && sp.AuthOpt.ByAuthString && sp.AuthOpt.AuthString == "" {
				r.Features |= EmptyPassword
			}
		}
	case *ast.SetPwdStmt:
		if n.User != nil && !n.User.CurrentUser {
			r.TargetUsers = appendUniq(r.TargetUsers, strings.ToLower(n.User.Username))
		}
		if n.Password == "" {
			r.Features |= EmptyPassword
		}
	case *ast.RenameUserStmt:
		for _, u := range n.UserToUsers {
			if u.OldUser != nil {
				r.TargetUsers = appendUniq(r.TargetUsers, strings.ToLower(u.OldUser.Username))
			}
		}
	case *ast.DropUserStmt:
		for _, u := range n.UserList {
			r.TargetUsers = appendUniq(r.TargetUsers, strings.ToLower(u.Username))
		}
	case *ast.RevokeStmt:
		for _, u := range n.Users {
			if u.User != nil {
				r.TargetUsers = appendUniq(r.TargetUsers, strings.ToLower(u.User.Username))
			}
		}
	case *ast.DeleteStmt:
		if n.Where == nil {
			r.Features |= NoWhere
		} else if constTrue(n.Where) {
			r.Features |= WhereAlwaysTrue
		}
		if n.Limit == nil {
			r.Features |= NoLimit
		}
	case *ast.UpdateStmt:
		if n.Where == nil {
			r.Features |= NoWhere
		} else if constTrue(n.Where) {
			r.Features |= WhereAlwaysTrue
		}
		if n.Limit == nil {
			r.Features |= NoLimit
		}
	case *ast.LoadDataStmt:
		r.Features |= FileRead
		r.Paths = appendUniq(r.Paths, strings.ToLower(n.Path))
	case *ast.ImportIntoStmt:
		p := strings.ToLower(n.Path)
		r.Paths = appendUniq(r.Paths, p)
		if isExternalURL(p) {
			r.Features |= ExternalExport
		} else {
			r.Features |= FileRead
		}
	case *ast.BRIEStmt:
		st := strings.ToLower(n.Storage)
		r.Paths = appendUniq(r.Paths, st)
		if n.Kind == ast.BRIEKindBackup && isExternalURL(st) {
			r.Features |= ExternalExport
		}
	case *ast.RecoverTableStmt, *ast.FlashBackTableStmt, *ast.FlashBackDatabaseStmt, *ast.FlashBackToTimestampStmt:
		r.Features |= Recoverability
	case *ast.CreateTableStmt:
		if n.TemporaryKeyword != ast.TemporaryNone {
			r.Features |= TempTable
		}
	case *ast.ShowStmt:
		switch n.Tp {
		case ast.ShowGrants, ast.ShowDatabases, ast.ShowProcessList, ast.ShowPrivileges, ast.ShowVariables, ast.ShowPlugins:
			r.Features |= Catalog
		}
	case *ast.SetStmt:
		for _, v := range n.Variables {
			if v.Name == ast.SetNames || v.Name == ast.SetCharset {
				continue
			}
			if !v.IsSystem {
				continue
			}
			r.Vars = append(r.Vars, Var{Name: strings.ToLower(v.Name), Global: v.IsGlobal, Value: exprText(v.Value)})
		}
	}
}

func isExternalURL(p string) bool {
	for _, s := range []string{"s3://", "gcs://", "gs://", "azblob://", "azure://", "hdfs://", "http://", "https://"} {
		if strings.HasPrefix(p, s) {
			return true
		}
	}
	return false
}

// exprText returns the lowercase text of a literal or a bare identifier
// (SET x = OFF parses OFF as a column name), else "".
func exprText(e ast.ExprNode) string {
	switch v := e.(type) {
	case *test_driver.ValueExpr:
		return strings.ToLower(fmt.Sprint(v.GetValue()))
	case *ast.ColumnNameExpr:
		return strings.ToLower(v.Name.Name.O)
	case *ast.UnaryOperationExpr:
		if v.Op == opcode.Minus {
			return "-" + exprText(v.V)
		}
	case *ast.DefaultExpr:
		return "default"
	}
	return ""
}

func constValue(e ast.ExprNode) (string, bool) {
	switch v := e.(type) {
	case *test_driver.ValueExpr:
		return fmt.Sprint(v.GetValue()), true
	case *ast.ParenthesesExpr:
		return constValue(v.Expr)
	}
	return "", false
}

// constCompare reports whether e compares two constants (1=1, 'a'='a',
// 2>1), and whether the comparison holds for equality operators.
func constCompare(e ast.ExprNode) (isConst, truth bool) {
	for {
		p, ok := e.(*ast.ParenthesesExpr)
		if !ok {
			break
		}
		e = p.Expr
	}
	switch b := e.(type) {
	case *ast.BinaryOperationExpr:
		switch b.Op {
		case opcode.EQ, opcode.NullEQ, opcode.GE, opcode.LE, opcode.NE, opcode.GT, opcode.LT, opcode.Like:
			l, ok1 := constValue(b.L)
			rr, ok2 := constValue(b.R)
			if !ok1 || !ok2 {
				return false, false
			}
			switch b.Op {
			case opcode.EQ, opcode.NullEQ, opcode.GE, opcode.LE, opcode.Like:
				return true, l == rr
			case opcode.NE:
				return true, l != rr
			}
			return true, true
		case opcode.LogicOr:
			c1, t1 := constCompare(b.L)
			c2, t2 := constCompare(b.R)
			return c1 || c2, t1 || t2
		}
	case *test_driver.ValueExpr:
		// WHERE 1 / WHERE TRUE
		s := fmt.Sprint(b.GetValue())
		return true, s != "0" && s != "" && s != "<nil>"
	}
	return false, false
}

// constTrue reports whether a WHERE condition is always true.
func constTrue(e ast.ExprNode) bool {
	c, t := constCompare(e)
	if c && t {
		return true
	}
	if b, ok := e.(*ast.BinaryOperationExpr); ok && b.Op == opcode.LogicOr {
		return constTrue(b.L) || constTrue(b.R)
	}
	return false
}

// visitor walks every node of a statement.
type visitor struct{ r *Analysis }

func (v *visitor) Enter(n ast.Node) (ast.Node, bool) {
	r := v.r
	switch x := n.(type) {
	case *ast.TableName:
		name := x.Name.L
		if x.Schema.L != "" {
			name = x.Schema.L + "." + name
		}
		r.Tables = appendUniq(r.Tables, name)
		switch x.Schema.L {
		case "information_schema", "performance_schema", "mysql", "sys", "metrics_schema":
			r.Features |= Catalog
		}
	case *ast.BinaryOperationExpr:
		if x.Op == opcode.LogicOr {
			if c, _ := constCompare(x.L); c {
				r.Features |= Tautology
			}
			if c, _ := constCompare(x.R); c {
				r.Features |= Tautology
			}
		}
	case *ast.SelectStmt:
		if x.SelectIntoOpt != nil {
			r.Features |= IntoOutfile
			fn := strings.ToLower(x.SelectIntoOpt.FileName)
			r.Paths = appendUniq(r.Paths, fn)
			if isExternalURL(fn) {
				r.Features |= ExternalExport
			}
		}
	case *ast.FuncCallExpr:
		switch x.FnName.L {
		case "sleep", "benchmark":
			r.Features |= TimeBased
		case "load_file":
			r.Features |= FileRead
			// The path is taken from the raw text (filePaths), which
			// also decodes hex literals.
		case "extractvalue", "updatexml", "gtid_subset":
			r.Features |= ErrorBased
		case "version", "user", "current_user", "database", "schema", "system_user", "session_user", "connection_id", "tidb_version":
			r.Features |= EnvProbe
		case "sys_exec", "sys_eval":
			r.Features |= CmdExec
		}
	case *ast.VariableExpr:
		if x.IsSystem {
			switch strings.ToLower(x.Name) {
			case "version", "version_comment", "hostname", "datadir", "basedir", "plugin_dir", "secure_file_priv", "tmpdir", "version_compile_os":
				r.Features |= EnvProbe
			}
		}
	case *ast.ColumnName:
		if x.Name.L == "authentication_string" || x.Name.L == "password" && x.Table.L == "user" {
			r.Features |= PasswordHashRead
		}
	}
	return n, false
}

func (v *visitor) Leave(n ast.Node) (ast.Node, bool) { return n, true }
