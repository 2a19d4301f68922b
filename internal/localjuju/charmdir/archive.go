package charmdir

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MarkerFile is written at the root of every unpacked charm; it holds the
// charm URL (see UnpackOptions.CharmURL).
const MarkerFile = ".juju-charm"

// fixedMTime is the modification time of every entry written by Pack, so
// that the same tree always yields the same bytes.
var fixedMTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// PackOptions tunes packing.
type PackOptions struct {
	// ForceDispatchExec writes "dispatch" as 0755 whatever its mode on
	// disk. Juju never does this; Pack (the build tool) does.
	ForceDispatchExec bool
	// Revision, if >= 0, adds a "revision" file as Juju's ArchiveTo does.
	Revision int
}

// Pack writes srcDir as a .charm zip: metadata.yaml first, then every other
// entry sorted by path, all with a fixed mtime; Unix modes (0755 for
// dispatch and for owner-executable files and directories, 0644 otherwise,
// symlinks as symlink entries whose relative, in-tree target is checked);
// .jujuignore (plus Juju's default ignores such as .git) is honoured.
func Pack(srcDir, charmFile string) error {
	return PackWith(srcDir, charmFile, PackOptions{ForceDispatchExec: true, Revision: -1})
}

// PackWith is Pack with options.
func PackWith(srcDir, charmFile string, opts PackOptions) error {
	var buf bytes.Buffer
	if err := packTo(&buf, srcDir, opts); err != nil {
		return err
	}
	tmp := charmFile + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, charmFile)
}

type packEntry struct {
	rel  string // slash-separated, dirs without trailing slash
	abs  string
	mode fs.FileMode
}

func packTo(w io.Writer, srcDir string, opts PackOptions) error {
	root, err := filepath.EvalSymlinks(srcDir)
	if err != nil {
		return fmt.Errorf("resolving symlinked root path: %w", err)
	}
	meta, err := os.ReadFile(filepath.Join(root, "metadata.yaml"))
	if err != nil {
		return fmt.Errorf(`reading "metadata.yaml" file: %w`, err)
	}
	md, err := ParseMetadata(meta)
	if err != nil {
		return fmt.Errorf(`parsing "metadata.yaml" file: %w`, err)
	}
	hooks := md.Hooks()
	rules, err := loadIgnoreRules(root)
	if err != nil {
		return err
	}
	var entries []packEntry
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("visiting %q: %w", p, err)
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rules.Match(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch info.Mode().Type() {
		case 0, fs.ModeDir, fs.ModeSymlink:
		case fs.ModeNamedPipe:
			return fmt.Errorf("checking file type %q: file is a named pipe: %q", rel, rel)
		case fs.ModeSocket:
			return fmt.Errorf("checking file type %q: file is a socket: %q", rel, rel)
		default:
			return fmt.Errorf("checking file type %q: file has an unknown type: %q", rel, rel)
		}
		entries = append(entries, packEntry{rel: rel, abs: p, mode: info.Mode()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("walking charm directory: %w", err)
	}
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i].rel, entries[j].rel
		if (a == "metadata.yaml") != (b == "metadata.yaml") {
			return a == "metadata.yaml"
		}
		return a < b
	})
	zw := zip.NewWriter(w)
	if opts.Revision >= 0 {
		if err := addZipFile(zw, "revision", 0o644, []byte(strconv.Itoa(opts.Revision))); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if err := addPackEntry(zw, e, hooks, opts); err != nil {
			return err
		}
	}
	return zw.Close()
}

func addZipFile(zw *zip.Writer, name string, perm fs.FileMode, data []byte) error {
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: fixedMTime}
	h.SetMode(perm)
	fw, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = fw.Write(data)
	return err
}

