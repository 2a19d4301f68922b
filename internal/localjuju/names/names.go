package names

import (
	"regexp"
	"strings"
)

// The snippets of github.com/juju/names, for patterns built on them (such
// as storage ids, <name>/<number>).
const (
	ApplicationSnippet = `(?:[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*)`
	NumberSnippet      = `(?:0|[1-9][0-9]*)`
)

const unitTagPrefix = "unit-"

var (
	validApplication = regexp.MustCompile(`^` + ApplicationSnippet + `$`)
	validUnit        = regexp.MustCompile(`^` + ApplicationSnippet + `/` + NumberSnippet + `$`)
)

// IsValidApplication reports whether name is a valid application name.
func IsValidApplication(name string) bool { return validApplication.MatchString(name) }

// IsValidUnit reports whether name is a valid unit name, <app>/<number>.
func IsValidUnit(name string) bool { return validUnit.MatchString(name) }

// UnitTag returns the tag of a unit name: "unit-pg-0" for "pg/0". It does
// not validate name.
func UnitTag(name string) string {
	return unitTagPrefix + strings.Replace(name, "/", "-", 1)
}

// UnitFromTag returns the unit name of a unit tag, "pg/0" for "unit-pg-0",
// and false when tag is not the tag of a valid unit name.
func UnitFromTag(tag string) (string, bool) {
	rest, ok := strings.CutPrefix(tag, unitTagPrefix)
	if !ok {
		return "", false
	}
	i := strings.LastIndex(rest, "-")
	if i <= 0 {
		return "", false
	}
	name := rest[:i] + "/" + rest[i+1:]
	if !IsValidUnit(name) {
		return "", false
	}
	return name, true
}
