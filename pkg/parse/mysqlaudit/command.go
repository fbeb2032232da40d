package mysqlaudit

import (
	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
)

// Action maps a MySQL sql_command name (the Com_xxx status variable names,
// also Percona's COMMAND_CLASS) to an action. Names it does not know, and
// set_option (which is also how SET PASSWORD is named before 5.7), fall back
// to classifying the statement text.
func Action(name []byte, sql string) event.Action {
	switch string(name) {
	case "select":
		return event.ActionSelect
	case "insert", "insert_select":
		return event.ActionInsert
	case "update", "update_multi":
		return event.ActionUpdate
	case "delete", "delete_multi":
		return event.ActionDelete
	case "replace", "replace_select":
		return event.ActionReplace
	case "load":
		return event.ActionLoadData
	case "create_table":
		return event.ActionCreateTable
	case "alter_table":
		return event.ActionAlterTable
	case "drop_table":
		return event.ActionDropTable
	case "truncate":
		return event.ActionTruncateTable
	case "rename_table":
		return event.ActionRenameTable
	case "create_db":
		return event.ActionCreateDatabase
	case "alter_db", "alter_db_upgrade":
		return event.ActionAlterDatabase
	case "drop_db":
		return event.ActionDropDatabase
	case "create_index":
		return event.ActionCreateIndex
	case "drop_index":
		return event.ActionDropIndex
	case "create_view":
		return event.ActionCreateView
	case "drop_view":
		return event.ActionDropView
	case "create_procedure", "create_function", "create_spfunction", "create_trigger", "create_event",
		"create_server", "create_tablespace", "create_resource_group", "create_srs":
		return event.ActionCreateOther
	case "alter_procedure", "alter_function", "alter_event", "alter_server", "alter_tablespace",
		"alter_resource_group":
		return event.ActionAlterOther
	case "drop_procedure", "drop_function", "drop_trigger", "drop_event", "drop_server",
		"drop_tablespace", "drop_resource_group", "drop_srs":
		return event.ActionDropOther
	case "grant", "grant_roles", "grant_proxy":
		return event.ActionGrant
	case "revoke", "revoke_all", "revoke_roles":
		return event.ActionRevoke
	case "create_user":
		return event.ActionCreateUser
	case "alter_user", "alter_user_default_role":
		return event.ActionAlterUser
	case "drop_user":
		return event.ActionDropUser
	case "rename_user":
		return event.ActionRenameUser
	case "set_password":
		return event.ActionSetPassword
	case "create_role":
		return event.ActionCreateRole
	case "drop_role":
		return event.ActionDropRole
	case "set_role":
		return event.ActionSetRole
	case "change_db":
		return event.ActionUse
	case "kill":
		return event.ActionKill
	case "flush":
		return event.ActionFlush
	case "shutdown", "restart_server":
		return event.ActionShutdown
	case "install_plugin", "install_component":
		return event.ActionInstallPlugin
	case "uninstall_plugin", "uninstall_component":
		return event.ActionUninstallPlugin
	case "alter_instance":
		return event.ActionConfigChange
	case "begin", "commit", "rollback", "savepoint", "rollback_to_savepoint", "release_savepoint",
		"xa_start", "xa_end", "xa_prepare", "xa_commit", "xa_rollback", "xa_recover":
		return event.ActionTransaction
	case "prepare_sql", "dealloc_sql":
		return event.ActionPrepare
	case "execute_sql":
		return event.ActionExecute
	case "call_procedure":
		return event.ActionCall
	case "explain_other":
		return event.ActionExplain
	}
	if len(name) > 5 && string(name[:5]) == "show_" {
		return event.ActionShow
	}
	if sql != "" {
		return classify.Statement(sql)
	}
	if string(name) == "set_option" {
		return event.ActionSet
	}
	return event.ActionOther
}
