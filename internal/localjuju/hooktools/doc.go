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
//	res := hooktools.Run(ctx, "relation-get", args, hooktools.Input{Dir: cwd})
//	// res.Code, res.Stdout, res.Stderr go back to the client.
//
// A tool that reads "-" from stdin when Input.StdinSet is false does nothing
// and returns Result{Code: -1, NeedStdin: true}; the server then answers the
// client with "hook tool requires stdin, none supplied" so it resends with its
// stdin (contract §1.7). Names lists every tool for the tools directory.
//
// Optional interfaces: a Context that also implements Rebooter supports
// juju-reboot, one that implements CredentialGetter supports credential-get;
// otherwise those tools fail as documented on them.
package hooktools
