// Package names is the one definition of Juju's application and unit name
// syntax in localjuju, as github.com/juju/names has it (application.go,
// unit.go):
//
//	application  ^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*$
//	             lowercase, starts with a letter, no hyphen-separated
//	             segment of digits only (so "pg-1" is not an application)
//	unit         <application>/<number>, the number 0 or without leading
//	             zeros ("pg/0", "pg/12"; not "pg/01", "pg/-1", "pg/")
//	unit tag     unit-<application>-<number> ("unit-pg-client-12"): the last
//	             hyphen separates the number
//
// The CLI (juju-exec's unit argument), the controller (unit and remote-unit
// arguments, debug-log entities) and the hook tools (relation-get,
// secret-grant, storage ids) all use it.
package names
