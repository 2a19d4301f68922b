//go:build !nohandlers

package main

import (
	"github.com/pgjuju/pgjuju/internal/charm"
	"github.com/pgjuju/pgjuju/internal/juju"
)

// register wires the charm's handlers into d.
func register(d *juju.Dispatcher) { charm.Register(d) }
