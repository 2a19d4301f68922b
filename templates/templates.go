// Package templates holds the text templates of every file the charm
// renders (patroni.yml, pg_hba.conf, etcd.conf.yml, systemd units), embedded
// into the charm binary so that a unit renders exactly what was tested.
//
// The templates are dumb: every value they print is escaped by the renderer
// (internal/pgconf) through the functions in Funcs, and every list arrives
// sorted, so the output is deterministic.
package templates

import (
	"embed"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// Parse parses the named template (for example "patroni.yml.tmpl") with the
// given functions. It panics if the template is missing or malformed: the
// templates are compiled into the binary, so that is a programming error
// caught by the package's tests.
func Parse(name string, funcs template.FuncMap) *template.Template {
	return template.Must(template.New(name).Funcs(funcs).Option("missingkey=error").ParseFS(files, name))
}
