// Package controller is localjuju's controller and unit agents: it owns the
// model (applications, units, machines, relations, secrets, leadership),
// persists it under the model home, and runs one agent per unit that decides
// the next hook exactly as Juju's uniter resolver does
// (shared/juju-contract.md §3) and executes it in the unit's machine.
//
// The Model type is the Go API: the localjuju CLI reaches the same methods
// through the controller's unix socket (see Server), and tests call them
// in-process.
//
// Layout of the model home:
//
//	<home>/model.json                     persisted state
//	<home>/controller.sock                CLI socket
//	<home>/debug.log                      debug log
//
// and, outside the home so that daemons running as other users can reach
// them (as under /var/lib/juju), with <root> = /var/lib/localjuju/<netns>:
//
//	<root>/<n>/agents/unit-<app>-<i>/charm   JUJU_CHARM_DIR
//	<root>/<n>/agents/unit-<app>-<i>/agent.socket, run.socket (0700)
//	<root>/<n>/tools/unit-<app>-<i>/         hook tools, first on PATH
//	<root>/<n>/storage/<name>-<id>/          storage instances
package controller
