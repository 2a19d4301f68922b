package pgconf

import (
	"net/netip"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzExtraPgConf checks the invariant that no extra_pg_conf text, valid or
// not, can change a charm-owned parameter or add anything but parameters to
// the rendered patroni.yml.
func FuzzExtraPgConf(f *testing.F) {
	for _, s := range []string{
		"work_mem = 64MB",
		"listen_addresses = '*'",
		"LISTEN_ADDRESSES='0.0.0.0'",
		"port 5432",
		"work_mem = '1MB'\nunix_socket_directories = '/tmp'",
		"log_line_prefix = 'x\"\n  listen_addresses: \"*'",
		"search_path = '\"$user\", public'",
		"pg_stat_statements.track = all",
		"archive_command = 'rm -rf /'",
		"max_connections = 5",
	} {
		f.Add(s)
	}
	cat := catalogue(f)
	f.Fuzz(func(t *testing.T, text string) {
		params, err := ParseExtraPgConf(text, cat)
		if err != nil {
			return
		}
		for k := range params {
			if _, fixed := FixedParameters[k]; fixed {
				t.Fatalf("fixed parameter %s accepted from %q", k, text)
			}
		}
		s, err := Validate(Options{ExtraPgConf: text}, cat, 4<<30)
		if err != nil {
			t.Fatalf("ParseExtraPgConf accepted %q but Validate refused it: %v", text, err)
		}
		cfg := UnitConfig{
			App: "postgresql", Unit: "postgresql/0", Address: netip.MustParseAddr("10.201.0.10"),
			Layout: DefaultLayout("", "postgresql/0", "/srv/pgdata"), PGVersion: "15", Settings: s,
			Passwords: testPasswords,
		}
		out, err := RenderPatroni(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			PostgreSQL struct {
				Listen     string            `yaml:"listen"`
				DataDir    string            `yaml:"data_dir"`
				Parameters map[string]string `yaml:"parameters"`
				PgHBA      []string          `yaml:"pg_hba"`
			} `yaml:"postgresql"`
			Bootstrap struct {
				DCS struct {
					PostgreSQL struct {
						Parameters map[string]string `yaml:"parameters"`
					} `yaml:"postgresql"`
				} `yaml:"dcs"`
			} `yaml:"bootstrap"`
		}
		dec := yaml.NewDecoder(strings.NewReader(out))
		dec.KnownFields(false)
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("rendered patroni.yml does not parse: %v\n%s", err, out)
		}
		pg := doc.PostgreSQL
		if pg.Listen != "10.201.0.10:5432" || pg.DataDir != "/srv/pgdata/pgdata" {
			t.Fatalf("listen or data_dir changed: %q %q", pg.Listen, pg.DataDir)
		}
		if got := pg.Parameters["unix_socket_directories"]; got != cfg.Layout.SocketDir {
			t.Fatalf("unix_socket_directories = %q", got)
		}
		if got := pg.Parameters["password_encryption"]; got != "scram-sha-256" {
			t.Fatalf("password_encryption = %q", got)
		}
		if got := doc.Bootstrap.DCS.PostgreSQL.Parameters["max_connections"]; got != "100" {
			t.Fatalf("max_connections = %q", got)
		}
		for _, m := range []map[string]string{pg.Parameters, doc.Bootstrap.DCS.PostgreSQL.Parameters} {
			for k := range m {
				owner, fixed := FixedParameters[k]
				if fixed && strings.HasPrefix(owner, "the charm") && params[k] != "" {
					t.Fatalf("fixed %s rendered from user input", k)
				}
				if _, user := params[k]; !user && !charmParameter(k) {
					t.Fatalf("unexpected parameter %s", k)
				}
			}
		}
		for _, l := range pg.PgHBA {
			if strings.Contains(l, "trust") {
				t.Fatalf("trust in pg_hba: %q", l)
			}
		}
	})
}

func charmParameter(k string) bool {
	switch k {
	case "unix_socket_directories", "password_encryption", "shared_buffers", "max_connections",
		"wal_level", "wal_log_hints", "max_wal_senders", "max_replication_slots", "hot_standby",
		"archive_mode", "archive_command":
		return true
	}
	return false
}
