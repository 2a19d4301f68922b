package pgconf

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/pki"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func catalogue(t testing.TB) Catalogue {
	t.Helper()
	f, err := os.Open("testdata/describe-config-15.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cat, err := ParseCatalogue(f)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

var testPasswords = Passwords{
	Operator: "op-secret", Replication: "repl-secret", Rewind: "rewind-secret",
	PatroniAPI: "api-secret", Etcd: "etcd-secret",
}

func unitConfig(t *testing.T, opts Options, peers ...Member) UnitConfig {
	t.Helper()
	s, err := Validate(opts, catalogue(t), 4<<30)
	if err != nil {
		t.Fatal(err)
	}
	return UnitConfig{
		App: "postgresql", Unit: "postgresql/0", Address: netip.MustParseAddr("10.201.0.10"),
		Peers: peers, Layout: DefaultLayout("", "postgresql/0", "/srv/pgdata"), PGVersion: "15",
		Settings: s, Passwords: testPasswords,
	}
}

func withGeneration(c UnitConfig, g string) UnitConfig {
	c.Passwords.Generation = g
	return c
}

// withTLS gives c a cluster CA: its etcd speaks TLS. Rendering reads only
// that there is one; the files name the paths.
func withTLS(c UnitConfig) UnitConfig {
	c.CA = pki.CA{CertPEM: []byte("a CA certificate"), KeyPEM: []byte("its key")}
	return c
}

func TestRenderGolden(t *testing.T) {
	three := []Member{
		{Unit: "postgresql/10", Address: netip.MustParseAddr("10.201.0.12")},
		{Unit: "postgresql/2", Address: netip.MustParseAddr("10.201.0.11")},
	}
	full := Options{
		AdminAddresses: "192.168.1.0/24, 10.0.0.5",
		ExtraPgConf:    "work_mem = '64MB'\nlog_min_duration_statement=250ms # slow queries\nmax_prepared_transactions = 10\nsearch_path = '\"$user\", public'",
		ExtraPgAuth:    "host all reporting 172.16.0.0/12 scram-sha-256\nhost all all 0.0.0.0/0 reject",
		ListenPort:     5433,
		MaxConnections: 200,
		SharedBuffers:  "1GB",
	}
	cases := []struct {
		name  string
		cfg   UnitConfig
		state string
	}{
		// standalone is an application deployed before etcd TLS: plain
		// HTTP; three-units has the cluster CA.
		{"standalone", unitConfig(t, Options{}), "new"},
		{"three-units", withTLS(withGeneration(unitConfig(t, full, three...), "3")), "existing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.EtcdInitialClusterState = tc.state
			p, err := RenderPatroni(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+"-patroni.yml", p)
			e, err := RenderEtcd(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+"-etcd.conf.yml", e)
			h, err := RenderHBA(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+"-pg_hba.conf", h)
			if strings.Contains(p+h, "trust") {
				t.Errorf("rendered files contain trust")
			}
		})
	}
}

func TestRenderDeterministic(t *testing.T) {
	cfg := unitConfig(t, Options{ExtraPgConf: "work_mem=1MB\nmaintenance_work_mem=64MB\ntemp_buffers=16MB\nlog_line_prefix='%m [%p] '"},
		Member{Unit: "postgresql/1", Address: netip.MustParseAddr("10.201.0.11")},
		Member{Unit: "postgresql/3", Address: netip.MustParseAddr("10.201.0.13")})
	first, err := RenderPatroni(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		cfg.Peers[0], cfg.Peers[1] = cfg.Peers[1], cfg.Peers[0]
		again, _ := RenderPatroni(cfg)
		if again != first {
			t.Fatalf("render %d differs:\n%s", i, cmp.Diff(first, again))
		}
	}
}

