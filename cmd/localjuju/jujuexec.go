package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/localjuju/api"
	"github.com/pgjuju/pgjuju/internal/localjuju/names"
)

const jujuExecUsage = "Usage: juju-exec [-u <unit>] [<unit>] [options] <commands>"

// jujuExecError is a juju-exec failure: its message (printed after
// "ERROR ") and its exit code (contract §5.2).
type jujuExecError struct {
	code int
	msg  string
}

func (e *jujuExecError) Error() string { return e.msg }

func jujuExecErrorf(code int, format string, args ...any) error {
	return &jujuExecError{code: code, msg: fmt.Sprintf(format, args...)}
}

// jujuExecArgs is a juju-exec command line (contract §5.1).
type jujuExecArgs struct {
	Help            bool   // -h/--help: print the usage, exit 0
	Unit            string // -u value or the positional unit, a name or a tag; "" to infer
	NoContext       bool   // --no-context
	Relation        string // -r/--relation value, "db:3" or "3"
	RemoteUnit      string // --remote-unit
	RemoteApp       string // --remote-app: accepted, not passed on (3.6)
	ForceRemoteUnit bool   // --force-remote-unit
	Commands        []string
}

// parseJujuExecArgs parses juju-exec's (and juju-run's) arguments. Options
// come first, as --name, -name, --name=value or --name value; the first
// argument that is not an option, or everything after "--", starts the
// positional arguments. Without -u or --no-context, a first positional
// argument that is a unit name or tag is the unit; the rest are the
// commands.
func parseJujuExecArgs(args []string) (jujuExecArgs, error) {
	var a jujuExecArgs
	unitSet := false
	i := 0
	for ; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			i++
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			break
		}
		flag, val, hasVal := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		value := func(dst *string) error {
			switch {
			case hasVal:
				*dst = val
			case i+1 < len(args):
				i++
				*dst = args[i]
			default:
				return jujuExecErrorf(2, "flag needs an argument: %s", arg)
			}
			return nil
		}
		var err error
		switch flag {
		case "u", "unit":
			err, unitSet = value(&a.Unit), true
		case "r", "relation":
			err = value(&a.Relation)
		case "remote-unit":
			err = value(&a.RemoteUnit)
		case "remote-app":
			err = value(&a.RemoteApp)
		case "force-remote-unit":
			a.ForceRemoteUnit = true
		case "no-context":
			a.NoContext = true
		case "h", "help":
			return jujuExecArgs{Help: true}, nil
		default:
			return a, jujuExecErrorf(2, "option provided but not defined: %s", arg)
		}
		if err != nil {
			return a, err
		}
	}
	rest := args[i:]
	if !unitSet && !a.NoContext && len(rest) > 0 && isUnitNameOrTag(rest[0]) {
		a.Unit, rest = rest[0], rest[1:]
	}
	a.Commands = rest
	return a, nil
}

func isUnitNameOrTag(s string) bool {
	_, isTag := names.UnitFromTag(s)
	return isTag || names.IsValidUnit(s)
}

// jujuExecRequest is what a juju-exec command line asks of a unit agent.
type jujuExecRequest struct {
	Tag  string // unit-pg-0, the agent's directory under agents/
	Args api.RunCommandsArgs
}

// noContextCommands returns the script of a --no-context command line.
func (a jujuExecArgs) noContextCommands() (string, error) {
	if a.Unit != "" {
		return "", jujuExecErrorf(2, "-no-context cannot be passed with an explicit unit-name (-u %q)", a.Unit)
	}
	if len(a.Commands) == 0 {
		return "", jujuExecErrorf(2, "missing commands")
	}
	return joinCommands(a.Commands), nil
}

