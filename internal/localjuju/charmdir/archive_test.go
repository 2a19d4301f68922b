package charmdir

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const miniMeta = "name: pg\nsummary: s\ndescription: d\nrequires:\n  db: pgsql\n"

func modeOf(t *testing.T, p string) fs.FileMode {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode()
}

func TestPackUnpackRoundTrip(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"metadata.yaml":        miniMeta,
		"dispatch*":            "#!/bin/sh\necho hi\n",
		"hooks/install":        "->../dispatch",
		"src/lib.txt":          "lib",
		"bin/tool*":            "#!/bin/sh\n",
		"templates/link":       "->../src/lib.txt",
		".git/config":          "x",
		"notes.tmp":            "ignored",
		"keep/notes.tmp":       "also ignored",
		".jujuignore":          "# comment\n*.tmp\n/build/\n",
		"build/out":            "ignored",
		"other/build/out.txt":  "kept, /build/ is anchored",
		"data/nested/file.txt": "deep",
	})
	charm := filepath.Join(t.TempDir(), "pg.charm")
	if err := Pack(src, charm); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "charm")
	if err := Unpack(charm, dest); err != nil {
		t.Fatal(err)
	}
	if m := modeOf(t, filepath.Join(dest, "dispatch")); m.Perm() != 0o755 {
		t.Errorf("dispatch mode %v, want 0755", m)
	}
	if m := modeOf(t, filepath.Join(dest, "bin/tool")); m.Perm() != 0o755 {
		t.Errorf("bin/tool mode %v, want 0755", m)
	}
	if m := modeOf(t, filepath.Join(dest, "src/lib.txt")); m.Perm() != 0o644 {
		t.Errorf("src/lib.txt mode %v, want 0644", m)
	}
	for link, want := range map[string]string{"hooks/install": "../dispatch", "templates/link": "../src/lib.txt"} {
		got, err := os.Readlink(filepath.Join(dest, link))
		if err != nil || got != want {
			t.Errorf("symlink %s -> %q (%v), want %q", link, got, err, want)
		}
	}
	for _, gone := range []string{".git", "notes.tmp", "keep/notes.tmp", "build", ".jujuignore"} {
		if _, err := os.Lstat(filepath.Join(dest, gone)); err == nil {
			t.Errorf("%s should have been ignored", gone)
		}
	}
	for _, kept := range []string{"other/build/out.txt", "data/nested/file.txt"} {
		if _, err := os.Lstat(filepath.Join(dest, kept)); err != nil {
			t.Errorf("%s should be kept: %v", kept, err)
		}
	}
	marker, err := os.ReadFile(filepath.Join(dest, MarkerFile))
	if err != nil || string(marker) != "local:pg-0" {
		t.Errorf("marker %q %v", marker, err)
	}
	if rev, _ := os.ReadFile(filepath.Join(dest, "revision")); string(rev) != "0" {
		t.Errorf("revision file %q", rev)
	}
}

func TestPackIsDeterministicAndMetadataFirst(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{"metadata.yaml": miniMeta, "dispatch": "#!/bin/sh\n", "a.txt": "a", "z/b.txt": "b"})
	p1 := filepath.Join(t.TempDir(), "1.charm")
	p2 := filepath.Join(t.TempDir(), "2.charm")
	if err := Pack(src, p1); err != nil {
		t.Fatal(err)
	}
	// Touch a file: mtimes must not matter.
	os.Chtimes(filepath.Join(src, "a.txt"), fixedMTime.AddDate(30, 0, 0), fixedMTime.AddDate(30, 0, 0))
	if err := Pack(src, p2); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if !bytes.Equal(b1, b2) {
		t.Fatal("packing the same tree twice gave different bytes")
	}
	zr, err := zip.OpenReader(p1)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Name == "dispatch" && f.Mode().Perm() != 0o755 {
			t.Errorf("Pack must write dispatch 0755 even when it is not executable on disk, got %v", f.Mode())
		}
	}
	want := "metadata.yaml,a.txt,dispatch,z/,z/b.txt"
	if strings.Join(names, ",") != want {
		t.Errorf("entries %v, want %s", names, want)
	}
}

