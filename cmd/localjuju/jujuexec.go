package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/localjuju/api"
)

var (
	unitNameRe = regexp.MustCompile(`^[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*/\d+$`)
	unitTagRe  = regexp.MustCompile(`^unit-([a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*)-(\d+)$`)
)

// jujuExecMain is juju-exec (juju-run on 2.9) as contract §5 describes it:
// run commands in a hook context of a unit on this machine.
func jujuExecMain(name string, args []string) int {
	if id := os.Getenv("JUJU_CONTEXT_ID"); id != "" {
		fmt.Fprintf(os.Stderr, "ERROR %s cannot be called from within a hook, have context %q\n", name, id)
		return 2
	}
	var unit, relation, remoteUnit string
	unitSet, noContext, force := false, false, false
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(rest) > 0 || !strings.HasPrefix(a, "-") {
			rest = append(rest, args[i:]...)
			break
		}
		flag, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		needVal := func() (string, bool) {
			if hasVal {
				return val, true
			}
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			return "", false
		}
		var ok bool
		switch flag {
		case "u", "unit":
			unit, ok = needVal()
			unitSet = true
		case "r", "relation":
			relation, ok = needVal()
		case "remote-unit":
			remoteUnit, ok = needVal()
		case "remote-app":
			_, ok = needVal()
		case "force-remote-unit":
			force, ok = true, true
		case "no-context":
			noContext, ok = true, true
		case "h", "help":
			fmt.Println("Usage: juju-exec [-u <unit>] [<unit>] [options] <commands>")
			return 0
		default:
			fmt.Fprintf(os.Stderr, "ERROR option provided but not defined: %s\n", a)
			return 2
		}
		if !ok {
			fmt.Fprintf(os.Stderr, "ERROR flag needs an argument: %s\n", a)
			return 2
		}
	}
	agentsDir := agentsDirOf()
	if !unitSet && !noContext && len(rest) > 0 && (unitNameRe.MatchString(rest[0]) || unitTagRe.MatchString(rest[0])) {
		unit, rest = rest[0], rest[1:]
		unitSet = true
	}
	if noContext {
		if unit != "" {
			fmt.Fprintf(os.Stderr, "ERROR -no-context cannot be passed with an explicit unit-name (-u %q)\n", unit)
			return 2
		}
		if len(rest) == 0 {
			fmt.Fprintln(os.Stderr, "ERROR missing commands")
			return 2
		}
		cmd := exec.Command("/bin/bash", "-c", joinCommands(rest))
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode()
			}
			fmt.Fprintf(os.Stderr, "ERROR %v\n", err)
			return 1
		}
		return 0
	}
	if unit == "" {
		// Infer the unit when exactly one agent lives on this machine.
		entries, _ := filepath.Glob(filepath.Join(agentsDir, "unit-*"))
		if len(entries) == 1 {
			unit = filepath.Base(entries[0])
		}
	}
	if unit == "" {
		fmt.Fprintln(os.Stderr, "ERROR missing unit-name")
		return 2
	}
	if len(rest) == 0 {
		fmt.Fprintln(os.Stderr, "ERROR missing commands")
		return 2
	}
	tag := unit
	if m := unitNameRe.FindString(unit); m != "" {
		tag = "unit-" + strings.ReplaceAll(unit, "/", "-")
	}
	mt := unitTagRe.FindStringSubmatch(tag)
	if mt == nil {
		fmt.Fprintf(os.Stderr, "ERROR invalid unit name %q\n", unit)
		return 2
	}
	unitName := mt[1] + "/" + mt[2]
	relID := -1
	if relation != "" {
		n, err := strconv.Atoi(relation[strings.LastIndex(relation, ":")+1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "ERROR invalid relation id")
			return 1
		}
		relID = n
	} else if remoteUnit != "" {
		fmt.Fprintf(os.Stderr, "ERROR remote unit: %s, provided without a relation\n", remoteUnit)
		return 1
	}
	socket := filepath.Join(agentsDir, tag, "run.socket")
	if _, err := os.Stat(socket); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR unit %q not found on this machine\n", unitName)
		return 1
	}
	resp, err := api.RunCommands(socket, api.RunCommandsArgs{Commands: joinCommands(rest), RelationID: relID,
		RemoteUnitName: remoteUnit, ForceRemoteUnit: force, UnitName: unitName})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ERROR %v\n", err)
		return 1
	}
	os.Stdout.Write(resp.Stdout)
	os.Stderr.Write(resp.Stderr)
	return resp.Code
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
