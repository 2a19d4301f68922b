//go:build nohandlers

package main

import "github.com/pgjuju/pgjuju/internal/juju"

// register with the nohandlers tag leaves every event a no-op, so the
// dispatch plumbing (event parsing, logging, exit codes) can be tested and
// timed on its own.
func register(d *juju.Dispatcher) {}