func TestPackRejectsBadSymlinks(t *testing.T) {
	tests := []struct {
		sentence, target, wantErr string
	}{
		{"an absolute symlink is refused", "/etc/passwd", `symlink "hooks/x" is absolute: "/etc/passwd"`},
		{"a symlink out of the charm is refused", "../../outside", `symlink "hooks/x" links out of charm: "../../outside"`},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			src := t.TempDir()
			writeTree(t, src, map[string]string{"metadata.yaml": miniMeta, "hooks/x": "->" + tt.target})
			err := Pack(src, filepath.Join(t.TempDir(), "c.charm"))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}

type zipEntry struct {
	name   string
	body   string
	mode   fs.FileMode // includes ModeSymlink / ModeDir
	noUnix bool        // written without Unix attributes (FAT creator)
}

func makeZip(t *testing.T, entries ...zipEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.noUnix {
			h.CreatorVersion = 0 // MS-DOS/FAT: no Unix mode bits
			h.ExternalAttrs = 0
		} else {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "test.charm")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUnpackRejects(t *testing.T) {
	meta := zipEntry{name: "metadata.yaml", body: miniMeta, mode: 0o644}
	tests := []struct {
		sentence string
		entries  []zipEntry
		wantErr  string
	}{
		{"an absolute symlink is refused", []zipEntry{meta, {name: "hooks/install", body: "/bin/sh", mode: fs.ModeSymlink | 0o777}},
			`cannot extract "hooks/install": symlink "/bin/sh" is absolute`},
		{"a symlink leading out of the charm is refused", []zipEntry{meta, {name: "hooks/install", body: "../../x", mode: fs.ModeSymlink | 0o777}},
			`cannot extract "hooks/install": symlink "../../x" leads out of scope`},
		{"a zip-slip path is refused", []zipEntry{meta, {name: "../../evil", body: "x", mode: 0o644}},
			`leads out of scope`},
		{"a zip-slip path hidden behind a subdirectory is refused", []zipEntry{meta, {name: "a/../../evil", body: "x", mode: 0o644}},
			`leads out of scope`},
		{"an absolute entry path is refused", []zipEntry{meta, {name: "/etc/evil", body: "x", mode: 0o644}},
			`is absolute`},
		{"a zip without metadata.yaml is invalid", []zipEntry{{name: "dispatch", body: "x", mode: 0o755}},
			`invalid charm archive: missing metadata.yaml`},
		{"two metadata.yaml at the shallowest depth are ambiguous", []zipEntry{{name: "a/metadata.yaml", body: miniMeta, mode: 0o644}, {name: "b/metadata.yaml", body: miniMeta, mode: 0o644}},
			`invalid charm archive: ambiguous root directory`},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			parent := t.TempDir()
			dest := filepath.Join(parent, "x", "charm")
			err := Unpack(makeZip(t, tt.entries...), dest)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
			}
			if _, err := os.Lstat(filepath.Join(parent, "evil")); err == nil {
				t.Fatal("a file escaped the destination")
			}
			if _, err := os.Lstat(filepath.Join(parent, "x", "evil")); err == nil {
				t.Fatal("a file escaped the destination")
			}
		})
	}
}

func TestUnpackDoesNotWriteThroughSymlinksLeftInDest(t *testing.T) {
	// A charm may create links in $CHARM_DIR at run time; unpacking an
	// upgrade over it must not write through a link that leads outside.
	outside := t.TempDir()
	dest := filepath.Join(t.TempDir(), "charm")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dest, "cache")); err != nil {
		t.Fatal(err)
	}
	p := makeZip(t,
		zipEntry{name: "metadata.yaml", body: miniMeta, mode: 0o644},
		zipEntry{name: "cache/evil", body: "x", mode: 0o644},
	)
	if err := Unpack(p, dest); err == nil || !strings.Contains(err.Error(), "leads out of scope") {
		t.Fatalf("writing through an outward symlink must be refused, got %v", err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "evil")); err == nil {
		t.Fatal("a file was written outside the destination")
	}
}

func TestUnpackRefusesSymlinkToParent(t *testing.T) {
	p := makeZip(t,
		zipEntry{name: "metadata.yaml", body: miniMeta, mode: 0o644},
		zipEntry{name: "up", body: "..", mode: fs.ModeSymlink | 0o777},
	)
	if err := Unpack(p, filepath.Join(t.TempDir(), "charm")); err == nil || !strings.Contains(err.Error(), `symlink ".." leads out of scope`) {
		t.Fatalf("a symlink to the parent must be refused, got %v", err)
	}
}

func TestUnpackNestedCharmIsReRooted(t *testing.T) {
	p := makeZip(t,
		zipEntry{name: "pg/", mode: fs.ModeDir | 0o755},
		zipEntry{name: "pg/metadata.yaml", body: miniMeta, mode: 0o600},
		zipEntry{name: "pg/dispatch", body: "#!/bin/sh\n", mode: 0o700},
		zipEntry{name: "pg/hooks/install", body: "#!/bin/sh\n", mode: 0o644},
		zipEntry{name: "pg/lib/metadata.yaml", body: "deeper metadata does not count", mode: 0o644},
		zipEntry{name: "pg/.git/HEAD", body: "ref", mode: 0o644},
		zipEntry{name: "README", body: "outside the charm root", mode: 0o644},
	)
	dest := filepath.Join(t.TempDir(), "charm")
	if err := Unpack(p, dest); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dest, "metadata.yaml")); err != nil {
		t.Fatalf("metadata.yaml not at the root: %v", err)
	}
	if m := modeOf(t, filepath.Join(dest, "metadata.yaml")); m.Perm() != 0o644 {
		t.Errorf("repacked file mode %v, want 0644 (Juju's repack normalises)", m)
	}
	if m := modeOf(t, filepath.Join(dest, "dispatch")); m.Perm() != 0o755 {
		t.Errorf("repacked dispatch mode %v, want 0755", m)
	}
	if m := modeOf(t, filepath.Join(dest, "hooks/install")); m&0o100 == 0 {
		t.Errorf("a known hook must be made owner-executable, got %v", m)
	}
	if _, err := os.Stat(filepath.Join(dest, "lib/metadata.yaml")); err != nil {
		t.Errorf("deeper files are kept: %v", err)
	}
	for _, gone := range []string{"pg", "README", ".git"} {
		if _, err := os.Lstat(filepath.Join(dest, gone)); err == nil {
			t.Errorf("%s must not be unpacked", gone)
		}
	}
}

