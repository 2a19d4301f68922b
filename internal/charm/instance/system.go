package instance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/etcd"
	"github.com/pgjuju/pgjuju/internal/observer"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
	"github.com/pgjuju/pgjuju/internal/service"
)

// Packages is what the instance reads of the machine's software.
type Packages interface {
	MissingPackages(ctx context.Context) []string
	InstallPackages(ctx context.Context, pkgs []string) error
	PGVersion() string
	Catalogue(ctx context.Context, version string) (pgconf.Catalogue, error)
	MemBytes() uint64
	// CheckParameters has the installed server of version check the
	// parameter values (names in lower case, values as PostgreSQL reads
	// them, unquoted). A value it refuses is a *ParameterError; any other
	// error means the check could not run.
	CheckParameters(ctx context.Context, version string, params map[string]string) error
	// Locales lists the locales the machine has (locale -a).
	Locales(ctx context.Context) ([]string, error)
}

// Services are the unit's files and daemons.
type Services interface {
	WriteFiles(ctx context.Context, cfg pgconf.UnitConfig) (bool, error)
	StartEtcd(ctx context.Context, cfg pgconf.UnitConfig) (bool, error)
	StartPatroni(ctx context.Context, cfg pgconf.UnitConfig) (bool, error)
	// StartObserver runs the unit's role observer (internal/observer).
	StartObserver(ctx context.Context, cfg pgconf.UnitConfig, charmBinary, jujuExec string) (bool, error)
	StopServices(ctx context.Context, model, unit string) (bool, error)
	RemoveServices(ctx context.Context, model, unit string) (bool, error)
	// RemoveUnitDirs deletes the unit's own directories (configuration,
	// etcd data, run and log directories), never its storage.
	RemoveUnitDirs(ctx context.Context, model, unit, storage string) (bool, error)
	RestartPatroniService(ctx context.Context, model, unit string) error
	// ReloadPatroniService makes the unit's Patroni re-read patroni.yml
	// by signal (SIGHUP), which needs no REST API credentials.
	ReloadPatroniService(ctx context.Context, model, unit string) error
	// LeaveCluster hands the primary role over and stops Patroni on a
	// unit being removed.
	LeaveCluster(ctx context.Context, model string, cfg pgconf.UnitConfig) (bool, error)
}

// Server is the unit's PostgreSQL through Patroni and as the operator.
type Server interface {
	Patroni(cfg pgconf.UnitConfig) *patroni.Client
	// SetSystemRolePassword sets the password of a system role (operator,
	// replication, rewind) on primary, keeping its attributes.
	SetSystemRolePassword(ctx context.Context, primary postgres.Target, user string, attrs []postgres.RoleAttr, password string) error
}

// Distro packages the charm needs, and a file each installs.
var packages = []struct{ name, file string }{
	{"postgresql", "/usr/lib/postgresql"},
	{"patroni", "/usr/bin/patroni"},
	{"etcd-server", "/usr/bin/etcd"},
	{"etcd-client", "/usr/bin/etcdctl"},
}

// System is the real Packages, Services and Server, with the cluster's
// etcd effects (cluster.Etcd).
type System struct {
	// Self is the supervisor command (the charm binary and "supervise").
	Self []string
	// Clock times the waits; nil is the wall clock.
	Clock clock.Clock
	// Etcd is the cluster's etcd effects (with the same clock).
	cluster.Etcd
}

// MissingPackages lists the packages whose files are absent.
func (s *System) MissingPackages(context.Context) []string {
	var out []string
	for _, p := range packages {
		if _, err := os.Stat(p.file); err != nil {
			out = append(out, p.name)
		}
	}
	return out
}

// InstallPackages installs with apt-get, waiting for the dpkg lock (up to
// ten minutes) instead of failing while another installer runs. On a
// systemd machine it stops and disables the default cluster and etcd the
// packages start, which would hold the ports.
func (s *System) InstallPackages(ctx context.Context, pkgs []string) error {
	apt := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"-o", "DPkg::Lock::Timeout=600", "-y", "-q"}, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), err, lastLines(out, 5))
		}
		return nil
	}
	if err := apt(append([]string{"install", "--no-install-recommends"}, pkgs...)...); err != nil {
		if uerr := apt("update"); uerr != nil {
			return uerr
		}
		if err := apt(append([]string{"install", "--no-install-recommends"}, pkgs...)...); err != nil {
			return err
		}
	}
	if service.SystemdRunning() {
		units := []string{"etcd.service", "postgresql.service"}
		if v := s.PGVersion(); v != "" {
			units = append(units, "postgresql@"+v+"-main.service")
		}
		for _, u := range units {
			exec.CommandContext(ctx, "systemctl", "disable", "--now", u).Run()
		}
	}
	return nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// PGVersion is the newest installed PostgreSQL major version.
