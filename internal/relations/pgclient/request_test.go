package pgclient_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/relations/pgclient"
)

// libraryDefault is data_interfaces' default requested-secrets, as Python's
// json.dumps writes it.
const libraryDefault = `["username", "password", "tls", "tls-ca", "uris", "read-only-uris", "entity-name", "entity-password"]`

func TestParseRequest(t *testing.T) {
	grantable := []string{"analytics", "charmed_read", "pg_monitor"}
	in := func(bag map[string]string) pgclient.Input {
		return pgclient.Input{RelationID: "database:7", ClientApp: "myapp", AppData: bag, GrantableRoles: grantable}
	}
	base := pgclient.Request{RelationID: "database:7", ClientApp: "myapp", User: "relation_7_myapp", Database: "app"}
	with := func(f func(*pgclient.Request)) pgclient.Request { r := base; f(&r); return r }
	for _, tc := range []struct {
		name    string
		in      pgclient.Input
		want    pgclient.Request
		wantErr string
		wantIs  error
	}{
		{"a bare database request is served with plain fields", in(map[string]string{"database": "app"}), base, "", nil},
		{"the library's default requested-secrets are read", in(map[string]string{"database": "app", "requested-secrets": libraryDefault}),
			with(func(r *pgclient.Request) {
				r.RequestedSecrets = []string{"entity-name", "entity-password", "password", "read-only-uris", "tls", "tls-ca", "uris", "username"}
			}), "", nil},
		{"an empty requested-secrets list means plain fields", in(map[string]string{"database": "app", "requested-secrets": "[]"}), base, "", nil},
		{"keywords are case-insensitive and admin brings CREATEDB", in(map[string]string{"database": "app", "extra-user-roles": "SUPERUSER, admin,CreateDB,login"}),
			with(func(r *pgclient.Request) {
				r.Attributes = []clientdb.Attribute{clientdb.AttrCreateDB, clientdb.AttrSuperuser}
				r.Admin = true
			}), "", nil},
		{"existing grantable roles are granted, matched as written or in lower case", in(map[string]string{"database": "app", "extra-user-roles": "Analytics,pg_monitor,createrole"}),
			with(func(r *pgclient.Request) {
				r.Roles = []string{"analytics", "pg_monitor"}
				r.Attributes = []clientdb.Attribute{clientdb.AttrCreateRole}
			}), "", nil},
		{"a relation already served its database is served again", pgclient.Input{RelationID: "database:7", ClientApp: "myapp",
			AppData: map[string]string{"database": "app"}, ServedDatabase: "app"}, base, "", nil},
		{"no database yet means wait", in(map[string]string{"requested-secrets": libraryDefault}), pgclient.Request{},
			"database:7: no database requested yet", pgclient.ErrNoDatabase},
		{"unknown roles are refused, all named", in(map[string]string{"database": "app", "extra-user-roles": "zeta,createdb,alpha,operator"}), pgclient.Request{},
			`database:7: invalid role(s) for extra user roles: "alpha", "operator", "zeta"`, pgclient.ErrInvalidRoles},
		{"a role name breaking out of quoting is refused before any lookup", in(map[string]string{"database": "app", "extra-user-roles": `x"; DROP ROLE y; --`}), pgclient.Request{},
			`database:7: role "x\"; DROP ROLE y; --" has '"'`, clientdb.ErrInvalidName},
		{"a changed database after being served is refused", pgclient.Input{RelationID: "database:7", ClientApp: "myapp",
			AppData: map[string]string{"database": "other"}, ServedDatabase: "app"}, pgclient.Request{},
			`database:7: requested database changed after it was served: served "app", now asks for "other"`, pgclient.ErrDatabaseChanged},
		{"a database with NUL is refused", in(map[string]string{"database": "a\x00b"}), pgclient.Request{},
			`database:7: database "a\x00b" contains NUL`, clientdb.ErrInvalidName},
		{"the maintenance database is refused", in(map[string]string{"database": "postgres"}), pgclient.Request{},
			`database "postgres" is reserved`, clientdb.ErrInvalidName},
		{"requested-secrets that is not a JSON list is refused", in(map[string]string{"database": "app", "requested-secrets": "username"}), pgclient.Request{},
			`requested-secrets "username" is not a JSON list of strings`, pgclient.ErrInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pgclient.ParseRequest(tc.in)
			if tc.wantErr != "" {
				var re *pgclient.RequestError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &re) || re.Relation != "database:7" {
					t.Fatalf("err = %v; want a RequestError containing %q", err, tc.wantErr)
				}
				if !errors.Is(err, tc.wantIs) {
					t.Errorf("err = %v; want it to wrap %v", err, tc.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
		})
	}
}
