package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/patronistart"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/safefile"
)

// lookupOwner resolves a user and a group name to numeric ids.
func lookupOwner(userName, groupName string) (safefile.Owner, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return safefile.Owner{}, fmt.Errorf("looking up user %s: %w", userName, err)
	}
	g, err := user.LookupGroup(groupName)
	if err != nil {
		return safefile.Owner{}, fmt.Errorf("looking up group %s: %w", groupName, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)
	return safefile.Owner{UID: uid, GID: gid}, nil
}

// WriteFiles moves a unit of the old layout to the current one
// (migrateLayout), creates or repairs the unit's directories
// (pgconf.Layout.Dirs) and writes its files through safefile.
func (s *System) WriteFiles(ctx context.Context, cfg pgconf.UnitConfig) (bool, error) {
	l := cfg.Layout
	migrated, err := s.migrateLayout(ctx, cfg)
	if err != nil {
		return migrated, err
	}
	changed, err := ensureDirs(l)
	changed = changed || migrated
	if err != nil {
		return changed, err
	}
	pg, err := lookupOwner("postgres", "postgres")
	if err != nil {
		return changed, err
	}
	etcdGroup, err := lookupOwner("root", "etcd")
	if err != nil {
		return changed, err
	}
	patroniYML, err := pgconf.RenderPatroni(cfg)
	if err != nil {
		return changed, err
	}
	etcdYML, err := pgconf.RenderEtcd(cfg)
	if err != nil {
		return changed, err
	}
	before, _ := safefile.ReadFile(l.PatroniConfigPath())
	c1, err := safefile.WriteFile(l.PatroniConfigPath(), []byte(patroniYML), 0o600, pg)
	if err != nil {
		return changed, err
	}
	c2, err := safefile.WriteFile(l.EtcdConfigPath(), []byte(etcdYML), 0o640, etcdGroup)
	if err != nil {
		return changed || c1 || c2, err
	}
	fix, err := safefile.WriteFile(filepath.Join(l.PatroniPythonDir(), "sitecustomize.py"), patronistart.SiteCustomize, 0o644, safefile.Root)
	c2 = c2 || fix
	if err != nil || !cfg.EtcdTLS() {
		return changed || c1 || c2, err
	}
	c3, err := writeTLS(cfg, clock.Or(s.Clock).Now(), pg)
	if err == nil && patroniSchemeChanged(before, c1, cfg) {
		// Once its files are all there: see patroniSchemeChanged.
		err = s.signalPatroniReload(ctx, cfg)
	}
	return changed || c1 || c2 || c3, err
}

// ensureDirs creates or repairs the unit's directories and the storage's
// data directory. The shared parents (/var/lib/postgresql-charm and the
// like) are root-owned 0755; every one from / down must be a root-owned
// real directory, or the unit refuses to go on: whoever owns one could swap
// the unit's directories under it.
func ensureDirs(l pgconf.Layout) (bool, error) {
	changed := false
	for _, d := range l.Dirs() {
		parent := filepath.Dir(d.Path)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return changed, fmt.Errorf("creating %s: %w", parent, err)
		}
		if err := safefile.CheckTrustedDir(parent); err != nil {
			return changed, err
		}
		o, err := lookupOwner(d.User, d.Group)
		if err != nil {
			return changed, err
		}
		c, err := safefile.EnsureDir(d.Path, d.Mode, o)
		changed = changed || c
		if err != nil {
			return changed, err
		}
	}
	// The data directory: its parent is the storage's mount point.
	pg, err := lookupOwner("postgres", "postgres")
	if err != nil {
		return changed, err
	}
	if err := os.MkdirAll(filepath.Dir(l.PGData), 0o755); err != nil {
		return changed, fmt.Errorf("creating %s: %w", filepath.Dir(l.PGData), err)
	}
	c, err := safefile.EnsureDir(l.PGData, 0o700, pg)
	return changed || c, err
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
