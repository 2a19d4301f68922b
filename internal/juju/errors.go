package juju

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors matched against a *ToolError with errors.Is. They are also
// returned (wrapped) by package model when it refuses an operation before any
// tool runs, so callers check one set of errors whichever layer refused.
var (
	// ErrPermissionDenied: the unit may not read or write what it asked for,
	// e.g. a non-leader reading its own application databag in a non-peer
	// relation (contract §4).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrNotLeader: the operation needs the leadership lease, e.g.
	// leader-set, status-set --application, an application-owned secret.
	ErrNotLeader = errors.New("not the leader")
	// ErrNotFound: the thing named does not exist (unit settings, secret,
	// relation, storage, state key with --strict).
	ErrNotFound = errors.New("not found")
	// ErrNotRunningAction: an action-* tool was called outside an action.
	ErrNotRunningAction = errors.New("not running an action")
	// ErrUsage: the tool rejected its flags or arguments (exit code 2).
	ErrUsage = errors.New("invalid hook tool usage")
	// ErrToolMissing: the tool is not on PATH (not running under a Juju
	// agent, or a tool this Juju version lacks, like secret-* on 2.9).
	ErrToolMissing = errors.New("hook tool not found on PATH")
)

// ToolError is a hook tool that ran and exited non-zero. Args has secret
// values redacted; Stderr is the tool's standard error with the "ERROR "
// prefix kept, trimmed of surrounding space.
type ToolError struct {
	Command  string
	Args     []string
	ExitCode int
	Stderr   string
}

// Error reads like `relation-get -r db:3 --format=json: exit status 1: ERROR
// permission denied`.
func (e *ToolError) Error() string {
	var b strings.Builder
	b.WriteString(e.Command)
	for _, a := range e.Args {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	fmt.Fprintf(&b, ": exit status %d", e.ExitCode)
	if e.Stderr != "" {
		b.WriteString(": ")
		b.WriteString(e.Stderr)
	}
	return b.String()
}

// Is matches the sentinels from the tool's exit code and Juju's error texts
// (contract §2.3).
func (e *ToolError) Is(target error) bool {
	msg := strings.ToLower(e.Stderr)
	switch target {
	case ErrUsage:
		return e.ExitCode == 2
	case ErrPermissionDenied:
		return strings.Contains(msg, "permission denied") ||
			strings.Contains(msg, "cannot write relation settings")
	case ErrNotLeader:
		return strings.Contains(msg, "not the leader") ||
			strings.Contains(msg, "cannot write relation settings")
	case ErrNotFound:
		return strings.Contains(msg, "not found")
	case ErrNotRunningAction:
		return strings.Contains(msg, "not running an action")
	}
	return false
}
