package clientdb

import (
	"fmt"
	"strconv"
	"strings"
)

// RelationUser returns the login user of a relation ("db:5", client app
// "pg-client" → "relation_5_pg_client").
//
// Why this shape:
//   - One user per relation, not per application (the reactive charm's
//     juju_<app>): two relations from one application (db and database, or
//     two data_interfaces aliases) must not share credentials, or revoking
//     or rotating one would break the other. Juju relation ids are unique in
//     a model across endpoints, so relation_<id> alone is unique.
//   - The application name is appended so an operator reading pg_stat_activity
//     or \du sees who the user serves.
//   - '-' and any other character outside [a-z0-9_] become '_' (as the hooks
//     era charm did) so the name needs no quoting in psql.
//   - Cut to 63 bytes: the relation_<id>_ prefix is never cut, so
//     uniqueness survives truncation.
//
// Clients read the name from the databag (`user`, `username`) and never
// derive it, so any name is interface-compatible.
func RelationUser(relationID, app string) (string, error) {
	_, num, ok := strings.Cut(relationID, ":")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 0 {
		return "", fmt.Errorf("relation id %s: want <endpoint>:<number>", Display(relationID))
	}
	var b strings.Builder
	b.WriteString(RelationUserPrefix)
	b.WriteString(strconv.Itoa(n))
	b.WriteByte('_')
	for _, r := range strings.ToLower(app) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := strings.TrimRight(b.String(), "_")
	if len(name) > MaxNameBytes {
		name = name[:MaxNameBytes] // ASCII only: no rune is cut
	}
	return name, nil
}
