package instance

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/safefile"
	"github.com/pgjuju/pgjuju/internal/service"
)

// TestMigrateLayout moves a unit tree of the old layout (postgres-owned
// ConfDir with the configs, pgpass and etcd's data in "etcd";
// postgres-owned RunDir with specs and the socket) to the new one: etcd's
// data renamed and given to etcd, the old files gone, both directories
// root's, root's specs kept; a second run changes nothing. The services
// are not running, so stopping them is a no-op (the integration test
// TestUpgradeFromOldLayout covers running ones).
func TestMigrateLayout(t *testing.T) {
	if os.Geteuid() != 0 || service.SystemdRunning() {
		t.Skip("skipping: needs root and a machine without systemd")
	}
	pg, err := lookupOwner("postgres", "postgres")
	if err != nil {
		t.Skip(err)
	}
	etcd, err := lookupOwner("etcd", "etcd")
	if err != nil {
		t.Skip(err)
	}
	root := t.TempDir()
	l := pgconf.NewLayout(filepath.Join(root, "conf"), filepath.Join(root, "run"), filepath.Join(root, "log"), filepath.Join(root, "storage"))
	cfg := pgconf.UnitConfig{Unit: "postgresql/0", Address: netip.MustParseAddr("10.0.0.1"), Layout: l}
	wal := filepath.Join(l.ConfDir, "etcd", "member", "wal", "0.wal")
	spec := filepath.Join(l.RunDir, "postgresql-0-patroni.json")
	socket := filepath.Join(l.RunDir, ".s.PGSQL.5432")
	for _, f := range []string{filepath.Join(l.ConfDir, "patroni.yml"), filepath.Join(l.ConfDir, "etcd.conf.yml"),
		filepath.Join(l.ConfDir, "pgpass"), wal, spec, socket} {
		os.MkdirAll(filepath.Dir(f), 0o700)
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{l.ConfDir, l.RunDir, socket} {
		os.Chown(p, pg.UID, pg.GID)
	}
	s := &System{}
	changed, err := s.migrateLayout(context.Background(), cfg)
	if err != nil || !changed {
		t.Fatalf("changed %v err %v", changed, err)
	}
	moved := filepath.Join(l.EtcdDataDir, "member", "wal", "0.wal")
	if owner(t, moved) != etcd || owner(t, l.EtcdDataDir) != etcd {
		t.Errorf("etcd's data: %v", owner(t, moved))
	}
	for _, gone := range []string{filepath.Join(l.ConfDir, "patroni.yml"), filepath.Join(l.ConfDir, "etcd.conf.yml"),
		filepath.Join(l.ConfDir, "pgpass"), filepath.Join(l.ConfDir, "etcd"), socket} {
		if exists(gone) {
			t.Errorf("%s is still there", gone)
		}
	}
	if !exists(spec) || owner(t, l.ConfDir) != safefile.Root || owner(t, l.RunDir) != safefile.Root {
		t.Errorf("spec kept %v, conf %v, run %v", exists(spec), owner(t, l.ConfDir), owner(t, l.RunDir))
	}
	if changed, err := s.migrateLayout(context.Background(), cfg); err != nil || changed {
		t.Errorf("second run: changed %v err %v", changed, err)
	}
	// The new layout's directories can now be made.
	if _, err := ensureDirs(l); err != nil {
		t.Fatal(err)
	}
}

func owner(t *testing.T, p string) safefile.Owner {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return safefile.Owner{UID: int(st.Uid), GID: int(st.Gid)}
}
