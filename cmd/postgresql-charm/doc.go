// Command postgresql-charm is the postgresql charm's dispatch binary: Juju
// runs it for every hook and action (contract §1.1). It reads the hook
// environment, derives the event, dispatches it to the charm's handlers and
// exits 0 on success, 1 when the hook or action failed.
package main
