package instance

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// unitTree creates a unit's directories under root, each with a file, and
// a storage directory with a data directory in it.
func unitTree(t *testing.T, root string) (pgconf.Layout, string) {
	t.Helper()
	storage := filepath.Join(root, "storage")
	l := pgconf.NewLayout(filepath.Join(root, "conf"), filepath.Join(root, "run"), filepath.Join(root, "log"), storage)
	for _, f := range []string{l.PatroniConfigPath(), l.EtcdConfigPath(), filepath.Join(l.EtcdDataDir, "member", "wal", "0.wal"),
		filepath.Join(l.CharmDir, "x"), filepath.Join(l.RunDir, "x-patroni.json"), l.SocketPath(5432),
		filepath.Join(l.LogDir, "patroni.log"), filepath.Join(l.PGData, "PG_VERSION")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return l, storage
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestRemoveDirs(t *testing.T) {
	t.Run("the unit's directories go, the storage stays; a second run changes nothing", func(t *testing.T) {
		l, storage := unitTree(t, t.TempDir())
		// A link to the data must not lead the removal into it.
		if err := os.Symlink(l.PGData, filepath.Join(l.ConfDir, "data-link")); err != nil {
			t.Fatal(err)
		}
		changed, err := removeDirs(l.UnitDirs(), []string{l.PGData, storage})
		if err != nil || !changed {
			t.Fatalf("changed %v err %v", changed, err)
		}
		for _, d := range l.UnitDirs() {
			if exists(d) {
				t.Errorf("%s still there", d)
			}
		}
		if !exists(filepath.Join(l.PGData, "PG_VERSION")) {
			t.Error("pgdata was touched")
		}
		if changed, err := removeDirs(l.UnitDirs(), []string{l.PGData, storage}); err != nil || changed {
			t.Errorf("second run: changed %v err %v", changed, err)
		}
	})
	t.Run("a directory holding the storage is refused and kept; the others go", func(t *testing.T) {
		root := t.TempDir()
		l, _ := unitTree(t, root)
		storage := filepath.Join(l.ConfDir, "storage") // a pathological mount point
		data := filepath.Join(storage, "pgdata")
		os.MkdirAll(data, 0o700)
		changed, err := removeDirs(l.UnitDirs(), []string{data, storage})
		if err == nil || !changed {
			t.Fatalf("changed %v err %v: want the conf dir refused", changed, err)
		}
		if !exists(data) || exists(l.RunDir) || exists(l.LogDir) {
			t.Errorf("data kept %v, run dir gone %v, log dir gone %v", exists(data), !exists(l.RunDir), !exists(l.LogDir))
		}
	})
	t.Run("relative paths and / are refused", func(t *testing.T) {
		if _, err := removeDirs([]string{"", "/", "relative/dir"}, nil); err == nil {
			t.Error("want an error")
		}
	})
}

func TestDefaultLayoutUnitDirsExcludeData(t *testing.T) {
	l := pgconf.DefaultLayout("0123456789ab", "postgresql/3", "/var/lib/juju/storage/pgdata/0")
	for _, d := range l.UnitDirs() {
		if within(l.PGData, d) {
			t.Errorf("%s holds pgdata %s", d, l.PGData)
		}
	}
	// Every directory of the unit is inside one the remove hook deletes.
	for _, d := range l.Dirs() {
		if !slices.ContainsFunc(l.UnitDirs(), func(u string) bool { return within(d.Path, u) }) {
			t.Errorf("%s is not under the unit's directories %v", d.Path, l.UnitDirs())
		}
	}
	if n := len(l.SocketPath(65535)); n > pgconf.SocketPathLimit {
		t.Errorf("socket path of %d bytes", n)
	}
}