func (s *System) PGVersion() string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	best := 0
	for _, m := range matches {
		if v, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m)))); err == nil && v > best {
			best = v
		}
	}
	if best == 0 {
		return ""
	}
	return strconv.Itoa(best)
}

// catalogueCache holds postgres --describe-config output per server binary
// (keyed by version, size and modification time), because running it costs
// about 27 ms, more than the rest of a no-op hook. The output depends only
// on the binary, so units on one machine may share it.
const catalogueCache = "/var/lib/postgresql-charm/.catalogue"

// Catalogue runs postgres --describe-config, or reads its cached output.
func (s *System) Catalogue(ctx context.Context, version string) (pgconf.Catalogue, error) {
	bin := filepath.Join(pgconf.BinDir(version), "postgres")
	fi, err := os.Stat(bin)
	if err != nil {
		return nil, fmt.Errorf("reading parameter catalogue: %w", err)
	}
	cache := filepath.Join(catalogueCache, fmt.Sprintf("%s-%d-%d.tsv", version, fi.Size(), fi.ModTime().UnixNano()))
	if data, err := os.ReadFile(cache); err == nil {
		if cat, err := pgconf.ParseCatalogue(bytes.NewReader(data)); err == nil {
			return cat, nil
		}
	}
	out, err := exec.CommandContext(ctx, bin, "--describe-config").Output()
	if err != nil {
		return nil, fmt.Errorf("reading parameter catalogue: %w", err)
	}
	cat, err := pgconf.ParseCatalogue(bytes.NewReader(out))
	if err != nil {
		return nil, err
	}
	// A cache that cannot be written only costs time next hook.
	if os.MkdirAll(catalogueCache, 0o755) == nil {
		writeFile(cache, out, 0o644, 0, 0)
	}
	return cat, nil
}

// MemBytes is MemTotal from /proc/meminfo.
func (s *System) MemBytes() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// ParameterError is the server refusing a parameter value: its FATAL
// message with the DETAIL and HINT that follow, without the log line
// prefix, as in
// `invalid value for parameter "huge_pages": "maybe" (available values: off, on, try)`.
type ParameterError struct {
	Message string
}

func (e *ParameterError) Error() string { return e.Message }

// checkParametersTimeout bounds one postgres -C run (about 11 ms).
const checkParametersTimeout = 10 * time.Second

// CheckParameters runs postgres -C on an empty data directory with every
// value as a -c option: the server parses them exactly as it would at
// start, units, ranges, enums and check hooks included, and stops at the
// first it refuses. It runs as the postgres user (the server refuses
// root) and reads nothing of the unit's.
func (s *System) CheckParameters(ctx context.Context, version string, params map[string]string) error {
	if len(params) == 0 {
		return nil
	}
	bin := filepath.Join(pgconf.BinDir(version), "postgres")
	// As root the server runs as the postgres user, who must reach the
	// directory: /tmp, whatever root's TMPDIR is.
	base := ""
	if os.Geteuid() == 0 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "pgjuju-check-")
	if err != nil {
		return fmt.Errorf("checking parameters: %w", err)
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "postgresql.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		return fmt.Errorf("checking parameters: %w", err)
	}
	// As root, run as the postgres user, like the daemons
	// (service.Spec.User); otherwise as whoever we are.
	var attr *syscall.SysProcAttr
	if os.Geteuid() == 0 {
		uid, gid, err := ids("postgres")
		if err != nil {
			return fmt.Errorf("checking parameters: %w", err)
		}
		for _, p := range []string{dir, conf} {
			if err := os.Chown(p, uid, gid); err != nil {
				return fmt.Errorf("checking parameters: %w", err)
			}
		}
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	ctx, cancel := context.WithTimeout(ctx, checkParametersTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, checkParametersArgs(dir, params)...)
	cmd.SysProcAttr = attr
	cmd.Dir = "/"
	// English messages, nothing of the caller's PG* variables.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if msg := parameterRefusal(stderr.String(), params); msg != "" {
			return &ParameterError{Message: msg}
		}
		return fmt.Errorf("checking parameters with %s: %w: %s", bin, err, lastLines(stderr.Bytes(), 3))
	}
	return nil
}

