package pgclient_test

import (
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/relations/pgclient"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

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

func TestPublish(t *testing.T) {
	cred := pgclient.Credentials{User: "relation_7_myapp", Password: "Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy"}
	req := pgclient.Request{RelationID: "database:7", ClientApp: "myapp", User: cred.User, Database: "app"}
	secretReq := req
	secretReq.RequestedSecrets = []string{"entity-name", "entity-password", "password", "read-only-uris", "tls", "tls-ca", "uris", "username"}
	onlyCreds := req
	onlyCreds.RequestedSecrets = []string{"password", "username"}
	three := pgclient.Cluster{Primary: pgclient.Address{Host: "10.0.0.5", Port: 5432}, Version: "15.10",
		Replicas: []pgclient.Address{{Host: "10.0.0.7", Port: 5432}, {Host: "10.0.0.10", Port: 5432}, {Host: "10.0.0.6", Port: 5432}}}
	single := pgclient.Cluster{Primary: pgclient.Address{Host: "10.0.0.5", Port: 5432}, Version: "15.10"}
	tls := single
	tls.TLS, tls.TLSCA = true, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
	uris := func(req pgclient.Request, c pgclient.Cluster) map[pgclient.SecretGroup]string {
		out := map[pgclient.SecretGroup]string{}
		for g := range pgclient.RenderSecrets(req, c, cred, true) {
			out[g] = "secret://4a3c/" + string(g) + "-id"
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		req     pgclient.Request
		cluster pgclient.Cluster
		secrets bool
	}{
		{"plain-fields-single-unit", req, single, false},
		{"plain-fields-three-units", req, three, false},
		{"secrets-library-default-three-units", secretReq, three, true},
		{"secrets-only-credentials-requested", onlyCreds, single, true},
		{"secrets-with-tls", secretReq, tls, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var u map[pgclient.SecretGroup]string
			if tc.secrets {
				u = uris(tc.req, tc.cluster)
			}
			data := pgclient.RenderAppData(tc.req, tc.cluster, cred, u)
			var keys []string
			for k := range data {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, pgclient.AppKeys) {
				t.Errorf("keys %v, want AppKeys", keys)
			}
			for k := range data {
				if data[k] == "" {
					delete(data, k)
				}
			}
			out, err := json.MarshalIndent(map[string]any{
				"databag": data,
				"secrets": pgclient.RenderSecrets(tc.req, tc.cluster, cred, tc.secrets),
			}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, string(out)+"\n")
		})
	}
}

func TestUseSecrets(t *testing.T) {
	asked := pgclient.Request{RequestedSecrets: []string{"username"}}
	for _, tc := range []struct {
		name      string
		req       pgclient.Request
		available bool
		current   map[string]string
		want      bool
	}{
		{"a requirer asking, on a Juju with secrets, gets secrets", asked, true, nil, true},
		{"a requirer asking nothing gets plain fields", pgclient.Request{}, true, nil, false},
		{"Juju 2.9 gives plain fields", asked, false, nil, false},
		{"a relation that started on plain fields stays on them", asked, true, map[string]string{"username": "relation_7_myapp"}, false},
		{"a relation already on secrets stays on them", asked, true, map[string]string{"secret-user": "secret://x"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pgclient.UseSecrets(tc.req, tc.available, tc.current); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSecretGroupLabel(t *testing.T) {
	if got := pgclient.GroupUser.Label("database:7"); got != "database.7.user.secret" {
		t.Errorf("label %q", got)
	}
}

// FuzzURI: libpq's URI parser (pgx's) reads back what URI wrote.
func FuzzURI(f *testing.F) {
	f.Add("relation_7_app", "Xy7", "app", 2)
	f.Add("u", "p@ss:/w?#%", "my db/x", 1)
	f.Fuzz(func(t *testing.T, user, password, db string, n int) {
		if user == "" || db == "" || strings.ContainsRune(user+password+db, 0) || n < 1 || n > 3 {
			return
		}
		hosts := []pgclient.Address{{Host: "10.0.0.6", Port: 5432}, {Host: "fd00::7", Port: 5433}, {Host: "10.0.0.8", Port: 5434}}[:n]
		s := pgclient.URI(pgclient.Credentials{User: user, Password: password}, hosts, db)
		cfg, err := pgconn.ParseConfig(s)
		if err != nil {
			t.Fatalf("parsing %q: %v", s, err)
		}
		if cfg.User != user || cfg.Password != password || cfg.Database != db {
			t.Errorf("%q read back as user %q password %q db %q", s, cfg.User, cfg.Password, cfg.Database)
		}
		got := []pgclient.Address{{Host: cfg.Host, Port: int(cfg.Port)}}
		for _, fb := range cfg.Fallbacks {
			got = append(got, pgclient.Address{Host: fb.Host, Port: int(fb.Port)})
		}
		got = slices.Compact(got) // pgx adds a TLS and a plain attempt per host
		if !slices.Equal(got, hosts) {
			t.Errorf("%q hosts read back as %v", s, got)
		}
	})
}

func TestHBARules(t *testing.T) {
	req := pgclient.Request{User: "relation_7_myapp", Database: "app"}
	units := []clientdb.ClientUnit{
		{Unit: "myapp/1", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.9/32")}},
		{Unit: "myapp/0", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.8/32"), netip.MustParsePrefix("10.0.0.9/32")}},
	}
	want := []pgconf.HBARule{
		{Type: "host", Database: "app", User: "relation_7_myapp", Address: "10.0.0.8/32", Method: "scram-sha-256"},
		{Type: "host", Database: "app", User: "relation_7_myapp", Address: "10.0.0.9/32", Method: "scram-sha-256"},
	}
	if diff := cmp.Diff(want, pgclient.HBARules(req, units)); diff != "" {
		t.Errorf("one rule per distinct subnet of the related units: -want +got\n%s", diff)
	}
}