func addPackEntry(zw *zip.Writer, e packEntry, hooks map[string]bool, opts PackOptions) error {
	mode := e.mode
	h := &zip.FileHeader{Name: e.rel, Method: zip.Deflate, Modified: fixedMTime}
	perm := fs.FileMode(0o644)
	switch {
	case mode&fs.ModeSymlink != 0:
		perm = 0o777
		h.Method = zip.Store
	case mode&0o100 != 0:
		perm = 0o755
	}
	if mode.IsDir() {
		h.Name += "/"
		h.Method = zip.Store
	}
	if mode.IsRegular() {
		if path.Dir(e.rel) == "hooks" && hooks[path.Base(e.rel)] {
			perm |= 0o100 // Juju makes known hooks owner-executable.
		}
		if e.rel == "dispatch" && opts.ForceDispatchExec {
			perm = 0o755
		}
	}
	h.SetMode(mode.Type() | perm)
	fw, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("creating zip header for %q: %w", e.rel, err)
	}
	switch {
	case mode.IsDir():
		return nil
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(e.abs)
		if err != nil {
			return fmt.Errorf("reading symlink target %q: %w", e.abs, err)
		}
		if err := checkPackSymlink(e.rel, target); err != nil {
			return fmt.Errorf("checking symlink target %q: %w", target, err)
		}
		_, err = fw.Write([]byte(filepath.ToSlash(target)))
		return err
	}
	f, err := os.Open(e.abs)
	if err != nil {
		return fmt.Errorf("opening file %q: %w", e.abs, err)
	}
	defer f.Close()
	if _, err := io.Copy(fw, f); err != nil {
		return fmt.Errorf("copying file %q: %w", e.abs, err)
	}
	return nil
}

// checkPackSymlink mirrors juju/charm's checkSymlinkTarget.
func checkPackSymlink(link, target string) error {
	if filepath.IsAbs(target) || path.IsAbs(filepath.ToSlash(target)) {
		return fmt.Errorf("symlink %q is absolute: %q", link, target)
	}
	p := path.Join(path.Dir(link), filepath.ToSlash(target))
	if p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("symlink %q links out of charm: %q", link, target)
	}
	return nil
}

func loadIgnoreRules(root string) (ignoreRules, error) {
	rules, err := parseIgnoreRules(strings.NewReader(defaultJujuIgnore))
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(root, ".jujuignore"))
	if os.IsNotExist(err) {
		return rules, nil
	} else if err != nil {
		return nil, fmt.Errorf(`reading ".jujuignore" file: %w`, err)
	}
	defer f.Close()
	more, err := parseIgnoreRules(f)
	if err != nil {
		return nil, fmt.Errorf(`parsing ".jujuignore" file: %w`, err)
	}
	return append(rules, more...), nil
}

// CopyDir installs the charm directory srcDir into destDir the way `juju
// deploy ./dir` ends up on the unit: packed as Juju's ArchiveTo does
// (.jujuignore and default ignores, owner-exec → 0755 else 0644, known
// hooks made executable, symlinks only if relative and inside; dispatch
// keeps its on-disk exec bit) and unpacked as the unit agent does.
func CopyDir(srcDir, destDir string) error {
	return CopyDirWith(srcDir, destDir, UnpackOptions{})
}

// CopyDirWith is CopyDir with unpack options.
func CopyDirWith(srcDir, destDir string, opts UnpackOptions) error {
	var buf bytes.Buffer
	if err := packTo(&buf, srcDir, PackOptions{Revision: -1}); err != nil {
		return err
	}
	return unpackBytes(buf.Bytes(), destDir, opts)
}

// UnpackOptions tunes Unpack.
type UnpackOptions struct {
	// CharmURL is written into the .juju-charm marker, e.g.
	// "local:postgresql-0". Empty: "local:<name>-<revision>".
	CharmURL string
	// Revision is written to the "revision" file (Juju's ExpandTo always
	// writes one).
	Revision int
}

// Unpack expands a .charm zip into destDir as Juju's upload handler and the
// unit agent do together:
//
//   - the shallowest metadata.yaml marks the charm root ("invalid charm
//     archive: missing metadata.yaml" without one; "invalid charm archive:
//     ambiguous root directory" with two at the same depth). A charm
//     nested in a folder is re-rooted and, like Juju's repack, filtered by
//     its .jujuignore and default ignores, with modes normalised to
//     0755/0644;
//   - modes come from the entries' Unix attributes (umask 022 applied);
//     entries without Unix attributes become 0644 (directories 0755);
//   - symlinks must be relative and stay inside the charm ("symlink "/x"
//     is absolute", "symlink "../x" leads out of scope"); no entry may
//     escape destDir;
//   - known hooks (hooks/install, hooks/<endpoint>-relation-joined, ...)
//     are made owner-executable; dispatch is left as it is;
//   - a "revision" file and the ".juju-charm" marker are written.
func Unpack(charmFile, destDir string) error {
	return UnpackWith(charmFile, destDir, UnpackOptions{})
}