// quietParameters change how the server reports an error: they go last,
// in this order, so that a value they hold affects no other value's
// report. lc_messages could translate it, log_min_messages (last that can
// fail) could silence it, and log_line_prefix (which cannot fail) would
// change its prefix.
var quietParameters = []string{"lc_messages", "log_min_messages", "log_line_prefix"}

// checkParametersArgs are postgres's arguments for CheckParameters: an
// empty prefix for the report, then the values by name, quietParameters
// last.
func checkParametersArgs(dir string, params map[string]string) []string {
	args := []string{"-D", dir, "-C", "port", "-c", "log_line_prefix="}
	names := slices.Sorted(maps.Keys(params))
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(quietParameters, n) })
	for _, n := range quietParameters {
		if _, ok := params[n]; ok {
			names = append(names, n)
		}
	}
	for _, n := range names {
		args = append(args, "-c", n+"="+params[n])
	}
	return args
}

// parameterRefusal turns postgres's report of a refused value into one
// line: the FATAL message, then its DETAIL and HINT in parentheses
// (lower-cased first letter, no final period). When the message does not
// quote the value as given (a range error speaks in base units: "-5000 ms
// is outside…" for -5s), "name = value: " goes first. It is "" when
// stderr holds no FATAL about a parameter.
func parameterRefusal(stderr string, params map[string]string) string {
	var fatal string
	var notes []string
	for _, line := range strings.Split(stderr, "\n") {
		for _, level := range []string{"FATAL:  ", "DETAIL:  ", "HINT:  "} {
			i := strings.Index(line, level)
			if i < 0 {
				continue
			}
			text := strings.TrimSpace(line[i+len(level):])
			switch {
			case level == "FATAL:  " && fatal == "":
				fatal = text
			case level != "FATAL:  " && fatal != "" && text != "":
				text = strings.TrimSuffix(text, ".")
				notes = append(notes, strings.ToLower(text[:1])+text[1:])
			}
			break
		}
	}
	i := strings.Index(fatal, `parameter "`)
	if i < 0 {
		return ""
	}
	name, _, _ := strings.Cut(fatal[i+len(`parameter "`):], `"`)
	if v, ok := params[name]; ok && !strings.Contains(fatal, `"`+v+`"`) {
		fatal = name + " = " + confValue(v) + ": " + fatal
	}
	if len(notes) > 0 {
		fatal += " (" + strings.Join(notes, "; ") + ")"
	}
	return fatal
}

// confValue is v as a postgresql.conf line would carry it: bare when it
// is a plain word or number, else single-quoted.
func confValue(v string) string {
	plain := v != "" && !strings.ContainsFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-+", r))
	})
	if plain {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// Locales runs locale -a.
func (s *System) Locales(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "locale", "-a").Output()
	if err != nil {
		return nil, fmt.Errorf("listing locales: %w", err)
	}
	return strings.Fields(string(out)), nil
}

func ids(name string) (int, int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("looking up user %s: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// WriteFiles creates the unit's directories and writes its files.
func (s *System) WriteFiles(_ context.Context, cfg pgconf.UnitConfig) (bool, error) {
	uid, gid, err := ids("postgres")
	if err != nil {
		return false, err
	}
	l := cfg.Layout
	for _, d := range []struct {
		path  string
		mode  os.FileMode
		owned bool
	}{
		{l.ConfDir, 0o700, true}, {l.RunDir, 0o755, true}, {l.LogDir, 0o755, false},
		{filepath.Dir(l.PGData), 0o755, false}, {l.PGData, 0o700, true},
	} {
		// Parents are traversable (0755) so the postgres user reaches its
		// own directories; MkdirAll would give them d.mode.
		if err := os.MkdirAll(filepath.Dir(d.path), 0o755); err != nil {
			return false, fmt.Errorf("creating %s: %w", filepath.Dir(d.path), err)
		}
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return false, fmt.Errorf("creating %s: %w", d.path, err)
		}
		if d.owned {
			if err := os.Chown(d.path, uid, gid); err != nil {
				return false, fmt.Errorf("owning %s: %w", d.path, err)
			}
		}
	}
	patroniYML, err := pgconf.RenderPatroni(cfg)
	if err != nil {
		return false, err
	}
	etcdYML, err := pgconf.RenderEtcd(cfg)
	if err != nil {
		return false, err
	}
	c1, err := writeFile(l.PatroniConfigPath(), []byte(patroniYML), 0o600, uid, gid)
	if err != nil {
		return false, err
	}
	c2, err := writeFile(l.EtcdConfigPath(), []byte(etcdYML), 0o600, 0, 0)
	return c1 || c2, err
}

func writeFile(path string, data []byte, mode os.FileMode, uid, gid int) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	tmp := fmt.Sprintf("%s.new-%d", path, os.Getpid())
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chown(tmp, uid, gid); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return true, nil
}

