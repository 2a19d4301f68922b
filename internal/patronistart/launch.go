package patronistart

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/etcd"
	"github.com/pgjuju/pgjuju/internal/pki"
)

// Subcommand is the charm binary's subcommand that runs this package.
const Subcommand = "launch-patroni"

// guardTimeout bounds the guard: Patroni starts after it whatever
// happened. A unit whose etcd does not answer cannot hold the leader key
// either, and a PostgreSQL that is not running when Patroni starts (a
// machine's boot) is not affected: Patroni writes /sync itself when it
// promotes.
const guardTimeout = 10 * time.Second

// patroniConfig is what the launcher reads of patroni.yml.
type patroniConfig struct {
	Scope     string `yaml:"scope"`
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
	Etcd3     struct {
		Protocol string   `yaml:"protocol"`
		Hosts    []string `yaml:"hosts"`
		CACert   string   `yaml:"cacert"`
		Cert     string   `yaml:"cert"`
		Key      string   `yaml:"key"`
		Username string   `yaml:"username"`
		Password string   `yaml:"password"`
	} `yaml:"etcd3"`
}

// keyPath is Patroni's key name under its namespace and scope (its
// AbstractDCS: "/<namespace>/<scope>/<name>", repeated slashes folded).
func (c patroniConfig) keyPath(name string) string {
	p := "/" + strings.Trim(c.Namespace, "/") + "/" + c.Scope + "/" + name
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

func (c patroniConfig) etcdClient() (*etcd.Client, error) {
	proto := c.Etcd3.Protocol
	if proto == "" {
		proto = "http"
	}
	cfg := etcd.Config{Username: c.Etcd3.Username, Password: c.Etcd3.Password, DialTimeout: 3 * time.Second}
	for _, h := range c.Etcd3.Hosts {
		cfg.Endpoints = append(cfg.Endpoints, proto+"://"+h)
	}
	if c.Etcd3.CACert != "" {
		var p pki.Pair
		ca, err := os.ReadFile(c.Etcd3.CACert)
		if err != nil {
			return nil, err
		}
		if p.CertPEM, err = os.ReadFile(c.Etcd3.Cert); err != nil {
			return nil, err
		}
		if p.KeyPEM, err = os.ReadFile(c.Etcd3.Key); err != nil {
			return nil, err
		}
		if cfg.TLS, err = pki.ClientTLS(ca, p); err != nil {
			return nil, err
		}
	}
	return etcd.Connect(cfg)
}

// Run is "dispatch launch-patroni <user> <patroni> <patroni.yml>": become
// user (when started as root), run the guard, then exec Patroni with the
// config. It returns only when the exec failed or the arguments are
// wrong.
func Run(args []string, log io.Writer) int {
	if len(args) != 3 || args[0] == "" || !filepath.IsAbs(args[1]) || !filepath.IsAbs(args[2]) {
		fmt.Fprintln(log, "usage: dispatch "+Subcommand+" <user> <patroni> <patroni.yml>")
		return 2
	}
	userName, patroni, configPath := args[0], args[1], args[2]
	// First: nothing is read as root (patroni.yml is in the user's own
	// directory, which that user may change).
	if err := becomeUser(userName); err != nil {
		fmt.Fprintf(log, "%s: %v\n", Subcommand, err)
		return 1
	}
	if err := guard(configPath, log); err != nil {
		// Never stops Patroni from starting: without it the unit has
		// no database at all.
		fmt.Fprintf(log, "%s: /sync guard skipped: %v\n", Subcommand, err)
	}
	err := syscall.Exec(patroni, []string{patroni, configPath}, os.Environ())
	fmt.Fprintf(log, "%s: exec %s: %v\n", Subcommand, patroni, err)
	return 1
}

// becomeUser switches the process to name (its groups, then gid, then
// uid: Go applies each to every thread) when running as root; a process
// that already runs as name goes on, any other refuses.
func becomeUser(name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("looking up user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return err
	}
	switch os.Geteuid() {
	case uid:
		return nil
	case 0:
	default:
		return fmt.Errorf("running as uid %d, neither root nor %s", os.Geteuid(), name)
	}
	var groups []int
	ids, err := u.GroupIds()
	if err != nil {
		return fmt.Errorf("groups of %s: %w", name, err)
	}
	for _, g := range ids {
		if n, err := strconv.Atoi(g); err == nil {
			groups = append(groups, n)
		}
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	if os.Geteuid() != uid || os.Getegid() != gid {
		return fmt.Errorf("still uid %d gid %d after switching to %s", os.Geteuid(), os.Getegid(), name)
	}
	return nil
}

func guard(configPath string, log io.Writer) error {
	data, err := os.ReadFile(configPath)
	if err != nil {
		return err
	}
	var cfg patroniConfig
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", configPath, err)
	}
	if cfg.Name == "" || cfg.Scope == "" || len(cfg.Etcd3.Hosts) == 0 {
		return fmt.Errorf("%s names no member, scope or etcd3 hosts", configPath)
	}
	c, err := cfg.etcdClient()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), guardTimeout)
	defer cancel()
	var outcome string
	err = etcd.RetryTransient(ctx, clock.Real{}, func() error {
		var err error
		outcome, err = guardOnce(ctx, c, cfg)
		return err
	})
	if err != nil {
		return err
	}
	if outcome != "" {
		fmt.Fprintf(log, "%s: %s\n", Subcommand, outcome)
	}
	return nil
}

// guardOnce reads the leader and /sync keys and writes /sync when
// guardedSync says so; outcome says what it did, if anything.
func guardOnce(ctx context.Context, c *etcd.Client, cfg patroniConfig) (outcome string, err error) {
	read := func(name string) (*etcd.KeyValue, error) {
		kv, found, err := c.Get(ctx, cfg.keyPath(name))
		if err != nil || !found {
			return nil, err
		}
		return &kv, nil
	}
	leader, err := read("leader")
	if err != nil {
		return "", err
	}
	sync, err := read("sync")
	if err != nil {
		return "", err
	}
	value, ok := guardedSync(cfg.Name, leader, sync)
	if !ok {
		return "", nil
	}
	put, err := c.PutIf(ctx, []etcd.Unchanged{etcd.Unchanged(*leader), etcd.Unchanged(*sync)}, cfg.keyPath("sync"), value)
	switch {
	case err != nil:
		return "", err
	case !put:
		return "leader or /sync changed while read; left to Patroni", nil
	}
	return fmt.Sprintf("this member leads: /sync reset from %s to %s until Patroni sets synchronous_standby_names again", sync.Value, value), nil
}
