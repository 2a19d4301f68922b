package safefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Owner is a numeric owner and group.
type Owner struct{ UID, GID int }

// Root is root:root.
var Root = Owner{0, 0}

// IsRoot reports whether o is the root user.
func (o Owner) IsRoot() bool { return o.UID == 0 }

// openFlags opens without following a link at the last component and
// without blocking on a FIFO someone planted.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC

// statOf returns the owner and permission bits of fi.
func statOf(fi fs.FileInfo) (Owner, os.FileMode) {
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil {
		return Owner{-1, -1}, fi.Mode()
	}
	return Owner{int(st.Uid), int(st.Gid)}, fi.Mode()
}

// CheckTrustedDir checks that dir is a directory that no one but root can
// change: not a symbolic link, owned by root, not writable by its group or
// others (unless sticky, like /tmp, where others cannot rename what is not
// theirs). It checks dir and every directory above it.
func CheckTrustedDir(dir string) error {
	dir = filepath.Clean(dir)
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%s: not an absolute path", dir)
	}
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if err := trusted(p, fi); err != nil {
			return err
		}
		if p == "/" {
			return nil
		}
	}
}

func trusted(p string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("refusing %s: it is a symbolic link, where a root-owned directory must be", p)
	case !fi.IsDir():
		return fmt.Errorf("refusing %s: not a directory", p)
	}
	o, mode := statOf(fi)
	if o.UID != 0 {
		return fmt.Errorf("refusing %s: owned by uid %d, where a root-owned directory must be", p, o.UID)
	}
	if mode.Perm()&0o022 != 0 && mode&os.ModeSticky == 0 {
		return fmt.Errorf("refusing %s: writable by its group or others (mode %v)", p, mode.Perm())
	}
	return nil
}

// EnsureDir makes path a directory of the given mode and owner. Its parent
// must exist. A missing directory is created; an existing one has its owner
// and mode repaired, except that a directory meant for root but owned by
// someone else is refused. A symbolic link or a non-directory at path is
// refused. changed says whether anything was created or repaired.
func EnsureDir(path string, mode os.FileMode, o Owner) (changed bool, err error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("creating %s: %w", path, err)
		}
		changed = true
	case err != nil:
		return false, err
	case fi.Mode()&os.ModeSymlink != 0:
		return false, fmt.Errorf("refusing %s: it is a symbolic link, where the unit's directory must be", path)
	case !fi.IsDir():
		return false, fmt.Errorf("refusing %s: not a directory", path)
	default:
		if got, _ := statOf(fi); o.IsRoot() && got.UID != 0 {
			return false, fmt.Errorf("refusing %s: owned by uid %d, where a root-owned directory must be", path, got.UID)
		}
	}
	// Owner and mode go through a descriptor of the directory itself: a
	// link swapped in after the Lstat fails to open instead of redirecting
	// the change.
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_DIRECTORY|openFlags, 0)
	if err != nil {
		return changed, fmt.Errorf("opening %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err = f.Stat()
	if err != nil {
		return changed, err
	}
	got, gotMode := statOf(fi)
	if got != o {
		if err := f.Chown(o.UID, o.GID); err != nil {
			return changed, fmt.Errorf("owning %s: %w", path, err)
		}
		changed = true
	}
	if gotMode.Perm() != mode.Perm() || gotMode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != 0 {
		if err := f.Chmod(mode.Perm()); err != nil {
			return changed, fmt.Errorf("setting the mode of %s: %w", path, err)
		}
		changed = true
	}
	return changed, nil
}

// Open opens path for reading without following a link at its last
// component; a link, or anything but a regular file, is an error (a link
// is reported as such). A missing file is fs.ErrNotExist.
func Open(path string) (*os.File, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|openFlags, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("refusing %s: it is a symbolic link", path)
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("refusing %s: not a regular file", path)
	}
	return f, nil
}

// ReadFile reads a regular file without following links (see Open).
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// ReadTrusted reads a file root-run code acts on (a service spec, a pid
// file): a regular file, not a link, owned by root and writable by no one
// else, in a directory that passes CheckTrustedDir.
func ReadTrusted(path string) ([]byte, error) {
	if err := CheckTrustedDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if o, mode := statOf(fi); o.UID != 0 || mode.Perm()&0o022 != 0 {
		return nil, fmt.Errorf("refusing %s: owned by uid %d with mode %v, where a root-owned file must be", path, o.UID, mode.Perm())
	}
	return io.ReadAll(f)
}

// WriteFile makes path a regular file holding data with the given mode and
// owner, unless it is one already (changed false). The new content goes to
// a fresh temporary file in path's directory, gets its mode and owner
// through the descriptor, is synced and renamed over path: whatever sits
// at path (a link included) is replaced, never written through. The
// directory must not be a link; for a root-owned file it must pass
// CheckTrustedDir, since a directory someone else can write lets them swap
// the file after it is written.
func WriteFile(path string, data []byte, mode os.FileMode, o Owner) (changed bool, err error) {
	dir := filepath.Dir(path)
	if o.IsRoot() {
		if err := CheckTrustedDir(dir); err != nil {
			return false, fmt.Errorf("writing %s: %w", path, err)
		}
	} else if fi, err := os.Lstat(dir); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	} else if !fi.IsDir() {
		return false, fmt.Errorf("writing %s: %s is not a directory (or is a symbolic link)", path, dir)
	}
	if same(path, data, mode, o) {
		return false, nil
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	err = func() error {
		if err := tmp.Chmod(mode.Perm()); err != nil {
			return err
		}
		if err := tmp.Chown(o.UID, o.GID); err != nil {
			return err
		}
		if _, err := tmp.Write(data); err != nil {
			return err
		}
		return tmp.Sync()
	}()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	syncDir(dir)
	return true, nil
}

// same reports whether path is already a regular file (not a link) with
// data, mode and owner.
func same(path string, data []byte, mode os.FileMode, o Owner) bool {
	f, err := Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	if got, gotMode := statOf(fi); got != o || gotMode.Perm() != mode.Perm() || fi.Size() != int64(len(data)) {
		return false
	}
	old, err := io.ReadAll(f)
	return err == nil && bytes.Equal(old, data)
}

// syncDir makes a rename in dir durable; a failure costs only durability.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// OpenAppend opens path for appending (a daemon's log file), creating it
// with mode owned by root; a link at path is refused. Its directory must
// pass CheckTrustedDir.
func OpenAppend(path string, mode os.FileMode) (*os.File, error) {
	if err := CheckTrustedDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CREAT|openFlags, uint32(mode.Perm()))
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("refusing %s: it is a symbolic link", path)
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("refusing %s: not a regular file", path)
	}
	// O_NONBLOCK was only for the open.
	if err := syscall.SetNonblock(fd, false); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ChownTree gives every file and directory under root (root included) to
// o, without following links (a link itself is re-owned, not its target).
// It is for moving a data directory to a daemon's own user.
func ChownTree(root string, o Owner) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, o.UID, o.GID); err != nil {
			return fmt.Errorf("owning %s: %w", p, err)
		}
		return nil
	})
}
