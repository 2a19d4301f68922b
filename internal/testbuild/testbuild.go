// Package testbuild is what the integration test packages (tests/charm,
// tests/relations, tests/ha) share: `make build` under a lock (`go test
// ./...` runs packages in parallel and each suite's TestMain builds what
// it tests; the builds rewrite the same files, so they take turns), the
// prerequisites check, and the removal of the units' host directories.
package testbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// Make runs `make -C root build` holding an exclusive lock on
// root/.build.lock, and returns make's output on failure.
func Make(root string) error {
	lock, err := os.OpenFile(filepath.Join(root, ".build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking the build: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if out, err := exec.Command("make", "-C", root, "build").CombinedOutput(); err != nil {
		return fmt.Errorf("make build: %w\n%s", err, out)
	}
	return nil
}

// Prerequisites returns why the integration suite named suite ("charm",
// "HA") cannot run on this machine, or "" when it can.
func Prerequisites(suite string, short bool) string {
	if short {
		return suite + " integration tests are skipped in -short mode"
	}
	if os.Geteuid() != 0 {
		return suite + " integration tests need root (localjuju machines are network namespaces)"
	}
	for _, bin := range []string{"ip", "make", "patroni", "etcd"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Sprintf("%s not found (run scripts/install-deps.sh): %v", bin, err)
		}
	}
	if _, err := os.Stat("/usr/lib/postgresql"); err != nil {
		return "no PostgreSQL server installed (run scripts/install-deps.sh)"
	}
	return ""
}

// T is the part of *testing.T RemoveHostDirs uses.
type T interface {
	Failed() bool
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
}

// RemoveHostDirs removes what the charm's units of a destroyed model leave
// on the host outside the model: localjuju machines share the host's
// filesystem, and destroying a model (or force-removing a unit) runs no
// remove hook. A failed test keeps them for inspection.
func RemoveHostDirs(t T, model string, units []string) {
	for _, u := range units {
		l := pgconf.DefaultLayout(model, u, "")
		if t.Failed() {
			t.Logf("%s kept on the host for inspection: %s %s %s", u, l.ConfDir, l.RunDir, l.LogDir)
			continue
		}
		for _, d := range []string{l.ConfDir, l.RunDir, l.LogDir} {
			if err := os.RemoveAll(d); err != nil {
				t.Errorf("removing %s: %v", d, err)
			}
		}
	}
}