func TestUnpackModes(t *testing.T) {
	p := makeZip(t,
		zipEntry{name: "metadata.yaml", body: miniMeta, noUnix: true},
		zipEntry{name: "dispatch", body: "#!/bin/sh\n", noUnix: true},
		zipEntry{name: "bin/", noUnix: true},
		zipEntry{name: "bin/run", body: "x", mode: 0o750},
		zipEntry{name: "secret", body: "x", mode: 0o600},
		zipEntry{name: "wide", body: "x", mode: 0o777},
	)
	dest := filepath.Join(t.TempDir(), "charm")
	if err := Unpack(p, dest); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sentence string
		path     string
		want     fs.FileMode
	}{
		{"an entry without unix mode comes out 0644", "metadata.yaml", 0o644},
		{"a dispatch without unix mode is not made executable", "dispatch", 0o644},
		{"a directory without unix mode comes out 0755", "bin", 0o755},
		{"unix modes are kept", "bin/run", 0o750},
		{"private modes are kept", "secret", 0o600},
		{"group/other write is masked like umask 022", "wide", 0o755},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			if got := modeOf(t, filepath.Join(dest, tt.path)).Perm(); got != tt.want {
				t.Errorf("%s: mode %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func TestCopyDirKeepsJujuSemantics(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"metadata.yaml":            miniMeta,
		"dispatch":                 "#!/bin/sh\n", // not executable: Juju does not fix it
		"hooks/start":              "#!/bin/sh\n", // known hook: Juju fixes it
		"hooks/db-relation-joined": "->start",
		"run*":                     "#!/bin/sh\n",
		".git/HEAD":                "x",
		".jujuignore":              "*.log\n!keep.log\n",
		"a.log":                    "x",
		"keep.log":                 "x",
	})
	dest := filepath.Join(t.TempDir(), "charm")
	if err := CopyDirWith(src, dest, UnpackOptions{CharmURL: "local:pg-3", Revision: 3}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sentence string
		path     string
		want     fs.FileMode
	}{
		{"a non-executable dispatch stays 0644", "dispatch", 0o644},
		{"a known hook becomes owner-executable", "hooks/start", 0o744},
		{"an executable file is 0755", "run", 0o755},
		{"a negated ignore rule keeps the file", "keep.log", 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			if got := modeOf(t, filepath.Join(dest, tt.path)).Perm(); got != tt.want {
				t.Errorf("%s: mode %v, want %v", tt.path, got, tt.want)
			}
		})
	}
	if l, err := os.Readlink(filepath.Join(dest, "hooks/db-relation-joined")); err != nil || l != "start" {
		t.Errorf("relative symlink not kept: %q %v", l, err)
	}
	for _, gone := range []string{".git", "a.log"} {
		if _, err := os.Lstat(filepath.Join(dest, gone)); err == nil {
			t.Errorf("%s should be ignored", gone)
		}
	}
	if m, _ := os.ReadFile(filepath.Join(dest, MarkerFile)); string(m) != "local:pg-3" {
		t.Errorf("marker %q", m)
	}
}

func TestIgnoreRules(t *testing.T) {
	rules, err := parseIgnoreRules(strings.NewReader(defaultJujuIgnore + "\n# c\n*.pyc\n/top.txt\nvenv/\ndocs/**/draft\n!docs/a/draft\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sentence string
		path     string
		dir      bool
		ignored  bool
	}{
		{".git is ignored by default", ".git", true, true},
		{"a nested .git is ignored too", "sub/.git", true, true},
		{"a glob matches at any depth", "a/b/c.pyc", false, true},
		{"an anchored pattern matches only at the root", "top.txt", false, true},
		{"an anchored pattern does not match deeper", "x/top.txt", false, false},
		{"a directory-only rule ignores directories", "venv", true, true},
		{"a directory-only rule keeps files", "venv", false, false},
		{"** matches zero directories", "docs/draft", false, true},
		{"** matches several directories", "docs/x/y/draft", false, true},
		{"a negation re-includes", "docs/a/draft", false, false},
		{"/build/ only at the root", "src/build", true, false},
		{"/revision is ignored", "revision", false, true},
		{"ordinary files are kept", "src/main.go", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			if got := rules.Match(tt.path, tt.dir); got != tt.ignored {
				t.Errorf("Match(%q, dir=%v) = %v, want %v", tt.path, tt.dir, got, tt.ignored)
			}
		})
	}
}
