package instance

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/safefile"
)

// Before issue 9 item 2, a unit kept patroni.yml, etcd.conf.yml, pgpass and
// etcd's data (in "etcd") straight in a postgres-owned ConfDir, and its
// service specs, pid files and the PostgreSQL socket in a postgres-owned
// RunDir. migrateLayout moves such a unit (upgrade-charm, or any hook after
// it) to the current layout without losing its data or etcd membership:
//
//   - RunDir goes to root first (its pid files are found only in a trusted
//     directory), keeping only root-owned regular files of its own there;
//   - the unit's services stop (Patroni stops PostgreSQL), since etcd's data
//     moves and every daemon's spec changes;
//   - ConfDir goes to root, "etcd" (the member's data, same member name and
//     peer URL) is renamed to "etcd-data" and given to the etcd user, and the
//     old files are removed: WriteFiles writes them again in their new
//     directories and Patroni rewrites pgpass.
//
// The plan's start steps, which follow WriteFiles, start the services
// again from their new specs. A layout it does not recognise is refused
// with an error naming the path, and nothing is moved.
func (s *System) migrateLayout(ctx context.Context, cfg pgconf.UnitConfig) (bool, error) {
	l := cfg.Layout
	oldConf, err := oldLayout(l.ConfDir, filepath.Join(l.ConfDir, "patroni.yml"), filepath.Join(l.ConfDir, "etcd", "member"))
	if err != nil {
		return false, err
	}
	oldRun, err := oldLayout(l.RunDir)
	if err != nil {
		return false, err
	}
	if !oldConf && !oldRun {
		return false, nil
	}
	if oldRun {
		if err := toRoot(l.RunDir); err != nil {
			return false, err
		}
		if err := keepOnlyRootFiles(l.RunDir); err != nil {
			return true, err
		}
	}
	m := s.manager(l)
	for _, name := range stopOrder {
		if _, err := m.Stop(ctx, pgconf.ServiceName(cfg.Unit, name)); err != nil {
			return true, fmt.Errorf("moving to the new layout: stopping the unit's services: %w", err)
		}
	}
	if oldRun {
		// The old socket and its lock file: PostgreSQL has stopped.
		if err := removeNonRoot(l.RunDir); err != nil {
			return true, err
		}
	}
	if !oldConf {
		return true, nil
	}
	if err := toRoot(l.ConfDir); err != nil {
		return true, err
	}
	oldData, newData := filepath.Join(l.ConfDir, "etcd"), l.EtcdDataDir
	if fi, err := os.Lstat(filepath.Join(oldData, "member")); err == nil && fi.IsDir() {
		if err := checkRootDir(oldData); err != nil {
			return true, fmt.Errorf("moving etcd's data: %w", err)
		}
		if _, err := os.Lstat(newData); err == nil {
			return true, fmt.Errorf("moving etcd's data: both %s and %s exist; move one away by hand", oldData, newData)
		}
		if err := os.Rename(oldData, newData); err != nil {
			return true, fmt.Errorf("moving etcd's data: %w", err)
		}
		etcdUser, err := lookupOwner("etcd", "etcd")
		if err != nil {
			return true, err
		}
		if err := safefile.ChownTree(newData, etcdUser); err != nil {
			return true, fmt.Errorf("moving etcd's data: %w", err)
		}
	}
	// Whatever else the old ConfDir holds is the old files (and whatever
	// postgres put there); the new directories are made by ensureDirs.
	keep := map[string]bool{}
	for _, d := range l.Dirs() {
		if filepath.Dir(d.Path) == l.ConfDir {
			keep[filepath.Base(d.Path)] = true
		}
	}
	ents, err := os.ReadDir(l.ConfDir)
	if err != nil {
		return true, err
	}
	for _, e := range ents {
		if keep[e.Name()] && e.IsDir() && e.Type()&fs.ModeSymlink == 0 && e.Name() != "etcd" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(l.ConfDir, e.Name())); err != nil {
			return true, fmt.Errorf("moving to the new layout: %w", err)
		}
	}
	return true, nil
}

// oldLayout reports whether dir is a directory of the old layout: owned by
// someone other than root, or holding one of the marks (files only the old
// layout had there). A missing dir is not; a link is refused.
func oldLayout(dir string, marks ...string) (bool, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("refusing %s: not a directory (a symbolic link?); move it away by hand", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		return true, nil
	}
	for _, m := range marks {
		if _, err := os.Lstat(m); err == nil {
			return true, nil
		}
	}
	return false, nil
}

// toRoot gives a directory of the old layout to root:root 0755 through a
// descriptor that does not follow links. Its parent is root's already
// (the shared /var/lib/postgresql-charm, /run/postgresql-charm).
func toRoot(dir string) error {
	if err := safefile.CheckTrustedDir(filepath.Dir(dir)); err != nil {
		return err
	}
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("moving %s to the new layout: %w", dir, err)
	}
	defer syscall.Close(fd)
	if err := syscall.Fchown(fd, 0, 0); err != nil {
		return fmt.Errorf("moving %s to the new layout: %w", dir, err)
	}
	if err := syscall.Fchmod(fd, 0o755); err != nil {
		return fmt.Errorf("moving %s to the new layout: %w", dir, err)
	}
	return nil
}

// checkRootDir checks dir is a real directory owned by root.
func checkRootDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || st.Uid != 0 {
		return fmt.Errorf("refusing %s: not a root-owned directory; move it away by hand", dir)
	}
	return nil
}

// keepOnlyRootFiles removes from dir every entry that is not a root-owned
// regular file, except sockets and their lock files (PostgreSQL still
// runs; removeNonRoot removes them once it stopped).
func keepOnlyRootFiles(dir string) error {
	return removeEntries(dir, func(name string, fi fs.FileInfo, uid uint32) bool {
		if strings.HasPrefix(name, ".s.PGSQL.") {
			return false
		}
		return uid != 0 || !fi.Mode().IsRegular()
	})
}

// removeNonRoot removes from dir every entry not owned by root.
func removeNonRoot(dir string) error {
	return removeEntries(dir, func(_ string, fi fs.FileInfo, uid uint32) bool {
		return uid != 0 || !fi.Mode().IsRegular() && !fi.IsDir()
	})
}

func removeEntries(dir string, drop func(name string, fi fs.FileInfo, uid uint32) bool) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if st == nil || drop(e.Name(), fi, st.Uid) {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("moving %s to the new layout: %w", dir, err)
			}
		}
	}
	return nil
}