func TestValidate(t *testing.T) {
	cat := catalogue(t)
	cases := []struct {
		name   string
		opts   Options
		option string // the option the error names; "" for success
		reason string // substring of the reason
	}{
		{"defaults are valid", Options{}, "", ""},
		{"a malformed extra_pg_conf line", Options{ExtraPgConf: "work_mem"}, "extra_pg_conf", "not \"name = value\""},
		{"an unknown parameter", Options{ExtraPgConf: "no_such_thing = 1"}, "extra_pg_conf", "unknown parameter no_such_thing"},
		{"a charm-owned parameter", Options{ExtraPgConf: "listen_addresses = '*'"}, "extra_pg_conf", "listen_addresses is set by"},
		{"a charm-owned parameter in upper case", Options{ExtraPgConf: "Archive_Command = 'true'"}, "extra_pg_conf", "archive_command is set by"},
		{"a parameter with its own option", Options{ExtraPgConf: "shared_buffers = 1GB"}, "extra_pg_conf", "set by shared_buffers"},
		{"a read-only parameter (not in the catalogue)", Options{ExtraPgConf: "block_size = 16384"}, "extra_pg_conf", "unknown parameter block_size"},
		{"a boolean that is not one", Options{ExtraPgConf: "fsync = maybe"}, "extra_pg_conf", "not a boolean"},
		{"an integer out of range", Options{ExtraPgConf: "max_worker_processes = 1000000"}, "extra_pg_conf", "above the maximum"},
		{"an unknown unit", Options{ExtraPgConf: "work_mem = 64mb"}, "extra_pg_conf", "unknown unit"},
		{"trailing garbage", Options{ExtraPgConf: "work_mem = 64MB 32MB"}, "extra_pg_conf", "unexpected"},
		{"a control character in a value", Options{ExtraPgConf: `log_line_prefix = 'a\nb'`}, "extra_pg_conf", "control characters"},
		{"an unterminated quote", Options{ExtraPgConf: "log_line_prefix = 'abc"}, "extra_pg_conf", "unterminated"},
		// Issue 9: parameters that load code or write files as the server,
		// and C1 controls, which stop Patroni from loading its file.
		{"shared_preload_libraries", Options{ExtraPgConf: "shared_preload_libraries = 'evil'"}, "extra_pg_conf", "shared_preload_libraries may not be set here: it loads libraries"},
		{"session_preload_libraries", Options{ExtraPgConf: "session_preload_libraries = 'evil'"}, "extra_pg_conf", "may not be set here"},
		{"local_preload_libraries", Options{ExtraPgConf: "local_preload_libraries = 'evil'"}, "extra_pg_conf", "may not be set here"},
		{"dynamic_library_path", Options{ExtraPgConf: "dynamic_library_path = '/tmp'"}, "extra_pg_conf", "dynamic_library_path may not be set here"},
		{"jit_provider", Options{ExtraPgConf: "jit_provider = 'evil'"}, "extra_pg_conf", "may not be set here"},
		{"log_directory", Options{ExtraPgConf: "log_directory = '/etc'"}, "extra_pg_conf", "may not be set here"},
		{"log_file_mode", Options{ExtraPgConf: "log_file_mode = 0666"}, "extra_pg_conf", "may not be set here"},
		{"ssl_passphrase_command", Options{ExtraPgConf: "ssl_passphrase_command = 'id'"}, "extra_pg_conf", "may not be set here"},
		{"restore_command", Options{ExtraPgConf: "restore_command = 'id'"}, "extra_pg_conf", "restore_command is set by"},
		{"a C1 control character (U+0086)", Options{ExtraPgConf: "application_name = 'a\u0086b'"}, "extra_pg_conf", "control character U+0086"},
		{"a C1 control character in a comment", Options{ExtraPgConf: "work_mem = 64MB # \u0085"}, "extra_pg_conf", "control character U+0085"},
		{"an extension placeholder", Options{ExtraPgConf: "pg_stat_statements.track = all"}, "", ""},
		{"a bad CIDR", Options{AdminAddresses: "10.0.0.0/33"}, "admin_addresses", "not a CIDR"},
		{"a hostname as admin address", Options{AdminAddresses: "example.com"}, "admin_addresses", "not a CIDR"},
		{"a bad client network", Options{ClientNetworks: "192.0.2.0/40"}, "client_networks", "not a CIDR"},
		{"a client role with a control character", Options{ClientRoles: "pg_monitor, bad\u0085role"}, "client_roles", "control character"},
		{"a client role too long", Options{ClientRoles: strings.Repeat("r", 64)}, "client_roles", "longer than 63"},
		{"an admin application that is no application name", Options{AdminApplications: "good-app, Bad_App"}, "admin_applications", "not a Juju application name"},
		{"client networks", Options{ClientNetworks: "192.0.2.0/24, 2001:db8::/32"}, "", ""},
		{"a trust rule", Options{ExtraPgAuth: "host all all 10.0.0.0/8 trust"}, "extra_pg_auth", "trust is refused"},
		{"an md5 rule", Options{ExtraPgAuth: "host all all 10.0.0.0/8 md5"}, "extra_pg_auth", "method md5 is refused"},
		{"a peer rule", Options{ExtraPgAuth: "local all all peer"}, "extra_pg_auth", "method peer is refused"},
		{"a samenet rule", Options{ExtraPgAuth: "host all all samenet scram-sha-256"}, "extra_pg_auth", "not a CIDR"},
		{"an include", Options{ExtraPgAuth: "include /etc/passwd"}, "extra_pg_auth", "not allowed"},
		{"an @file", Options{ExtraPgAuth: "host all @admins 10.0.0.0/8 scram-sha-256"}, "extra_pg_auth", "@file"},
		{"an unknown option", Options{ExtraPgAuth: "host all all 10.0.0.0/8 scram-sha-256 map=x"}, "extra_pg_auth", "not allowed"},
		{"a reject rule", Options{ExtraPgAuth: "host all all 10.0.0.0/8 reject"}, "", ""},
		{"a port too low", Options{ListenPort: 80}, "listen_port", "outside 1024–65535"},
		{"a port too high", Options{ListenPort: 70000}, "listen_port", "outside"},
		{"too few connections", Options{MaxConnections: 3}, "max_connections", "outside 10–262143"},
		{"shared_buffers without a known unit", Options{SharedBuffers: "1gb"}, "shared_buffers", "unknown unit"},
		{"shared_buffers not a number", Options{SharedBuffers: "lots"}, "shared_buffers", "not a memory size"},
		{"shared_buffers above memory", Options{SharedBuffers: "64GB"}, "shared_buffers", "machine's memory"},
		{"shared_buffers in blocks", Options{SharedBuffers: "16384"}, "", ""},
		{"a bad locale", Options{Locale: "en US"}, "locale", "not a locale"},
		{"a bad encoding", Options{Encoding: "EBCDIC"}, "encoding", "not a PostgreSQL server encoding"},
		{"a mismatched encoding", Options{Locale: "en_US.UTF-8", Encoding: "LATIN1"}, "encoding", "does not match"},
		{"C goes with any encoding", Options{Locale: "C", Encoding: "latin1"}, "", ""},
		{"listen_port on Patroni's REST API port", Options{ListenPort: 8008}, "listen_port", "8008 is used by Patroni's REST API"},
		{"listen_port on etcd's client port", Options{ListenPort: 2379}, "listen_port", "2379 is used by etcd's client endpoint"},
		{"listen_port on etcd's peer port", Options{ListenPort: 2380}, "listen_port", "2380 is used by etcd's peer endpoint"},
		{"config.yaml's defaults as Juju hands them over", DefaultOptions(), "", ""},
		{"an explicit 0 listen_port from Juju is the user's, not the default",
			fromJuju(func(o *Options) { o.ListenPort = 0 }), "listen_port", "0 is outside 1024–65535"},
		{"an explicit 0 max_connections from Juju is the user's, not the default",
			fromJuju(func(o *Options) { o.MaxConnections = 0 }), "max_connections", "0 is outside 10–262143"},
		{"an explicit empty locale from Juju", fromJuju(func(o *Options) { o.Locale = "" }), "locale", `"" is not a locale name`},
		{"an explicit empty encoding from Juju", fromJuju(func(o *Options) { o.Encoding = "" }), "encoding", `"" is not a PostgreSQL server encoding`},
		{"an empty shared_buffers from Juju is sized from memory", fromJuju(func(o *Options) { o.SharedBuffers = "" }), "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate(tc.opts, cat, 4<<30)
			if tc.option == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("want an *OptionError for %s, got %v", tc.option, err)
			}
			if oe.Option != tc.option || !strings.Contains(oe.Reason, tc.reason) {
				t.Errorf("got %q, want option %s with reason containing %q", err, tc.option, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), "invalid "+tc.option+": ") {
				t.Errorf("message %q does not name the option first", err)
			}
		})
	}
}

