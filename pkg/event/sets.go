package event

import "fmt"

// System is the database product that wrote a record.
type System uint8

// Systems.
const (
	SystemUnknown System = iota
	SystemTiDB
	SystemTDengine
	SystemRedash
	SystemMariaDB
	SystemMySQL
	SystemPostgres
	NumSystems
)

var systemNames = [NumSystems]string{"unknown", "tidb", "tdengine", "redash", "mariadb", "mysql", "postgres"}

func (s System) String() string {
	if s < NumSystems {
		return systemNames[s]
	}
	return "unknown"
}

// Category is the security category of an event.
type Category uint8

// Categories.
const (
	CategoryOther Category = iota
	CategoryLogin
	CategoryLogout
	CategoryDDL
	CategoryPrivilegeChange
	CategoryDMLWrite
	CategoryRead
	CategoryAdmin
	CategoryAccessDenied
	CategoryError
	NumCategories
)

var categoryNames = [NumCategories]string{"other", "login", "logout", "ddl", "privilege_change", "dml_write", "read", "admin", "access_denied", "error"}

func (c Category) String() string {
	if c < NumCategories {
		return categoryNames[c]
	}
	return "other"
}

// Outcome of an event.
type Outcome uint8

// Outcomes.
const (
	OutcomeUnknown Outcome = iota
	OutcomeSuccess
	OutcomeFailure
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{"unknown", "success", "failure"}

func (o Outcome) String() string {
	if o < NumOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// Action is the verb of an event. The set is closed; ActionOf gives the
// category an action belongs to when it is not an access denial or error.
type Action uint8

// Actions, grouped by the category they normally belong to.
const (
	ActionNone Action = iota
	// login / logout
	ActionConnect
	ActionChangeUser
	ActionDisconnect
	// ddl
	ActionCreateTable
	ActionAlterTable
	ActionDropTable
	ActionTruncateTable
	ActionRenameTable
	ActionCreateDatabase
	ActionAlterDatabase
	ActionDropDatabase
	ActionCreateIndex
	ActionDropIndex
	ActionCreateView
	ActionAlterView
	ActionDropView
	ActionCreateOther
	ActionAlterOther
	ActionDropOther
	// privilege_change
	ActionGrant
	ActionRevoke
	ActionCreateUser
	ActionAlterUser
	ActionDropUser
	ActionRenameUser
	ActionSetPassword
	ActionCreateRole
	ActionDropRole
	ActionSetRole
	// dml_write
	ActionInsert
	ActionUpdate
	ActionDelete
	ActionReplace
	ActionLoadData
	// read
	ActionSelect
	// admin
	ActionSet
	ActionUse
	ActionShow
	ActionExplain
	ActionKill
	ActionFlush
	ActionShutdown
	ActionBackup
	ActionRestore
	ActionAuditConfig
	ActionConfigChange
	ActionInstallPlugin
	ActionUninstallPlugin
	// other
	ActionTransaction
	ActionPrepare
	ActionExecute
	ActionCall
	ActionSetSession
	ActionOther
	NumActions
)

var actionNames = [NumActions]string{
	"none",
	"connect", "change_user", "disconnect",
	"create_table", "alter_table", "drop_table", "truncate_table", "rename_table",
	"create_database", "alter_database", "drop_database",
	"create_index", "drop_index",
	"create_view", "alter_view", "drop_view",
	"create_other", "alter_other", "drop_other",
	"grant", "revoke", "create_user", "alter_user", "drop_user", "rename_user", "set_password",
	"create_role", "drop_role", "set_role",
	"insert", "update", "delete", "replace", "load_data",
	"select",
	"set", "use", "show", "explain", "kill", "flush", "shutdown", "backup", "restore",
	"audit_config", "config_change", "install_plugin", "uninstall_plugin",
	"transaction", "prepare", "execute", "call", "set_session", "other",
}

func (a Action) String() string {
	if a < NumActions {
		return actionNames[a]
	}
	return "other"
}

// Category returns the category an action belongs to when the statement
// succeeded or its outcome is unknown. docs/categories.md is the table of
// every statement family.
func (a Action) Category() Category {
	switch {
	case a == ActionUse:
		// USE db only changes the session's default database.
		return CategoryOther
	case a == ActionShow || a == ActionExplain:
		// SHOW, DESCRIBE and EXPLAIN read metadata or plans.
		return CategoryRead
	case a == ActionConnect || a == ActionChangeUser:
		return CategoryLogin
	case a == ActionDisconnect:
		return CategoryLogout
	case a >= ActionCreateTable && a <= ActionDropOther:
		return CategoryDDL
	case a >= ActionGrant && a <= ActionSetRole:
		return CategoryPrivilegeChange
	case a >= ActionInsert && a <= ActionLoadData:
		return CategoryDMLWrite
	case a == ActionSelect:
		return CategoryRead
	case a >= ActionSet && a <= ActionUninstallPlugin:
		return CategoryAdmin
	}
	return CategoryOther
}

// Class is the coarse statement class of dbsec_statements_total.
type Class uint8

// Statement classes.
const (
	ClassOther Class = iota
	ClassSelect
	ClassInsert
	ClassUpdate
	ClassDelete
	ClassDDL
	ClassDCL
	ClassAdmin
	ClassTransaction
	NumClasses
)

var classNames = [NumClasses]string{"other", "select", "insert", "update", "delete", "ddl", "dcl", "admin", "transaction"}

func (c Class) String() string {
	if c < NumClasses {
		return classNames[c]
	}
	return "other"
}

// Class returns the statement class of an action. REPLACE and LOAD DATA
// count as insert.
func (a Action) Class() Class {
	switch a {
	case ActionSelect:
		return ClassSelect
	case ActionInsert, ActionReplace, ActionLoadData:
		return ClassInsert
	case ActionUpdate:
		return ClassUpdate
	case ActionDelete:
		return ClassDelete
	case ActionTransaction:
		return ClassTransaction
	}
	switch a.Category() {
	case CategoryDDL:
		return ClassDDL
	case CategoryPrivilegeChange:
		return ClassDCL
	case CategoryAdmin:
		return ClassAdmin
	}
	return ClassOther
}

// IsStatement reports whether the action is a SQL statement verb (as opposed
// to a connection event).
func (a Action) IsStatement() bool {
	return a >= ActionCreateTable && a < NumActions
}

// Lookup tables from names, for config and API parameters.
var (
	systemByName   = index(systemNames[:])
	categoryByName = index(categoryNames[:])
	outcomeByName  = index(outcomeNames[:])
	actionByName   = index(actionNames[:])
	classByName    = index(classNames[:])
)

func index(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}

// ParseSystem returns the System with the given name.
func ParseSystem(s string) (System, error) {
	if i, ok := systemByName[s]; ok {
		return System(i), nil
	}
	return 0, fmt.Errorf("unknown system %q", s)
}

// ParseCategory returns the Category with the given name.
func ParseCategory(s string) (Category, error) {
	if i, ok := categoryByName[s]; ok {
		return Category(i), nil
	}
	return 0, fmt.Errorf("unknown category %q", s)
}

// ParseOutcome returns the Outcome with the given name.
func ParseOutcome(s string) (Outcome, error) {
	if i, ok := outcomeByName[s]; ok {
		return Outcome(i), nil
	}
	return 0, fmt.Errorf("unknown outcome %q", s)
}

// ParseAction returns the Action with the given name.
func ParseAction(s string) (Action, error) {
	if i, ok := actionByName[s]; ok {
		return Action(i), nil
	}
	return 0, fmt.Errorf("unknown action %q", s)
}

// ParseClass returns the Class with the given name.
func ParseClass(s string) (Class, error) {
	if i, ok := classByName[s]; ok {
		return Class(i), nil
	}
	return 0, fmt.Errorf("unknown class %q", s)
}

// Names of every member of each closed set, in declaration order.
func SystemNames() []string   { return append([]string(nil), systemNames[:]...) }
func CategoryNames() []string { return append([]string(nil), categoryNames[:]...) }
func OutcomeNames() []string  { return append([]string(nil), outcomeNames[:]...) }
func ActionNames() []string   { return append([]string(nil), actionNames[:]...) }
func ClassNames() []string    { return append([]string(nil), classNames[:]...) }

// JSON: closed sets are written and read as their names.

func (s System) MarshalText() ([]byte, error)   { return []byte(s.String()), nil }
func (c Category) MarshalText() ([]byte, error) { return []byte(c.String()), nil }
func (o Outcome) MarshalText() ([]byte, error)  { return []byte(o.String()), nil }
func (a Action) MarshalText() ([]byte, error)   { return []byte(a.String()), nil }
func (c Class) MarshalText() ([]byte, error)    { return []byte(c.String()), nil }

func (s *System) UnmarshalText(b []byte) (err error)   { *s, err = ParseSystem(string(b)); return }
func (c *Category) UnmarshalText(b []byte) (err error) { *c, err = ParseCategory(string(b)); return }
func (o *Outcome) UnmarshalText(b []byte) (err error)  { *o, err = ParseOutcome(string(b)); return }
func (a *Action) UnmarshalText(b []byte) (err error)   { *a, err = ParseAction(string(b)); return }
func (c *Class) UnmarshalText(b []byte) (err error)    { *c, err = ParseClass(string(b)); return }
