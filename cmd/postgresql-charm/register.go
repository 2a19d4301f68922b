package main

import "github.com/pgjuju/pgjuju/internal/juju"

// register wires the charm's handlers into d. Package internal/charm does
// not exist yet; once it does, this becomes `charm.Register(d)`. Until then
// every event is a successful no-op (logged at debug level).
func register(d *juju.Dispatcher) {}