func (s *System) manager(l pgconf.Layout) service.Manager {
	return service.New(l.RunDir, s.Self)
}

func etcdSpec(cfg pgconf.UnitConfig) service.Spec {
	return service.Spec{
		Name: pgconf.ServiceName(cfg.Unit, "etcd"), Description: "etcd for " + cfg.Unit,
		Exec:    []string{"/usr/bin/etcd", "--config-file", cfg.Layout.EtcdConfigPath()},
		LogFile: filepath.Join(cfg.Layout.LogDir, "etcd.log"), StopTimeout: 30 * time.Second,
	}
}

func patroniSpec(cfg pgconf.UnitConfig) service.Spec {
	return service.Spec{
		Name: pgconf.ServiceName(cfg.Unit, "patroni"), Description: "Patroni for " + cfg.Unit,
		Exec: []string{"/usr/bin/patroni", cfg.Layout.PatroniConfigPath()}, User: "postgres",
		LogFile: filepath.Join(cfg.Layout.LogDir, "patroni.log"), KillMode: "process",
	}
}

func (s *System) start(ctx context.Context, l pgconf.Layout, spec service.Spec) (bool, error) {
	m := s.manager(l)
	c1, err := m.Install(ctx, spec)
	if err != nil {
		return false, err
	}
	c2, err := m.Start(ctx, spec.Name)
	return c1 || c2, err
}

// StartEtcd installs and starts the unit's etcd and waits until it answers.
func (s *System) StartEtcd(ctx context.Context, cfg pgconf.UnitConfig) (bool, error) {
	changed, err := s.start(ctx, cfg.Layout, etcdSpec(cfg))
	if err != nil {
		return changed, err
	}
	// Without credentials: MemberList answers before and after auth is
	// enabled, so readiness does not depend on the auth step.
	c, err := etcd.Connect(etcd.Config{Endpoints: []string{pgconf.EtcdClientURL(cfg.Address)}})
	if err != nil {
		return changed, err
	}
	defer c.Close()
	return changed, etcd.WaitAnswering(ctx, clock.Or(s.Clock), c, 30*time.Second)
}

// StartPatroni installs and starts the unit's Patroni.
func (s *System) StartPatroni(ctx context.Context, cfg pgconf.UnitConfig) (bool, error) {
	return s.start(ctx, cfg.Layout, patroniSpec(cfg))
}

func (s *System) unitManager(model, unit string) (service.Manager, pgconf.Layout) {
	l := pgconf.DefaultLayout(model, unit, "")
	return s.manager(l), l
}

// StartObserver installs and starts the unit's role observer.
func (s *System) StartObserver(ctx context.Context, cfg pgconf.UnitConfig, charmBinary, jujuExec string) (bool, error) {
	return s.start(ctx, cfg.Layout, observer.Spec(cfg, charmBinary, jujuExec))
}

// StopServices stops the role observer, Patroni (which stops PostgreSQL)
// and then etcd.
func (s *System) StopServices(ctx context.Context, model, unit string) (bool, error) {
	m, _ := s.unitManager(model, unit)
	c0, err := m.Stop(ctx, pgconf.ServiceName(unit, "observer"))
	if err != nil {
		return c0, err
	}
	c1, err := m.Stop(ctx, pgconf.ServiceName(unit, "patroni"))
	c1 = c1 || c0
	if err != nil {
		return c1, err
	}
	c2, err := m.Stop(ctx, pgconf.ServiceName(unit, "etcd"))
	return c1 || c2, err
}

