// Package formats is the table of every parser unit, by format name (the
// README's format table). It is the only package that imports all format packages.
package formats

import (
	"sort"

	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/gunicorn"
	"github.com/dbsec/dbsec/pkg/parse/mariadbaudit"
	"github.com/dbsec/dbsec/pkg/parse/mariadberror"
	"github.com/dbsec/dbsec/pkg/parse/mysqlaudit"
	"github.com/dbsec/dbsec/pkg/parse/nginxerror"
	"github.com/dbsec/dbsec/pkg/parse/nginxredash"
	"github.com/dbsec/dbsec/pkg/parse/perconaaudit"
	"github.com/dbsec/dbsec/pkg/parse/postgres"
	"github.com/dbsec/dbsec/pkg/parse/postgrescsv"
	"github.com/dbsec/dbsec/pkg/parse/redashapp"
	"github.com/dbsec/dbsec/pkg/parse/redashevents"
	"github.com/dbsec/dbsec/pkg/parse/taosadapter"
	"github.com/dbsec/dbsec/pkg/parse/taosadaptersql"
	"github.com/dbsec/dbsec/pkg/parse/tdengine"
	"github.com/dbsec/dbsec/pkg/parse/tdengineaudit"
	"github.com/dbsec/dbsec/pkg/parse/tidbaudit"
	"github.com/dbsec/dbsec/pkg/parse/tidbauditplugin"
	"github.com/dbsec/dbsec/pkg/parse/tidbgeneral"
	"github.com/dbsec/dbsec/pkg/parse/tidblog"
	"github.com/dbsec/dbsec/pkg/parse/tidbslow"
)

var all = []parse.Format{
	tidbauditplugin.Format,
	tidbaudit.Format,
	tidbaudit.FormatJSON,
	tidblog.Format,
	tidbgeneral.Format,
	tidbslow.Format,
	tdengine.Format,
	tdengineaudit.Format,
	taosadapter.Format,
	taosadaptersql.Format,
	redashapp.Format,
	redashevents.Format,
	nginxredash.Format,
	nginxerror.Format,
	gunicorn.Format,
	postgres.Format,
	postgrescsv.Format,
	mariadbaudit.Format,
	mariadberror.Format,
	mysqlaudit.Format,
	perconaaudit.Format,
}

var byName = func() map[string]parse.Format {
	m := make(map[string]parse.Format, len(all))
	for _, f := range all {
		m[f.Name] = f
	}
	return m
}()

// Lookup returns the format with the given name.
func Lookup(name string) (parse.Format, bool) {
	f, ok := byName[name]
	return f, ok
}

// All returns every format, sorted by name.
func All() []parse.Format {
	out := append([]parse.Format(nil), all...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns every format name, sorted.
func Names() []string {
	var out []string
	for _, f := range All() {
		out = append(out, f.Name)
	}
	return out
}