// fromJuju is DefaultOptions changed by mod.
func fromJuju(mod func(*Options)) Options {
	o := DefaultOptions()
	mod(&o)
	return o
}

func TestCheckLocaleAvailable(t *testing.T) {
	ubuntu := []string{"C", "C.utf8", "POSIX", "en_US.utf8", "de_DE@euro", "fr_FR", "sr_RS.utf8@latin"}
	for _, tc := range []struct {
		name      string
		locale    string
		available []string
		ok        bool
	}{
		{"the default on a machine that lists nothing", "", nil, true},
		{"C.UTF-8 is built in", "C.UTF-8", nil, true},
		{"C.utf8 is C.UTF-8", "C.utf8", nil, true},
		{"C is built in", "C", nil, true},
		{"POSIX is built in", "POSIX", nil, true},
		{"UTF-8 matches utf8", "en_US.UTF-8", ubuntu, true},
		{"utf8 matches utf8", "en_US.utf8", ubuntu, true},
		{"the codeset's case does not matter", "en_US.Utf8", ubuntu, true},
		{"a made-up locale", "xx_YY.UTF-8", ubuntu, false},
		{"an installed language with a missing codeset", "en_US.ISO-8859-1", ubuntu, false},
		{"the territory's case matters", "en_us.UTF-8", ubuntu, false},
		{"a locale without a codeset", "fr_FR", ubuntu, true},
		{"a locale without a codeset that is not generated", "en_US", ubuntu, false},
		{"a modifier", "de_DE@euro", ubuntu, true},
		{"a codeset and a modifier", "sr_RS.UTF-8@latin", ubuntu, true},
		{"a codeset without the listed modifier", "sr_RS.UTF-8", ubuntu, false},
		{"surrounding spaces in a listed name", "en_US.UTF-8", []string{" en_US.utf8 "}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLocaleAvailable(tc.locale, tc.available)
			if tc.ok {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			want := "invalid locale: " + tc.locale + " is not available on this machine (see locale -a)"
			var oe *OptionError
			if !errors.As(err, &oe) || err.Error() != want {
				t.Errorf("got %v, want %q", err, want)
			}
		})
	}
}

