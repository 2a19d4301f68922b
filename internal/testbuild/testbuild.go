// Package testbuild runs `make build` for the integration test packages.
// `go test ./...` runs packages in parallel, and each suite's TestMain
// builds what it tests; the builds rewrite the same files (build/charm is
// removed and packed again), so they take turns under a lock file.
package testbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
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