// RemoveServices stops and removes the unit's services; the data stays.
func (s *System) RemoveServices(ctx context.Context, model, unit string) (bool, error) {
	m, _ := s.unitManager(model, unit)
	c0, err := m.Remove(ctx, pgconf.ServiceName(unit, "observer"))
	if err != nil {
		return c0, err
	}
	c1, err := m.Remove(ctx, pgconf.ServiceName(unit, "patroni"))
	c1 = c1 || c0
	if err != nil {
		return c1, err
	}
	c2, err := m.Remove(ctx, pgconf.ServiceName(unit, "etcd"))
	return c1 || c2, err
}

// RemoveUnitDirs deletes the unit's directories (pgconf.Layout.UnitDirs).
// storage is where pgdata is mounted, if known: a directory holding it is
// kept whatever the layout says.
func (s *System) RemoveUnitDirs(_ context.Context, model, unit, storage string) (bool, error) {
	l := pgconf.DefaultLayout(model, unit, storage)
	keep := []string{l.PGData}
	if storage != "" {
		keep = append(keep, storage)
	}
	return removeDirs(l.UnitDirs(), keep)
}

// removeDirs removes each directory with everything in it, except one
// that is, or lies above, a path in keep. A missing directory is no
// change. Symbolic links inside are removed, not followed.
func removeDirs(dirs, keep []string) (bool, error) {
	changed := false
	var errs []error
	for _, d := range dirs {
		if d == "" || !filepath.IsAbs(d) || filepath.Clean(d) == "/" {
			errs = append(errs, fmt.Errorf("refusing to remove %q", d))
			continue
		}
		if slices.ContainsFunc(keep, func(k string) bool { return k != "" && within(k, d) }) {
			errs = append(errs, fmt.Errorf("refusing to remove %s: it holds the pgdata storage", d))
			continue
		}
		if _, err := os.Lstat(d); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", d, err))
			continue
		}
		changed = true
	}
	return changed, errors.Join(errs...)
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// RestartPatroniService restarts the Patroni daemon itself (not PostgreSQL).
func (s *System) RestartPatroniService(ctx context.Context, model, unit string) error {
	m, _ := s.unitManager(model, unit)
	return m.Restart(ctx, pgconf.ServiceName(unit, "patroni"))
}

// ReloadPatroniService sends SIGHUP to the Patroni daemon (the supervisor's
// child, or systemd's main process), which Patroni takes as a reload.
func (s *System) ReloadPatroniService(ctx context.Context, model, unit string) error {
	m, _ := s.unitManager(model, unit)
	st, err := m.Status(ctx, pgconf.ServiceName(unit, "patroni"))
	if err != nil {
		return err
	}
	if !st.Running || st.ChildPid <= 0 {
		return fmt.Errorf("reloading Patroni: it is not running")
	}
	if err := syscall.Kill(st.ChildPid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("reloading Patroni: %w", err)
	}
	return nil
}

// SetSystemRolePassword implements Server.
func (s *System) SetSystemRolePassword(ctx context.Context, primary postgres.Target, user string, attrs []postgres.RoleAttr, password string) error {
	conn, err := primary.Connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = postgres.EnsureUser(ctx, conn, user, password, attrs...)
	return err
}

// Patroni returns a client of the unit's Patroni REST API.
func (s *System) Patroni(cfg pgconf.UnitConfig) *patroni.Client {
	return &patroni.Client{
		BaseURL:  cfg.PatroniURL(),
		Username: pgconf.PatroniAPIUser, Password: cfg.Passwords.PatroniAPI,
		HTTP: &http.Client{Timeout: 5 * time.Second},
	}
}

// LeaveCluster implements Services: on a unit being removed, it hands the
// primary role to another member (cluster.HandOver) and stops Patroni,
// which stops PostgreSQL, and leaves etcd while its member still runs
// (cluster.LeaveEtcd). etcd itself keeps running until the stop hook.
func (s *System) LeaveCluster(ctx context.Context, model string, cfg pgconf.UnitConfig) (bool, error) {
	if cfg.Address.IsValid() && cfg.Passwords.PatroniAPI != "" {
		cluster.HandOver(ctx, s.Clock, s.Patroni(cfg), pgconf.UnitSlug(cfg.Unit))
	}
	m, _ := s.unitManager(model, cfg.Unit)
	changed, err := m.Stop(ctx, pgconf.ServiceName(cfg.Unit, "patroni"))
	if err != nil {
		return changed, err
	}
	if cfg.Address.IsValid() && cfg.Passwords.Etcd != "" {
		cluster.LeaveEtcd(ctx, cfg, os.Stderr)
	}
	return changed, nil
}
