package main

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/pgjuju/pgjuju/internal/localjuju/hooktools"
)

func main() {
	name := filepath.Base(os.Args[0])
	switch {
	case name == "juju-exec" || name == "juju-run":
		os.Exit(jujuExecMain(name, os.Args[1:]))
	case slices.Contains(hooktools.Names(), name):
		os.Exit(hookToolMain(name, os.Args[1:]))
	default:
		os.Exit(cliMain(os.Args[1:]))
	}
}
