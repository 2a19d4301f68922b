package instance

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/safefile"
	"github.com/pgjuju/pgjuju/internal/service"
)

// Distro packages the charm needs, and a file each installs.
var packages = []struct{ name, file string }{
	{"postgresql", "/usr/lib/postgresql"},
	{"patroni", "/usr/bin/patroni"},
	{"etcd-server", "/usr/bin/etcd"},
	{"etcd-client", "/usr/bin/etcdctl"},
	// Patroni's etcd client (python3-etcd) talks TLS through urllib3's
	// pyOpenSSL backend, which imports idna: only a Recommends of
	// python3-urllib3, which --no-install-recommends leaves out.
	{"python3-idna", "/usr/lib/python3/dist-packages/idna"},
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
			return fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), err, strings.Join(service.LastLines(string(out), 5), " / "))
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
	// The cache is root's, in a root-owned directory: read it so.
	if data, err := safefile.ReadTrusted(cache); err == nil {
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
		safefile.WriteFile(cache, out, 0o644, safefile.Root)
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
