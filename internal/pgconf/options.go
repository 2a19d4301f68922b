package pgconf

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Options are the charm's configuration options as Juju hands them over
// (config.yaml). An empty SharedBuffers means "sized from memory"; for the
// other options with a default, what a zero value means depends on
// Complete.
type Options struct {
	AdminAddresses string // admin_addresses: comma-separated CIDRs
	// ClientNetworks (client_networks, comma-separated CIDRs) are where a
	// client unit's egress-subnets may be wider than one address.
	ClientNetworks string
	// ClientRoles (client_roles, comma-separated role names) are existing
	// roles, built-in or made by hand, that client relations may be
	// granted besides the roles the charm creates for `roles` requests.
	ClientRoles string
	// AdminApplications (admin_applications, comma-separated application
	// names) may have superuser, createrole or admin in extra-user-roles.
	AdminApplications string
	// IsolateDatabases (isolate_databases): a database serves only the
	// first application related to it.
	IsolateDatabases bool
	ExtraPgConf      string // extra_pg_conf: postgresql.conf lines
	ExtraPgAuth      string // extra_pg_auth: pg_hba.conf lines
	ListenPort       int    // listen_port: 1024–65535, default 5432
	MaxConnections   int    // max_connections: MinMaxConnections–MaxMaxConnections, default 100
	SharedBuffers    string // shared_buffers: PostgreSQL memory units; empty = sized from memory
	Locale           string // locale: initdb locale, default C.UTF-8
	Encoding         string // encoding: initdb encoding, default UTF8
	// Complete says every option with a default in config.yaml is
	// present, as Juju hands them over (config-get always includes the
	// defaults): a zero ListenPort or MaxConnections, or an empty Locale
	// or Encoding, is then the user's own value and is refused. Go
	// callers that set only some options leave it false, and their zero
	// values take the defaults.
	Complete bool
}

// DefaultOptions are the options as Juju hands them over when the user
// set none: config.yaml's defaults (a test in internal/charm holds the two
// together).
func DefaultOptions() Options {
	return Options{
		ListenPort: DefaultPostgresPort, MaxConnections: DefaultMaxConnections,
		Locale: DefaultLocale, Encoding: DefaultEncoding, Complete: true,
	}
}

// Limits and defaults of the options.
const (
	DefaultMaxConnections = 100
	// MinMaxConnections leaves room for superuser_reserved_connections (3),
	// Patroni's own connections and the replication connections.
	MinMaxConnections = 10
	// MaxMaxConnections is the server's own maximum.
	MaxMaxConnections = 262143
	DefaultLocale     = "C.UTF-8"
	DefaultEncoding   = "UTF8"
	// minSharedBuffers is PostgreSQL's floor (16 blocks of 8 kB).
	minSharedBuffers = 128 * 1024
	// maxDefaultSharedBuffers caps the memory-sized default: beyond 8 GB
	// the kernel page cache does the job better, and several units may share
	// a machine.
	maxDefaultSharedBuffers = 8 << 30
	// defaultSharedBuffersFloor is the default on a machine with little
	// memory (PostgreSQL's own default).
	defaultSharedBuffersFloor = 128 << 20
)

// OptionError is a configuration option the user must fix. Its message names
// the option and the reason and becomes the unit's Blocked status.
type OptionError struct {
	Option string
	Reason string
}

func (e *OptionError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Option, e.Reason) }

// reservedPorts are the unit's other listening ports, bound on the same
// address as PostgreSQL: listen_port cannot take them.
var reservedPorts = map[int]string{
	DefaultPatroniPort: "Patroni's REST API",
	EtcdClientPort:     "etcd's client endpoint",
	EtcdPeerPort:       "etcd's peer endpoint",
}

// Settings are validated options, ready to render.
type Settings struct {
	ListenPort     int
	MaxConnections int
	SharedBuffers  string // a value PostgreSQL accepts, e.g. "6027MB"
	Locale         string
	Encoding       string
	AdminAddresses []netip.Prefix // sorted, masked
	ClientNetworks []netip.Prefix // masked
	// ClientRoles and AdminApplications are sorted and without repeats.
	ClientRoles       []string
	AdminApplications []string
	IsolateDatabases  bool
	ExtraParameters   map[string]string
	ExtraHBA          []HBARule
}

