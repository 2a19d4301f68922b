package hooktools

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/localjuju/names"
)

// storageIDRE is a storage instance id, <storage-name>/<number>; storage
// names have the application name syntax (github.com/juju/names).
var storageIDRE = regexp.MustCompile(`^` + names.ApplicationSnippet + `/` + names.NumberSnippet + `$`)

func isValidApplication(s string) bool { return names.IsValidApplication(s) }
func isValidUnit(s string) bool        { return names.IsValidUnit(s) }

// unitApplication returns "pg" for "pg/0".
func unitApplication(unit string) string {
	app, _, _ := strings.Cut(unit, "/")
	return app
}

// relationFlag is the -r/--relation value of juju's relationIdValue: it
// defaults to the hook's relation and accepts "<endpoint>:<id>" or "<id>";
// only the text after the last colon is parsed, and the id must be a
// relation of this unit (contract §2.1).
type relationFlag struct {
	ctx Context
	id  int
	set bool
}

func newRelationFlag(ctx Context) *relationFlag {
	return &relationFlag{ctx: ctx, id: ctx.HookRelationID()}
}

func (r *relationFlag) Set(v string) error {
	s := v
	if i := strings.LastIndex(s, ":"); i >= 0 {
		s = s[i+1:]
	}
	id, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("invalid relation id")
	}
	if _, ok := r.ctx.Relation(id); !ok {
		return errors.New("relation not found")
	}
	r.id, r.set = id, true
	return nil
}

// addFlags registers -r and --relation.
func (r *relationFlag) addFlags(fs *flagSet, usage string) {
	fs.add(&flagDef{name: "r", usage: usage, value: r})
	fs.add(&flagDef{name: "relation", value: r})
}
