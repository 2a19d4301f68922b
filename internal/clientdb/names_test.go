package clientdb_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		wantErr     string // substring; "" means accepted
	}{
		{"a plain name is accepted", "app", ""},
		{"a Juju application name with hyphens is accepted", "pg-client-2", ""},
		{"uuid-ossp, an extension name with a hyphen, is accepted", "uuid-ossp", ""},
		{"letters of other scripts are accepted", "données", ""},
		{"dollar and dot after the first character are accepted", "a$b.c", ""},
		{"exactly 63 bytes is accepted", strings.Repeat("a", 63), ""},
		{"an empty name is refused", "", "is empty"},
		{"64 bytes is refused", strings.Repeat("a", 64), "is 64 bytes long"},
		{"invalid UTF-8 is refused", "ab\xffc", "not valid UTF-8"},
		{"NUL is refused", "a\x00b", "contains NUL"},
		{"a quote breaking out of an identifier is refused", `x"; DROP DATABASE y; --`, `has '"' at byte 1`},
		{"a space is refused", "my db", "has ' '"},
		{"a comma (a list in pg_hba) is refused", "a,b", "has ','"},
		{"a leading digit is refused", "1app", "has '1' at byte 0"},
		{"a leading hyphen is refused", "-app", "has '-' at byte 0"},
		{"a right-to-left override is refused", "ab\u202ecd", `has '\u202e'`},
		{"a newline is refused", "a\nb", `has '\n'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := clientdb.CheckName(clientdb.KindDatabase, tc.value)
			checkErr(t, err, tc.wantErr)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("refused: %v", err)
	case want != "" && err == nil:
		t.Errorf("accepted; want error containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q; want it to contain %q", err, want)
	case want != "" && !errors.Is(err, clientdb.ErrInvalidName):
		t.Errorf("error %v does not wrap ErrInvalidName", err)
	}
}

func TestClientRolesAndDatabases(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		check       func(string) error
		wantErr     string
	}{
		{"a new role name is accepted", "analytics", clientdb.CheckClientRole, ""},
		{"pg_monitor, an observation role, is accepted", "pg_monitor", clientdb.CheckClientRole, ""},
		{"pg_read_all_data passes the name check (granting it is client_roles' decision)", "pg_read_all_data", clientdb.CheckClientRole, ""},
		{"the charm's operator is refused", "operator", clientdb.CheckClientRole, "is reserved"},
		{"PUBLIC in any case is refused", "PUBLIC", clientdb.CheckClientRole, "is reserved"},
		{"a relation user's name is refused", "relation_9_other", clientdb.CheckClientRole, "prefix reserved"},
		{"the admin group role is refused", clientdb.AdminRole, clientdb.CheckClientRole, "prefix reserved"},
		{"a database name is accepted", "app", func(s string) error { return clientdb.CheckClientDatabase(s, false) }, ""},
		{"template1 is refused", "template1", func(s string) error { return clientdb.CheckClientDatabase(s, true) }, "is reserved"},
		{"postgres is refused on db", "postgres", func(s string) error { return clientdb.CheckClientDatabase(s, false) }, "is reserved"},
		{"postgres is accepted on db-admin", "postgres", func(s string) error { return clientdb.CheckClientDatabase(s, true) }, ""},
		{"a schema is accepted", "myschema", clientdb.CheckSchema, ""},
		{"pg_catalog as a schema is refused", "pg_catalog", clientdb.CheckSchema, "is reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkErr(t, tc.check(tc.value), tc.wantErr) })
	}
}

func TestDisplay(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a plain value is quoted", "app", `"app"`},
		{"quotes and control characters are escaped", "a\"b\nc\x00", `"a\"b\nc\x00"`},
		{"invalid UTF-8 is escaped", "\xff", `"\xff"`},
		{"a long value is cut with an ellipsis", strings.Repeat("a", 50), `"` + strings.Repeat("a", 40) + `…"`},
		{"a cut never splits a rune", strings.Repeat("a", 39) + "é", `"` + strings.Repeat("a", 39) + `…"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := clientdb.Display(tc.in); got != tc.want {
				t.Errorf("Display(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzDisplay(f *testing.F) {
	for _, s := range []string{"app", "x\"; DROP", "\xff\x00\n", strings.Repeat("é", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := clientdb.Display(s)
		if !utf8.ValidString(d) || strings.ContainsAny(d, "\n\r\x00") || len(d) > 60 {
			t.Errorf("Display(%q) = %q: not one short valid line", s, d)
		}
	})
}

// FuzzCheckName: whatever CheckName accepts is safe in SQL and pg_hba
// without further thought.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"app", `x"; DROP DATABASE y; --`, "a b", "données", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if clientdb.CheckName(clientdb.KindRole, s) != nil {
			return
		}
		if !utf8.ValidString(s) || len(s) == 0 || len(s) > 63 || strings.ContainsAny(s, "\"',;@+ \t\n\r\x00\\") {
			t.Errorf("CheckName accepted %q", s)
		}
	})
}