// UnsafeParameters are parameters extra_pg_conf may not set, with why:
// each lets whoever sets it load code into the server or have the server
// write files or run commands, which is the postgres OS user's power (and
// the charm's configuration is not meant to hand it out).
var UnsafeParameters = map[string]string{
	"shared_preload_libraries":  "it loads libraries into the server",
	"session_preload_libraries": "it loads libraries into the server",
	"local_preload_libraries":   "it loads libraries into the server",
	"dynamic_library_path":      "it says where the server loads libraries from",
	"jit_provider":              "it loads a library into the server",
	"log_directory":             "it makes the server write files elsewhere",
	"log_file_mode":             "it makes the server's logs readable by others",
	"ssl_passphrase_command":    "it runs a command as the server",
}

// FixedParameters are the PostgreSQL parameters the charm owns: where the
// server listens, where its files are, how it archives, replicates and
// authenticates. extra_pg_conf can never set them. Some have their own
// option (the value says which), the rest are set by the charm or Patroni.
var FixedParameters = map[string]string{
	"listen_addresses":          "the unit's address",
	"port":                      "listen_port",
	"data_directory":            "the pgdata storage",
	"config_file":               "the charm",
	"hba_file":                  "the charm (use extra_pg_auth)",
	"ident_file":                "the charm",
	"external_pid_file":         "the charm",
	"unix_socket_directories":   "the charm",
	"unix_socket_group":         "the charm",
	"unix_socket_permissions":   "the charm",
	"max_connections":           "max_connections",
	"shared_buffers":            "shared_buffers",
	"password_encryption":       "the charm (scram-sha-256)",
	"cluster_name":              "the charm",
	"archive_mode":              "the charm",
	"archive_command":           "the charm",
	"archive_library":           "the charm",
	"archive_cleanup_command":   "the charm",
	"restore_command":           "the charm",
	"recovery_end_command":      "the charm",
	"recovery_target":           "the charm",
	"recovery_target_action":    "the charm",
	"recovery_target_inclusive": "the charm",
	"recovery_target_lsn":       "the charm",
	"recovery_target_name":      "the charm",
	"recovery_target_time":      "the charm",
	"recovery_target_timeline":  "the charm",
	"recovery_target_xid":       "the charm",
	"primary_conninfo":          "Patroni",
	"primary_slot_name":         "Patroni",
	"promote_trigger_file":      "Patroni",
	"hot_standby":               "Patroni",
	"wal_level":                 "the charm",
	"wal_log_hints":             "the charm",
	"max_wal_senders":           "the charm",
	"max_replication_slots":     "the charm",
	"synchronous_standby_names": "Patroni",
	"ssl":                       "the charm",
	"ssl_cert_file":             "the charm",
	"ssl_key_file":              "the charm",
	"ssl_ca_file":               "the charm",
	"ssl_crl_file":              "the charm",
	"ssl_crl_dir":               "the charm",
}