// UnpackWith is Unpack with options.
func UnpackWith(charmFile, destDir string, opts UnpackOptions) error {
	data, err := os.ReadFile(charmFile)
	if err != nil {
		return err
	}
	return unpackBytes(data, destDir, opts)
}

func unpackBytes(data []byte, destDir string, opts UnpackOptions) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("invalid charm archive: %w", err)
	}
	rootDir, err := findArchiveRootDir(zr)
	if err != nil {
		return err
	}
	normalise := false
	var rules ignoreRules
	if rootDir != "." {
		// Juju's upload handler extracts from rootDir and repacks with
		// ArchiveTo: ignore rules apply and modes are normalised.
		normalise = true
		rules, err = parseIgnoreRules(strings.NewReader(defaultJujuIgnore))
		if err != nil {
			return err
		}
		for _, f := range zr.File {
			if path.Clean(f.Name) == rootDir+"/.jujuignore" {
				rc, err := f.Open()
				if err != nil {
					return err
				}
				more, err := parseIgnoreRules(rc)
				rc.Close()
				if err != nil {
					return fmt.Errorf(`parsing ".jujuignore" file: %w`, err)
				}
				rules = append(rules, more...)
			}
		}
		// The version file is regenerated by Juju with the same content.
		rules = append(rules, ignoreRule{re: mustGlob("/version"), negate: true})
	}
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return err
	}
	absDest, err := filepath.Abs(destDir)
	if err != nil {
		return err
	}
	if absDest, err = filepath.EvalSymlinks(absDest); err != nil {
		return err
	}
	x := extractor{root: absDest, sourceRoot: rootDir, normalise: normalise, rules: rules}
	for _, f := range zr.File {
		if err := x.extract(f); err != nil {
			return fmt.Errorf("cannot extract %q: %w", path.Clean(f.Name), err)
		}
	}
	metaData, err := os.ReadFile(filepath.Join(absDest, "metadata.yaml"))
	if err != nil {
		return fmt.Errorf("invalid charm archive: missing metadata.yaml")
	}
	md, err := ParseMetadata(metaData)
	if err != nil {
		return err
	}
	if err := fixHooks(filepath.Join(absDest, "hooks"), md.Hooks()); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(absDest, "revision"), []byte(strconv.Itoa(opts.Revision)), 0o644); err != nil {
		return err
	}
	url := opts.CharmURL
	if url == "" {
		url = fmt.Sprintf("local:%s-%d", md.Name, opts.Revision)
	}
	return os.WriteFile(filepath.Join(absDest, MarkerFile), []byte(url), 0o644)
}

func mustGlob(g string) *regexp.Regexp {
	re, err := globToRegexp(g)
	if err != nil {
		panic(err)
	}
	return re
}

// findArchiveRootDir mirrors juju/juju apiserver/charms.go.
func findArchiveRootDir(zr *zip.Reader) (string, error) {
	var paths []string
	for _, f := range zr.File {
		clean := path.Clean(f.Name)
		if path.Base(clean) == "metadata.yaml" {
			paths = append(paths, clean)
		}
	}
	depth := func(p string) int { return strings.Count(p, "/") }
	switch len(paths) {
	case 0:
		return "", fmt.Errorf("invalid charm archive: missing metadata.yaml")
	case 1:
	default:
		sort.SliceStable(paths, func(i, j int) bool { return depth(paths[i]) < depth(paths[j]) })
		if depth(paths[0]) == depth(paths[1]) {
			return "", fmt.Errorf("invalid charm archive: ambiguous root directory")
		}
	}
	return path.Dir(paths[0]), nil
}

type extractor struct {
	root       string // absolute, symlinks resolved
	sourceRoot string // "." or a slash path inside the zip
	normalise  bool
	rules      ignoreRules
}

// hasUnixMode reports whether the entry carries Unix permission bits.
func hasUnixMode(f *zip.File) bool {
	const creatorUnix, creatorMacOSX = 3, 19
	switch f.CreatorVersion >> 8 {
	case creatorUnix, creatorMacOSX:
		return f.ExternalAttrs>>16 != 0
	}
	return false
}