func TestRelationUser(t *testing.T) {
	for _, tc := range []struct{ name, id, app, want, wantErr string }{
		{"the id and the application make the name", "db:5", "pg-client", "relation_5_pg_client", ""},
		{"the endpoint does not matter: ids are unique in a model", "database:12", "app", "relation_12_app", ""},
		{"a long application name is cut to 63 bytes", "db:123", strings.Repeat("x", 80), "relation_123_" + strings.Repeat("x", 50), ""},
		{"odd characters become underscores", "db-admin:3", "Web.App", "relation_3_web_app", ""},
		{"a malformed id is refused", "db", "app", "", "want <endpoint>:<number>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := clientdb.RelationUser(tc.id, tc.app)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
			if clientdb.CheckName(clientdb.KindRole, got) != nil || len(got) > 63 {
				t.Errorf("%q is not a valid role name", got)
			}
		})
	}
}

func TestHBARules(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name, db, user string
		subnets        []netip.Prefix
		want           []pgconf.HBARule
	}{
		{"one rule per subnet, sorted, duplicates dropped", "app", "relation_5_app",
			[]netip.Prefix{p("10.0.0.22/32"), p("10.0.0.3/32"), p("10.0.0.22/32")},
			[]pgconf.HBARule{
				{Type: "host", Database: "app", User: "relation_5_app", Address: "10.0.0.3/32", Method: "scram-sha-256"},
				{Type: "host", Database: "app", User: "relation_5_app", Address: "10.0.0.22/32", Method: "scram-sha-256"},
			}},
		{"db-admin admits all databases", clientdb.AllDatabases, "relation_3_admin", []netip.Prefix{p("fd00::5/128")},
			[]pgconf.HBARule{{Type: "host", Database: "all", User: "relation_3_admin", Address: "fd00::5/128", Method: "scram-sha-256"}}},
		{"a client database named all is quoted and admits only itself", "all", "relation_5_app", []netip.Prefix{p("10.0.0.3/32")},
			[]pgconf.HBARule{{Type: "host", Database: `"all"`, User: "relation_5_app", Address: "10.0.0.3/32", Method: "scram-sha-256"}}},
		{"a database named like a keyword is quoted", "replication", "relation_5_app", []netip.Prefix{p("10.0.0.3/32")},
			[]pgconf.HBARule{{Type: "host", Database: `"replication"`, User: "relation_5_app", Address: "10.0.0.3/32", Method: "scram-sha-256"}}},
		{"a database with letters of other scripts is quoted", "données", "relation_5_app", []netip.Prefix{p("10.0.0.3/32")},
			[]pgconf.HBARule{{Type: "host", Database: `"données"`, User: "relation_5_app", Address: "10.0.0.3/32", Method: "scram-sha-256"}}},
		{"no subnets, no rules", "app", "relation_5_app", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, clientdb.HBARules(tc.db, tc.user, tc.subnets)); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
		})
	}
}

func TestClientSubnets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		bag     map[string]string
		want    string
		wantErr string
	}{
		{"egress-subnets win, sorted and masked", map[string]string{"egress-subnets": "10.0.1.7/32, 10.0.0.5/32", "ingress-address": "10.9.9.9"}, "[10.0.0.5/32 10.0.1.7/32]", ""},
		// Issue 9: a unit writes its own egress-subnets.
		{"a network wider than one address is refused", map[string]string{"egress-subnets": "0.0.0.0/0"}, "", "0.0.0.0/0 is wider than one address"},
		{"even a /31", map[string]string{"egress-subnets": "10.0.0.4/31"}, "", "wider than one address"},
		{"within client_networks a wider network is taken", map[string]string{"egress-subnets": "10.7.0.7/24, 10.0.0.5/32"}, "[10.0.0.5/32 10.7.0.0/24]", ""},
		{"a network that holds client_networks is not within it", map[string]string{"egress-subnets": "10.0.0.0/8"}, "", "not within client_networks"},
		{"without egress-subnets the ingress address is a /32", map[string]string{"ingress-address": "10.0.0.5", "private-address": "10.9.9.9"}, "[10.0.0.5/32]", ""},
		{"an IPv6 private address is a /128", map[string]string{"private-address": "fd00::1"}, "[fd00::1/128]", ""},
		{"a hostname is refused", map[string]string{"ingress-address": "client.example"}, "", "not an IP address"},
		{"a broken CIDR is refused", map[string]string{"egress-subnets": "10.0.0.5/33"}, "", "not a CIDR"},
		{"an empty bag is refused", map[string]string{}, "", "no egress-subnets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := clientdb.ClientSubnets(tc.bag, []netip.Prefix{netip.MustParsePrefix("10.7.0.0/16")})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := fmtPrefixes(got); s != tc.want {
				t.Errorf("got %s, want %s", s, tc.want)
			}
		})
	}
}

func fmtPrefixes(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestCompareUnits(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		want int
	}{
		{"unit numbers compare as numbers", "app/2", "app/10", -1},
		{"applications compare first", "b/0", "a/9", 1},
		{"equal names are equal", "app/1", "app/1", 0},
		{"malformed names compare as text", "app", "app/1", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := clientdb.CompareUnits(tc.a, tc.b)
			if (got < 0) != (tc.want < 0) || (got > 0) != (tc.want > 0) {
				t.Errorf("CompareUnits(%q, %q) = %d, want sign of %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}
