package safefile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// nobody is an unprivileged owner for the tests (the nobody user's ids on
// Debian); chown to it needs root.
var nobody = Owner{65534, 65534}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root (chown)")
	}
}

func ownerOf(t *testing.T, p string) Owner {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return Owner{int(st.Uid), int(st.Gid)}
}

// trustedDir is a fresh root-owned 0755 directory under the test's
// temporary directory.
func trustedDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "unit")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	return d
}

func TestWriteFile(t *testing.T) {
	needRoot(t)
	t.Run("writes, sets mode and owner, then changes nothing", func(t *testing.T) {
		d := trustedDir(t)
		p := filepath.Join(d, "f")
		if changed, err := WriteFile(p, []byte("one"), 0o640, nobody); err != nil || !changed {
			t.Fatalf("changed %v err %v", changed, err)
		}
		fi, _ := os.Lstat(p)
		if fi.Mode().Perm() != 0o640 || ownerOf(t, p) != nobody {
			t.Errorf("mode %v owner %v", fi.Mode().Perm(), ownerOf(t, p))
		}
		if changed, err := WriteFile(p, []byte("one"), 0o640, nobody); err != nil || changed {
			t.Errorf("second write: changed %v err %v", changed, err)
		}
		if changed, err := WriteFile(p, []byte("one"), 0o600, nobody); err != nil || !changed {
			t.Errorf("mode change: changed %v err %v", changed, err)
		}
		ents, _ := os.ReadDir(d)
		if len(ents) != 1 {
			t.Errorf("left behind: %v", ents)
		}
	})
	t.Run("a link planted at the target is replaced, its target untouched", func(t *testing.T) {
		d := trustedDir(t)
		canary := filepath.Join(t.TempDir(), "canary")
		os.WriteFile(canary, []byte("canary"), 0o666)
		p := filepath.Join(d, "f")
		os.Symlink(canary, p)
		if _, err := WriteFile(p, []byte("secret"), 0o600, nobody); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(canary); string(b) != "canary" || ownerOf(t, canary) != Root {
			t.Errorf("canary is %q owned by %v", b, ownerOf(t, canary))
		}
		if fi, _ := os.Lstat(p); !fi.Mode().IsRegular() {
			t.Errorf("target is %v", fi.Mode())
		}
	})
	t.Run("links planted at guessable temporary names are never followed", func(t *testing.T) {
		d := trustedDir(t)
		canary := filepath.Join(t.TempDir(), "canary")
		os.WriteFile(canary, []byte("canary"), 0o666)
		p := filepath.Join(d, "f")
		// The old writer's name, and CreateTemp's pattern with many
		// suffixes: CreateTemp's O_EXCL fails on an existing name and picks
		// another.
		os.Symlink(canary, p+".new-"+itoa(os.Getpid()))
		for i := 0; i < 200; i++ {
			os.Symlink(canary, filepath.Join(d, ".f."+itoa(i)))
		}
		if _, err := WriteFile(p, []byte("secret"), 0o600, nobody); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(canary); string(b) != "canary" || ownerOf(t, canary) != Root {
			t.Errorf("canary is %q owned by %v", b, ownerOf(t, canary))
		}
	})
	t.Run("a root-owned file is refused in a directory another user owns", func(t *testing.T) {
		d := trustedDir(t)
		os.Chown(d, nobody.UID, nobody.GID)
		if _, err := WriteFile(filepath.Join(d, "spec.json"), []byte("{}"), 0o600, Root); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("err %v, want a refusal naming the owner", err)
		}
	})
	t.Run("a root-owned file is refused when the directory is a link", func(t *testing.T) {
		d := trustedDir(t)
		link := filepath.Join(t.TempDir(), "link")
		os.Symlink(d, link)
		if _, err := WriteFile(filepath.Join(link, "f"), []byte("x"), 0o600, Root); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("err %v, want a refusal naming the link", err)
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestReadTrusted(t *testing.T) {
	needRoot(t)
	d := trustedDir(t)
	p := filepath.Join(d, "x.pid")
	os.WriteFile(p, []byte("42\n"), 0o644)
	if b, err := ReadTrusted(p); err != nil || string(b) != "42\n" {
		t.Fatalf("%q %v", b, err)
	}
	// A link, a file someone else owns, a directory someone else owns.
	target := filepath.Join(d, "target")
	os.WriteFile(target, []byte("1\n"), 0o644)
	link := filepath.Join(d, "link.pid")
	os.Symlink(target, link)
	if _, err := ReadTrusted(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("link: %v", err)
	}
	os.Chown(target, nobody.UID, nobody.GID)
	if _, err := ReadTrusted(target); err == nil {
		t.Error("a file owned by another user was trusted")
	}
	os.Chown(d, nobody.UID, nobody.GID)
	if _, err := ReadTrusted(p); err == nil {
		t.Error("a file in a directory owned by another user was trusted")
	}
	if _, err := ReadTrusted(filepath.Join(trustedDir(t), "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v, want not-exist", err)
	}
}

func TestEnsureDir(t *testing.T) {
	needRoot(t)
	t.Run("creates and repairs", func(t *testing.T) {
		d := filepath.Join(trustedDir(t), "patroni")
		if changed, err := EnsureDir(d, 0o700, nobody); err != nil || !changed {
			t.Fatalf("changed %v err %v", changed, err)
		}
		if changed, err := EnsureDir(d, 0o700, nobody); err != nil || changed {
			t.Errorf("again: changed %v err %v", changed, err)
		}
		os.Chmod(d, 0o777)
		os.Chown(d, 0, 0)
		if changed, err := EnsureDir(d, 0o700, nobody); err != nil || !changed {
			t.Errorf("repair: changed %v err %v", changed, err)
		}
		if fi, _ := os.Lstat(d); fi.Mode().Perm() != 0o700 || ownerOf(t, d) != nobody {
			t.Errorf("mode %v owner %v", fi.Mode().Perm(), ownerOf(t, d))
		}
	})
	t.Run("a link is refused and its target untouched", func(t *testing.T) {
		victim := trustedDir(t)
		d := filepath.Join(trustedDir(t), "patroni")
		os.Symlink(victim, d)
		if _, err := EnsureDir(d, 0o700, nobody); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("err %v", err)
		}
		if ownerOf(t, victim) != Root {
			t.Errorf("the link's target was re-owned")
		}
	})
	t.Run("a root directory owned by another user is refused, not repaired", func(t *testing.T) {
		d := filepath.Join(trustedDir(t), "run")
		os.Mkdir(d, 0o755)
		os.Chown(d, nobody.UID, nobody.GID)
		if _, err := EnsureDir(d, 0o755, Root); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("err %v", err)
		}
		if ownerOf(t, d) != nobody {
			t.Error("it was repaired")
		}
	})
	t.Run("CheckTrustedDir refuses a group-writable or foreign ancestor", func(t *testing.T) {
		top := trustedDir(t)
		d := filepath.Join(top, "a", "b")
		os.MkdirAll(d, 0o755)
		if err := CheckTrustedDir(d); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(top, "a"), 0o775)
		if err := CheckTrustedDir(d); err == nil || !strings.Contains(err.Error(), "writable") {
			t.Errorf("err %v", err)
		}
		os.Chmod(filepath.Join(top, "a"), 0o755)
		os.Chown(filepath.Join(top, "a"), nobody.UID, nobody.GID)
		if err := CheckTrustedDir(d); err == nil {
			t.Error("a foreign ancestor passed")
		}
	})
}

