package pgconftest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// Catalogue15 parses PostgreSQL 15's catalogue.
func Catalogue15(t testing.TB) pgconf.Catalogue {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(here), "..", "testdata", "describe-config-15.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cat, err := pgconf.ParseCatalogue(f)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}
