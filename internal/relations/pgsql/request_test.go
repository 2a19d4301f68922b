package pgsql_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/relations/pgsql"
)

func TestParseRequest(t *testing.T) {
	type bags = map[string]map[string]string
	for _, tc := range []struct {
		name    string
		in      pgsql.Input
		want    pgsql.Request
		wantErr string // substring of the error; the request is then ignored
		wantIs  error
	}{
		{
			name: "a v0 client that sends nothing gets a database named after its application",
			in:   pgsql.Input{RelationID: "db:5", ClientApp: "pg-client", UnitData: bags{"pg-client/0": {}}},
			want: pgsql.Request{RelationID: "db:5", Endpoint: "db", ClientApp: "pg-client", User: "relation_5_pg_client", Database: "pg-client"},
		},
		{
			name: "a v2 client's app databag wins over its units",
			in: pgsql.Input{RelationID: "db:5", ClientApp: "app",
				AppData:  map[string]string{"database": "fromapp", "roles": "pos,management", "extensions": "citext"},
				UnitData: bags{"app/0": {"database": "fromunit", "roles": "other"}}},
			want: pgsql.Request{RelationID: "db:5", Endpoint: "db", ClientApp: "app", User: "relation_5_app",
				Database: "fromapp", DatabaseRequested: true, Roles: []string{"management", "pos"}, RolesEcho: "pos,management",
				Extensions: []clientdb.Extension{{Name: "citext", Schema: "public"}}, ExtensionsEcho: "citext"},
		},
		{
			name: "without an app databag the first unit in number order that has the key is read, per key",
			in: pgsql.Input{RelationID: "db:5", ClientApp: "app", UnitData: bags{
				"app/10": {"database": "ten", "roles": "r10"},
				"app/2":  {"roles": "r2"},
				"app/3":  {"database": "three"},
			}},
			want: pgsql.Request{RelationID: "db:5", Endpoint: "db", ClientApp: "app", User: "relation_5_app",
				Database: "three", DatabaseRequested: true, Roles: []string{"r2"}, RolesEcho: "r2"},
		},
		{
			name: "extensions in both schema forms, with blanks, are parsed and echoed byte for byte",
			in: pgsql.Input{RelationID: "db:5", ClientApp: "app", UnitData: bags{"app/0": {
				"extensions": "citext:myschema, pg_trgm(other) ,uuid-ossp,,citext:myschema"}}},
			want: pgsql.Request{RelationID: "db:5", Endpoint: "db", ClientApp: "app", User: "relation_5_app", Database: "app",
				Extensions:     []clientdb.Extension{{Name: "citext", Schema: "myschema"}, {Name: "pg_trgm", Schema: "other"}, {Name: "uuid-ossp", Schema: "public"}},
				ExtensionsEcho: "citext:myschema, pg_trgm(other) ,uuid-ossp,,citext:myschema"},
		},
		{
			name: "db-admin gets the same parse and a database defaulting to the application name",
			in:   pgsql.Input{RelationID: "db-admin:6", ClientApp: "monitor", UnitData: bags{"monitor/0": {}}},
			want: pgsql.Request{RelationID: "db-admin:6", Endpoint: "db-admin", ClientApp: "monitor", User: "relation_6_monitor", Database: "monitor"},
		},
		{
			name: "db-admin may name the maintenance database",
			in:   pgsql.Input{RelationID: "db-admin:6", ClientApp: "monitor", AppData: map[string]string{"database": "postgres"}},
			want: pgsql.Request{RelationID: "db-admin:6", Endpoint: "db-admin", ClientApp: "monitor", User: "relation_6_monitor", Database: "postgres", DatabaseRequested: true},
		},
		{
			name: "a client that names the database it was served is served again",
			in: pgsql.Input{RelationID: "db:5", ClientApp: "app", AppData: map[string]string{"database": "app_db"},
				Served: pgsql.Served{Database: "app_db", Requested: true}},
			want: pgsql.Request{RelationID: "db:5", Endpoint: "db", ClientApp: "app", User: "relation_5_app", Database: "app_db", DatabaseRequested: true},
		},
		{
			name: "a client whose database key vanished keeps the database it named",
			in: pgsql.Input{RelationID: "db:5", ClientApp: "app", UnitData: bags{"app/1": {}},
				Served: pgsql.Served{Database: "app_db", Requested: true}},
			want: pgsql.Request{RelationID: "db:5", Endpoint: "db", ClientApp: "app", User: "relation_5_app", Database: "app_db", DatabaseRequested: true},
		},
		{
			name: "a client served the default before its request arrived gets what it names",
			in: pgsql.Input{RelationID: "db:5", ClientApp: "app", UnitData: bags{"app/0": {"database": "late"}},
				Served: pgsql.Served{Database: "app"}},
			want: pgsql.Request{RelationID: "db:5", Endpoint: "db", ClientApp: "app", User: "relation_5_app", Database: "late", DatabaseRequested: true},
		},
		{
			name:    "a client that names another database after being served is refused",
			in:      pgsql.Input{RelationID: "db:5", ClientApp: "app", AppData: map[string]string{"database": "other"}, Served: pgsql.Served{Database: "app_db", Requested: true}},
			wantErr: `db:5: requested database changed after it was served: served "app_db", now asks for "other"`,
			wantIs:  pgsql.ErrDatabaseChanged,
		},
		{
			name:    "a database name breaking out of quoting is refused, naming the relation and the value",
			in:      pgsql.Input{RelationID: "db:5", ClientApp: "app", AppData: map[string]string{"database": `x"; DROP DATABASE y; --`}},
			wantErr: `db:5: database "x\"; DROP DATABASE y; --" has '"' at byte 1`,
			wantIs:  clientdb.ErrInvalidName,
		},
		{
			name:    "a database name longer than 63 bytes is refused",
			in:      pgsql.Input{RelationID: "db:5", ClientApp: "app", AppData: map[string]string{"database": strings.Repeat("d", 64)}},
			wantErr: "is 64 bytes long",
			wantIs:  clientdb.ErrInvalidName,
		},
		{
			name:    "a role name that is not UTF-8 is refused",
			in:      pgsql.Input{RelationID: "db:5", ClientApp: "app", AppData: map[string]string{"roles": "ok,bad\xff"}},
			wantErr: `db:5: role "bad\xff" is not valid UTF-8`,
			wantIs:  clientdb.ErrInvalidName,
		},
		{
			name:    "a role naming the charm's superuser is refused",
			in:      pgsql.Input{RelationID: "db:5", ClientApp: "app", AppData: map[string]string{"roles": "operator"}},
			wantErr: `role "operator" is reserved`,
			wantIs:  clientdb.ErrInvalidName,
		},
		{
			name:    "an extension with an unbalanced schema is refused",
			in:      pgsql.Input{RelationID: "db:5", ClientApp: "app", AppData: map[string]string{"extensions": "citext(x"}},
			wantErr: `extension "citext(x" has '('`,
			wantIs:  clientdb.ErrInvalidName,
		},
		{
			name:    "an extension in a pg_ schema is refused",
			in:      pgsql.Input{RelationID: "db:5", ClientApp: "app", AppData: map[string]string{"extensions": "citext:pg_catalog"}},
			wantErr: `schema "pg_catalog" is reserved`,
			wantIs:  clientdb.ErrInvalidName,
		},
		{
			name:    "one extension asked in two schemas is refused",
			in:      pgsql.Input{RelationID: "db:5", ClientApp: "app", AppData: map[string]string{"extensions": "citext:a,citext(b)"}},
			wantErr: `extension "citext" requested in schemas "a" and "b"`,
			wantIs:  pgsql.ErrInvalidRequest,
		},
		{
			name:    "the template databases are refused",
			in:      pgsql.Input{RelationID: "db:5", ClientApp: "app", AppData: map[string]string{"database": "template1"}},
			wantErr: `database "template1" is reserved`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pgsql.ParseRequest(tc.in)
			if tc.wantErr != "" {
				var re *pgsql.RequestError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &re) || re.Relation != tc.in.RelationID {
					t.Fatalf("err = %v; want a RequestError for %s containing %q", err, tc.in.RelationID, tc.wantErr)
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
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