// Validate checks opts against the server's parameter catalogue and returns
// the settings to render. memBytes is the machine's memory, for the default
// shared_buffers. Every problem is reported, each as an *OptionError, joined
// with errors.Join; on error the returned Settings must not be used.
func Validate(opts Options, cat Catalogue, memBytes uint64) (Settings, error) {
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, &OptionError{Option: option, Reason: fmt.Sprintf(format, args...)})
	}
	s := Settings{
		ListenPort:     opts.ListenPort,
		MaxConnections: opts.MaxConnections,
		Locale:         opts.Locale,
		Encoding:       opts.Encoding,
	}

	if s.ListenPort == 0 && !opts.Complete {
		s.ListenPort = DefaultPostgresPort
	}
	if s.ListenPort < 1024 || s.ListenPort > 65535 {
		bad("listen_port", "%d is outside 1024–65535", s.ListenPort)
	} else if user, ok := reservedPorts[s.ListenPort]; ok {
		bad("listen_port", "%d is used by %s", s.ListenPort, user)
	}
	if s.MaxConnections == 0 && !opts.Complete {
		s.MaxConnections = DefaultMaxConnections
	}
	if s.MaxConnections < MinMaxConnections || s.MaxConnections > MaxMaxConnections {
		bad("max_connections", "%d is outside %d–%d", s.MaxConnections, MinMaxConnections, MaxMaxConnections)
	}

	if strings.TrimSpace(opts.SharedBuffers) == "" {
		s.SharedBuffers = DefaultSharedBuffers(memBytes)
	} else if n, err := ParseMemory(opts.SharedBuffers); err != nil {
		bad("shared_buffers", "%v", err)
	} else if n < minSharedBuffers {
		bad("shared_buffers", "%q is below the minimum 128kB", opts.SharedBuffers)
	} else if memBytes > 0 && uint64(n) > memBytes {
		bad("shared_buffers", "%q is more than the machine's memory", opts.SharedBuffers)
	} else {
		s.SharedBuffers = strings.TrimSpace(opts.SharedBuffers)
	}

	if s.Locale == "" && !opts.Complete {
		s.Locale = DefaultLocale
	}
	if s.Encoding == "" && !opts.Complete {
		s.Encoding = DefaultEncoding
	}
	if err := checkLocale(s.Locale); err != nil {
		bad("locale", "%v", err)
	}
	enc, err := normalizeEncoding(s.Encoding)
	if err != nil {
		bad("encoding", "%v", err)
	} else {
		s.Encoding = enc
		if err := checkLocaleEncoding(s.Locale, enc); err != nil {
			bad("encoding", "%v", err)
		}
	}

	for _, o := range []struct {
		name, value string
		dst         *[]netip.Prefix
	}{{"admin_addresses", opts.AdminAddresses, &s.AdminAddresses}, {"client_networks", opts.ClientNetworks, &s.ClientNetworks}} {
		var err error
		if *o.dst, err = ParseAdminAddresses(o.value); err != nil {
			bad(o.name, "%v", err)
		}
	}
	if s.ClientRoles, err = parseList(opts.ClientRoles, checkRoleName); err != nil {
		bad("client_roles", "%v", err)
	}
	if s.AdminApplications, err = parseList(opts.AdminApplications, checkApplicationName); err != nil {
		bad("admin_applications", "%v", err)
	}
	s.IsolateDatabases = opts.IsolateDatabases
	params, err := ParseExtraPgConf(opts.ExtraPgConf, cat)
	if err != nil {
		bad("extra_pg_conf", "%v", err)
	}
	s.ExtraParameters = params
	hba, err := ParseHBA(opts.ExtraPgAuth)
	if err != nil {
		bad("extra_pg_auth", "%v", err)
	}
	s.ExtraHBA = hba

	if len(errs) > 0 {
		return Settings{}, errors.Join(errs...)
	}
	return s, nil
}

// DefaultSharedBuffers is a quarter of the machine's memory, at least 128 MB
// and at most 8 GB, in whole megabytes.
func DefaultSharedBuffers(memBytes uint64) string {
	b := memBytes / 4
	if b < defaultSharedBuffersFloor {
		b = defaultSharedBuffersFloor
	}
	if b > maxDefaultSharedBuffers {
		b = maxDefaultSharedBuffers
	}
	return strconv.FormatUint(b>>20, 10) + "MB"
}

// ParseMemory parses a PostgreSQL memory value ("128MB", "1GB", "16384" in
// 8 kB blocks, units case-sensitive as PostgreSQL has them) into bytes.
func ParseMemory(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num, unit := splitUnit(s)
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a memory size (a whole number with kB, MB, GB or TB, or a count of 8kB blocks)", s)
	}
	mult := map[string]int64{"": 8192, "B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
	m, ok := mult[unit]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q (units are kB, MB, GB, TB)", s, unit)
	}
	if n > (1<<62)/m {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * m, nil
}

var localeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`) })

func checkLocale(l string) error {
	if !localeRE().MatchString(l) {
		return fmt.Errorf("%q is not a locale name (like C.UTF-8 or en_US.UTF-8)", l)
	}
	return nil
}

// CheckLocaleAvailable returns an *OptionError for the locale option
// when locale ("" for the default) is not among available, the machine's
// locales as locale -a lists them: initdb would fail on it. The codeset is
// compared as glibc normalises it (case and punctuation aside, so
// en_US.UTF-8 is en_US.utf8); C, POSIX and C.UTF-8 are always available.
func CheckLocaleAvailable(locale string, available []string) error {
	if locale == "" {
		locale = DefaultLocale
	}
	want := normalizeLocale(locale)
	switch want {
	case "C", "POSIX", "C.utf8":
		return nil
	}
	for _, a := range available {
		if normalizeLocale(strings.TrimSpace(a)) == want {
			return nil
		}
	}
	return &OptionError{Option: "locale", Reason: fmt.Sprintf("%s is not available on this machine (see locale -a)", locale)}
}

// normalizeLocale lowers the codeset of a locale name
// (language_TERRITORY.codeset@modifier) and drops all but its letters and
// digits, as glibc does: "en_US.UTF-8" becomes "en_US.utf8".
func normalizeLocale(l string) string {
	i := strings.IndexByte(l, '.')
	if i < 0 {
		return l
	}
	name, cs, mod := l[:i], l[i+1:], ""
	if j := strings.IndexByte(cs, '@'); j >= 0 {
		cs, mod = cs[:j], cs[j:]
	}
	var b strings.Builder
	for _, r := range strings.ToLower(cs) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return name + "." + b.String() + mod
}

// serverEncodings are PostgreSQL's server-side encodings (client-only ones
// such as SJIS cannot be a database encoding).
var serverEncodings = []string{
	"EUC_CN", "EUC_JIS_2004", "EUC_JP", "EUC_KR", "EUC_TW", "ISO_8859_5", "ISO_8859_6",
	"ISO_8859_7", "ISO_8859_8", "KOI8R", "KOI8U", "LATIN1", "LATIN10", "LATIN2", "LATIN3",
	"LATIN4", "LATIN5", "LATIN6", "LATIN7", "LATIN8", "LATIN9", "MULE_INTERNAL", "SQL_ASCII",
	"UTF8", "WIN1250", "WIN1251", "WIN1252", "WIN1253", "WIN1254", "WIN1255", "WIN1256",
	"WIN1257", "WIN1258", "WIN866", "WIN874",
}

func normalizeEncoding(e string) (string, error) {
	u := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(e), "-", ""))
	if u == "UNICODE" {
		u = "UTF8"
	}
	for _, s := range serverEncodings {
		if strings.ReplaceAll(s, "_", "") == strings.ReplaceAll(u, "_", "") {
			return s, nil
		}
	}
	return "", fmt.Errorf("%q is not a PostgreSQL server encoding", e)
}

// checkLocaleEncoding refuses the combinations initdb refuses that can be
// told from the names: a UTF-8 locale with another encoding and the reverse.
// C and POSIX go with any encoding.
func checkLocaleEncoding(locale, enc string) error {
	if locale == "C" || locale == "POSIX" {
		return nil
	}
	i := strings.IndexByte(locale, '.')
	if i < 0 {
		return nil
	}
	cs := strings.ToUpper(strings.ReplaceAll(locale[i+1:], "-", ""))
	if j := strings.IndexByte(cs, '@'); j >= 0 {
		cs = cs[:j]
	}
	if (cs == "UTF8") != (enc == "UTF8") {
		return fmt.Errorf("%s does not match locale %s", enc, locale)
	}
	return nil
}

// ParseAdminAddresses parses a comma-separated list of CIDRs (an address
// without a prefix length means that one host). The result is masked,
// sorted and without duplicates.
func ParseAdminAddresses(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		var p netip.Prefix
		if strings.Contains(f, "/") {
			var err error
			p, err = netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR", f)
			}
		} else {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Zone() != "" {
			return nil, fmt.Errorf("%q: zones are not allowed", f)
		}
		p = p.Masked()
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return prefixLess(out[i], out[j]) })
	return out, nil
}

func prefixLess(a, b netip.Prefix) bool {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c < 0
	}
	return a.Bits() < b.Bits()
}

// parseList splits a comma-separated option, trims each item, drops empty
// ones and checks each with check; the result is sorted, without repeats.
func parseList(s string, check func(string) error) ([]string, error) {
	var out []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if err := check(item); err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// checkRoleName accepts what PostgreSQL takes as a role name: at most 63
// bytes, no control characters (a name is matched exactly, case included).
func checkRoleName(name string) error {
	if len(name) > 63 {
		return fmt.Errorf("role name %q is longer than 63 bytes", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return fmt.Errorf("role name %q has a control character", name)
		}
	}
	return nil
}

// applicationName is Juju's rule for application names.
var applicationName = regexp.MustCompile(`^[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*$`)

func checkApplicationName(name string) error {
	if !applicationName.MatchString(name) {
		return fmt.Errorf("%q is not a Juju application name", name)
	}
	return nil
}