func TestValidateReportsEveryOption(t *testing.T) {
	_, err := Validate(Options{ListenPort: 1, AdminAddresses: "x", ExtraPgAuth: "local all all trust"}, catalogue(t), 1<<30)
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		got = append(got, e.(*OptionError).Option)
	}
	if diff := cmp.Diff([]string{"listen_port", "admin_addresses", "extra_pg_auth"}, got); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
}

func TestDefaultSharedBuffers(t *testing.T) {
	for _, tc := range []struct {
		mem  uint64
		want string
	}{
		{0, "128MB"},
		{256 << 20, "128MB"},
		{4 << 30, "1024MB"},
		{24 << 30, "6144MB"},
		{256 << 30, "8192MB"},
	} {
		if got := DefaultSharedBuffers(tc.mem); got != tc.want {
			t.Errorf("DefaultSharedBuffers(%d) = %s, want %s", tc.mem, got, tc.want)
		}
	}
}

func TestParseExtraPgConfValues(t *testing.T) {
	got, err := ParseExtraPgConf("# comment\n\nwork_mem 4MB\nlog_line_prefix = '%m ''x'' \\' '  # c\nWORK_MEM=8MB\r\n", catalogue(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"work_mem": "8MB", "log_line_prefix": "%m 'x' ' "}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCatalogue(t *testing.T) {
	cat := catalogue(t)
	if len(cat) < 300 {
		t.Errorf("catalogue has %d parameters", len(cat))
	}
	if !cat.RequiresRestart("shared_buffers") || cat.RequiresRestart("work_mem") || cat.RequiresRestart("log_min_duration_statement") {
		t.Errorf("RequiresRestart is wrong")
	}
	if p := cat["max_connections"]; p.Min != "1" || p.Max != "262143" || p.Type != TypeInteger {
		t.Errorf("max_connections = %+v", p)
	}
}

func TestYAMLQuote(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:       `"plain"`,
		"a\"b\nc: #d": `"a\"b\nc: #d"`,
		"<&>":         `"<&>"`,
		"\x00\xff":    `"\u0000\ufffd"`,
	} {
		if got := yamlQuote(in); got != want {
			t.Errorf("yamlQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
