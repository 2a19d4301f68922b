// Package hooktools implements the Juju hook tools (relation-get, config-get,
// secret-add, ...) as localjuju serves them: the command line of each tool is
// parsed exactly as Juju 3.6 parses it (flags, key=value rules, error strings,
// exit codes 2 for usage and 1 for run errors) and its result is printed in
// the smart, yaml or json format (shared/juju-contract.md §2).
//
// The package is pure with respect to the model: everything a tool reads or
// writes goes through the Context interface, which the unit agent implements.
//
// Entry point:
//
//	code, stdout, stderr := hooktools.Run(ctx, "relation-get", args, Input{Dir: cwd, Stdin: ...})
//
// Run returns ErrNeedStdin-style behaviour through Input.StdinSet: a tool that
// reads "-" from stdin when StdinSet is false returns code -1 with
// NeedStdin=true so the client resends with its stdin (contract §1.7).
package hooktools
