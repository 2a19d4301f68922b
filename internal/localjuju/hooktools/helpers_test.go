package hooktools

import (
	"os"
	"path/filepath"
	"testing"
)

// writeFile writes name with content in a fresh temporary directory and
// returns the directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
