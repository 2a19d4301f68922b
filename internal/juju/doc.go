// Package juju is the charm's side of the Juju hook runtime contract
// (shared/juju-contract.md): a client for the hook tools, the hook
// environment and the event it names, the dispatcher that maps an event to a
// handler, the status collector and a log/slog handler that forwards to
// juju-log without ever printing a secret.
//
// The hook-tool client exec's the tools found on PATH with the hook's
// environment, one func per tool, always with --format=json where the tool
// has an output format. A failed tool returns a *ToolError; the sentinels
// (ErrPermissionDenied, ErrNotLeader, ErrNotFound, ...) match it with
// errors.Is. Secret values never appear in a tool's argv: relation-set and
// state-set take JSON on stdin, secret-add and secret-set a temporary 0600
// file.
//
// Juju's databag and leadership rules are enforced one level up, in package
// model; package jujutest has the in-memory fake of Backend.
package juju
