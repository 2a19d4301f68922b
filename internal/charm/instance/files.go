package instance

import (
	"bytes"
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
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

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
	if err != nil || !cfg.EtcdTLS() {
		return c1 || c2, err
	}
	c3, err := writeTLS(cfg, clock.Or(s.Clock).Now(), owner{uid, gid})
	return c1 || c2 || c3, err
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