func TestOpenAppendRefusesLink(t *testing.T) {
	needRoot(t)
	d := trustedDir(t)
	canary := filepath.Join(t.TempDir(), "canary")
	os.WriteFile(canary, []byte("canary"), 0o666)
	log := filepath.Join(d, "etcd.log")
	os.Symlink(canary, log)
	if f, err := OpenAppend(log, 0o640); err == nil {
		f.Close()
		t.Fatal("opened through a link")
	}
	os.Remove(log)
	f, err := OpenAppend(log, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("line\n")
	f.Close()
	if b, _ := os.ReadFile(log); string(b) != "line\n" {
		t.Errorf("%q", b)
	}
}

func TestChownTree(t *testing.T) {
	needRoot(t)
	d := trustedDir(t)
	outside := filepath.Join(t.TempDir(), "outside")
	os.WriteFile(outside, nil, 0o600)
	os.MkdirAll(filepath.Join(d, "member", "wal"), 0o700)
	os.WriteFile(filepath.Join(d, "member", "wal", "0.wal"), nil, 0o600)
	os.Symlink(outside, filepath.Join(d, "member", "link"))
	if err := ChownTree(d, nobody); err != nil {
		t.Fatal(err)
	}
	if ownerOf(t, filepath.Join(d, "member", "wal", "0.wal")) != nobody || ownerOf(t, outside) != Root {
		t.Errorf("wal %v outside %v", ownerOf(t, filepath.Join(d, "member", "wal", "0.wal")), ownerOf(t, outside))
	}
}
