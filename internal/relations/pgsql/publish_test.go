package pgsql_test

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/relations/pgsql"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// golden compares got with testdata/<name>.golden, or rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s: -want +got\n%s", path, diff)
	}
}

// renderBag prints a databag as the charm would write it, one key a line,
// sorted, values Go-quoted; keys to delete show as "(delete)".
func renderBag(bag map[string]string) string {
	keys := make([]string, 0, len(bag))
	for k := range bag {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		v := strconv.Quote(bag[k])
		if bag[k] == "" {
			v = "(delete)"
		}
		b.WriteString(k + ": " + v + "\n")
	}
	return b.String()
}

func TestRenderUnitData(t *testing.T) {
	pfx := netip.MustParsePrefix
	cred := pgsql.Credentials{User: "relation_5_pg_client", Password: "Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy"}
	req := pgsql.Request{RelationID: "db:5", Endpoint: pgsql.EndpointDB, ClientApp: "pg-client", User: cred.User,
		Database: "app", DatabaseRequested: true, Roles: []string{"analytics"}, RolesEcho: "analytics",
		ExtensionsEcho: "citext,pg_trgm"}
	admin := req
	admin.RelationID, admin.Endpoint, admin.RolesEcho, admin.ExtensionsEcho = "db-admin:6", pgsql.EndpointDBAdmin, "", ""
	primary := &pgsql.Address{Host: "10.0.0.10", Port: 5432}
	twoUnits := []pgsql.ClientUnit{
		{Unit: "pg-client/1", Subnets: []netip.Prefix{pfx("10.0.0.22/32")}},
		{Unit: "pg-client/0", Subnets: []netip.Prefix{pfx("10.0.0.21/32")}},
	}
	for _, tc := range []struct {
		name    string
		req     pgsql.Request
		srv     pgsql.Server
		cred    pgsql.Credentials
		allowed []pgsql.ClientUnit
	}{
		{"standalone-one-client", req,
			pgsql.Server{Self: *primary, State: pgsql.StateStandalone, Version: "15", Primary: primary}, cred, twoUnits[1:]},
		{"hot-standby-as-in-interfaces-A10", req,
			pgsql.Server{Self: pgsql.Address{Host: "10.0.0.11", Port: 5432}, State: pgsql.StateHotStandby, Version: "16", Primary: primary,
				Standbys: []pgsql.Address{{Host: "10.0.0.12", Port: 5432}, {Host: "10.0.0.11", Port: 5432}}}, cred, twoUnits},
		{"db-admin-has-no-schema-user", admin,
			pgsql.Server{Self: *primary, State: pgsql.StateMaster, Version: "15.10", Primary: primary,
				Standbys: []pgsql.Address{{Host: "10.0.0.11", Port: 5432}}}, cred, twoUnits},
		{"primary-unknown-during-failover", req,
			pgsql.Server{Self: pgsql.Address{Host: "10.0.0.11", Port: 5432}, State: pgsql.StateUnknown, Version: "15"}, cred, twoUnits},
		{"no-client-admitted-yet-withdraws-everything", req,
			pgsql.Server{Self: *primary, State: pgsql.StateStandalone, Version: "15", Primary: primary}, cred, nil},
		{"password-needing-quotes", req,
			pgsql.Server{Self: *primary, State: pgsql.StateStandalone, Version: "15", Primary: primary},
			pgsql.Credentials{User: cred.User, Password: `it's a \ pass`}, twoUnits},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pgsql.RenderUnitData(tc.req, tc.srv, tc.cred, tc.allowed)
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, pgsql.UnitKeys) {
				t.Errorf("keys %v, want exactly UnitKeys %v", keys, pgsql.UnitKeys)
			}
			golden(t, tc.name, renderBag(got))
		})
	}
}

func TestConninfoValue(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a plain value stays bare", "10.0.0.5", "10.0.0.5"},
		{"an empty value is quoted", "", "''"},
		{"a space needs quotes", "a b", "'a b'"},
		{"quotes and backslashes are escaped", `it's \`, `'it\'s \\'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pgsql.ConninfoValue(tc.in); got != tc.want {
				t.Errorf("ConninfoValue(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzConninfo: libpq's parser (pgx's copy of it) reads back exactly what
// Conninfo wrote, whatever the password and database.
func FuzzConninfo(f *testing.F) {
	f.Add("app", "Xy7", "relation_5_app")
	f.Add("my db", `it's \ x`, "u")
	f.Add("", "a=b c", "user'x")
	f.Fuzz(func(t *testing.T, db, password, user string) {
		if db == "" || user == "" || strings.ContainsRune(db+password+user, 0) {
			return // libpq cannot carry NUL; names are never empty
		}
		s := pgsql.Conninfo(pgsql.Address{Host: "10.0.0.5", Port: 5432}, db, pgsql.Credentials{User: user, Password: password})
		cfg, err := pgconn.ParseConfig(s)
		if err != nil {
			t.Fatalf("parsing %q: %v", s, err)
		}
		if cfg.Database != db || cfg.Password != password || cfg.User != user || cfg.Host != "10.0.0.5" || cfg.Port != 5432 {
			t.Errorf("%q read back as db %q user %q password %q", s, cfg.Database, cfg.User, cfg.Password)
		}
	})
}

func TestHBARules(t *testing.T) {
	units := []pgsql.ClientUnit{
		{Unit: "app/1", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.22/32")}},
		{Unit: "app/0", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.21/32")}},
	}
	rule := func(db, addr string) pgconf.HBARule {
		return pgconf.HBARule{Type: "host", Database: db, User: "relation_5_app", Address: addr, Method: "scram-sha-256"}
	}
	for _, tc := range []struct {
		name string
		req  pgsql.Request
		want []pgconf.HBARule
	}{
		{"db admits the user to its database from each unit",
			pgsql.Request{Endpoint: pgsql.EndpointDB, User: "relation_5_app", Database: "app"},
			[]pgconf.HBARule{rule("app", "10.0.0.21/32"), rule("app", "10.0.0.22/32")}},
		{"db-admin admits the user to every database",
			pgsql.Request{Endpoint: pgsql.EndpointDBAdmin, User: "relation_5_app", Database: "app"},
			[]pgconf.HBARule{rule("all", "10.0.0.21/32"), rule("all", "10.0.0.22/32")}},
		{"a db client's database named all admits only that database",
			pgsql.Request{Endpoint: pgsql.EndpointDB, User: "relation_5_app", Database: "all"},
			[]pgconf.HBARule{rule(`"all"`, "10.0.0.21/32"), rule(`"all"`, "10.0.0.22/32")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, pgsql.HBARules(tc.req, units)); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
		})
	}
}

func TestClientUnits(t *testing.T) {
	got, skipped := pgsql.ClientUnits(map[string]map[string]string{
		"app/10": {"egress-subnets": "10.0.0.30/32"},
		"app/2":  {"ingress-address": "10.0.0.2"},
		"app/3":  {},
	}, nil)
	want := []pgsql.ClientUnit{
		{Unit: "app/2", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}},
		{Unit: "app/10", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.30/32")}},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("-want +got\n%s", diff)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0].Error(), "unit app/3") {
		t.Errorf("skipped = %v, want app/3", skipped)
	}
}