func (x extractor) extract(f *zip.File) error {
	name := f.Name
	if strings.Contains(name, "\\") {
		name = strings.ReplaceAll(name, "\\", "/")
	}
	if path.IsAbs(name) {
		return fmt.Errorf("path %q is absolute", f.Name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("path %q leads out of scope", f.Name)
	}
	rel := clean
	if x.sourceRoot != "." {
		if clean == x.sourceRoot {
			return nil
		}
		if !strings.HasPrefix(clean, x.sourceRoot+"/") {
			return nil // outside the charm root: dropped by Juju's repack
		}
		rel = clean[len(x.sourceRoot)+1:]
	}
	if rel == "." {
		return nil
	}
	mode := f.Mode()
	isDir := mode.IsDir() || strings.HasSuffix(name, "/")
	if x.rules != nil && x.ignored(rel, isDir) {
		return nil
	}
	target := filepath.Join(x.root, filepath.FromSlash(rel))
	if err := x.checkInside(filepath.Dir(target)); err != nil {
		return err
	}
	var perm fs.FileMode
	switch {
	case !hasUnixMode(f):
		perm = 0o644
		if isDir {
			perm = 0o755
		}
	default:
		perm = mode.Perm() &^ 0o022
	}
	if x.normalise && !isDir && mode&fs.ModeSymlink == 0 {
		if perm&0o100 != 0 {
			perm = 0o755
		} else {
			perm = 0o644
		}
	}
	if isDir {
		perm |= 0o700 // directories must stay usable
		if x.normalise {
			perm = 0o755
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	switch {
	case isDir:
		return writeDir(target, perm)
	case mode&fs.ModeSymlink != 0:
		return x.writeSymlink(target, f)
	case mode.Type() == 0:
		return writeFile(target, f, perm)
	}
	return fmt.Errorf("unknown file type %v", mode.Type())
}

// ignored checks a path and each of its parent directories against the
// repack ignore rules (a skipped directory drops everything below it).
func (x extractor) ignored(rel string, isDir bool) bool {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if x.rules.Match(strings.Join(parts[:i], "/"), true) {
			return true
		}
	}
	return x.rules.Match(rel, isDir)
}

// checkInside verifies that dir, with symlinks resolved as far as it
// exists, is within the extraction root.
func (x extractor) checkInside(dir string) error {
	existing := dir
	var rest []string
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		rest = append([]string{filepath.Base(existing)}, rest...)
		existing = parent
	}
	resolved, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return err
	}
	full := filepath.Join(append([]string{resolved}, rest...)...)
	r, err := filepath.Rel(x.root, full)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return fmt.Errorf("path %q leads out of scope", dir)
	}
	return nil
}

func writeDir(target string, perm fs.FileMode) error {
	info, err := os.Lstat(target)
	if err == nil {
		if info.IsDir() {
			return os.Chmod(target, perm)
		}
		if err := os.RemoveAll(target); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(target, perm); err != nil {
		return err
	}
	return os.Chmod(target, perm)
}

func writeFile(target string, f *zip.File, perm fs.FileMode) error {
	if _, err := os.Lstat(target); err == nil {
		if err := os.RemoveAll(target); err != nil {
			return err
		}
	}
	out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		out.Close()
		return err
	}
	_, err = io.Copy(out, rc)
	rc.Close()
	if err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(target, perm)
}

func (x extractor) writeSymlink(target string, f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(rc, 4096))
	rc.Close()
	if err != nil {
		return err
	}
	link := string(data)
	if filepath.IsAbs(link) || path.IsAbs(link) {
		return fmt.Errorf("symlink %q is absolute", link)
	}
	final := filepath.Join(filepath.Dir(target), filepath.FromSlash(link))
	r, err := filepath.Rel(x.root, final)
	if err != nil {
		return fmt.Errorf("symlink %q not comprehensible", link)
	}
	if r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return fmt.Errorf("symlink %q leads out of scope", link)
	}
	if _, err := os.Lstat(target); err == nil {
		if err := os.RemoveAll(target); err != nil {
			return err
		}
	}
	return os.Symlink(link, target)
}

// fixHooks makes known hooks owner-executable, as juju/charm ExpandTo does.
func fixHooks(hooksDir string, hooks map[string]bool) error {
	entries, err := os.ReadDir(hooksDir)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	for _, e := range entries {
		if !hooks[e.Name()] || e.IsDir() {
			continue
		}
		p := filepath.Join(hooksDir, e.Name())
		info, err := os.Lstat(p) // symlinks (hooks/x -> ../dispatch) are left alone
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if info.Mode()&0o100 == 0 {
			if err := os.Chmod(p, info.Mode().Perm()|0o100); err != nil {
				return err
			}
		}
	}
	return nil
}