// request checks a command line with a hook context and builds its request;
// infer is asked for the unit (a tag or "") when none was given.
func (a jujuExecArgs) request(infer func() string) (jujuExecRequest, error) {
	unit := a.Unit
	if unit == "" {
		unit = infer()
	}
	if unit == "" {
		return jujuExecRequest{}, jujuExecErrorf(2, "missing unit-name")
	}
	if len(a.Commands) == 0 {
		return jujuExecRequest{}, jujuExecErrorf(2, "missing commands")
	}
	name, ok := names.UnitFromTag(unit)
	if names.IsValidUnit(unit) {
		name, ok = unit, true
	}
	if !ok {
		return jujuExecRequest{}, jujuExecErrorf(2, "invalid unit name %q", unit)
	}
	relID := -1
	if a.Relation != "" {
		n, err := strconv.Atoi(a.Relation[strings.LastIndex(a.Relation, ":")+1:])
		if err != nil {
			return jujuExecRequest{}, jujuExecErrorf(1, "invalid relation id")
		}
		relID = n
	} else if a.RemoteUnit != "" {
		return jujuExecRequest{}, jujuExecErrorf(1, "remote unit: %s, provided without a relation", a.RemoteUnit)
	}
	return jujuExecRequest{Tag: names.UnitTag(name), Args: api.RunCommandsArgs{
		Commands: joinCommands(a.Commands), RelationID: relID, RemoteUnitName: a.RemoteUnit,
		ForceRemoteUnit: a.ForceRemoteUnit, UnitName: name}}, nil
}

// inHookError is the refusal to run inside a hook context (contract §5.2);
// name is how juju-exec was called (juju-run on 2.9).
func inHookError(name, contextID string) error {
	if contextID == "" {
		return nil
	}
	return jujuExecErrorf(2, "%s cannot be called from within a hook, have context %q", name, contextID)
}

// jujuExecMain is juju-exec (juju-run on 2.9) as contract §5 describes it:
// run commands in a hook context of a unit on this machine.
func jujuExecMain(name string, args []string) int {
	code, err := jujuExec(name, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ERROR %v\n", err)
		var je *jujuExecError
		if errors.As(err, &je) {
			return je.code
		}
		return 1
	}
	return code
}

func jujuExec(name string, args []string) (int, error) {
	if err := inHookError(name, os.Getenv("JUJU_CONTEXT_ID")); err != nil {
		return 0, err
	}
	a, err := parseJujuExecArgs(args)
	if err != nil {
		return 0, err
	}
	if a.Help {
		fmt.Println(jujuExecUsage)
		return 0, nil
	}
	if a.NoContext {
		script, err := a.noContextCommands()
		if err != nil {
			return 0, err
		}
		return runNoContext(script)
	}
	agentsDir := agentsDirOf()
	req, err := a.request(func() string { return inferUnit(agentsDir) })
	if err != nil {
		return 0, err
	}
	socket := filepath.Join(agentsDir, req.Tag, "run.socket")
	if _, err := os.Stat(socket); err != nil {
		return 0, jujuExecErrorf(1, "unit %q not found on this machine", req.Args.UnitName)
	}
	resp, err := api.RunCommands(socket, req.Args)
	if err != nil {
		return 0, err
	}
	os.Stdout.Write(resp.Stdout)
	os.Stderr.Write(resp.Stderr)
	return resp.Code, nil
}

// runNoContext runs a --no-context script with bash; its exit code is
// juju-exec's.
func runNoContext(script string) (int, error) {
	cmd := exec.Command("/bin/bash", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), nil
		}
		return 0, err
	}
	return 0, nil
}

// inferUnit is the unit when exactly one agent lives on this machine: its
// directory name (a tag), or "".
func inferUnit(agentsDir string) string {
	entries, _ := filepath.Glob(filepath.Join(agentsDir, "unit-*"))
	if len(entries) == 1 {
		return filepath.Base(entries[0])
	}
	return ""
}

// agentsDirOf finds the machine's agents directory from where this binary
// was invoked: <machine>/tools/unit-x-n/juju-exec → <machine>/agents.
func agentsDirOf() string {
	p := os.Args[0]
	if !strings.Contains(p, "/") {
		if lp, err := exec.LookPath(p); err == nil {
			p = lp
		}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(abs))), "agents")
}

// joinCommands passes one argument through as is and shell-quotes several
// (contract §5.1).
func joinCommands(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}
