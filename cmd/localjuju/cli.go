package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pgjuju/pgjuju/internal/localjuju/charmdir"
	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/localjuju/names"
)

// usageError exits 2, like juju's flag errors.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `localjuju: run charms the way the Juju unit agent does, on one machine.

Usage: localjuju <command> [options]

Model:
  deploy <charm-dir|file.charm> [<app>] [-n N] [--config k=v|file.yaml ...]
         [--base ubuntu@22.04 | --series jammy]
  add-unit <app> [-n N]
  remove-unit <unit> ... [--force]
  integrate <app>[:<endpoint>] <app>[:<endpoint>]     (alias: relate)
  remove-relation <app>[:<endpoint>] <app>[:<endpoint>] | <relation-id> [--force]
  config <app> [key | key=value ... | --file f.yaml | --reset key]
  model-config [update-status-hook-interval=<d>] [leader-lease=<d>]
               [secret-rotate-scale=<d>]  (test knob: one hour of secret
               rotation/retry timing lasts <d>)
  run <unit> <action> [key=value ...] [--params file.yaml] [--string-args]
      [--wait <duration>] [--format json|yaml]
  exec --unit <unit> -- <command ...>
  ssh <unit> [<command ...>]
  status [--format json|tabular]
  show-unit <unit> [--format json|yaml]
  debug-log [--include <unit|unit-tag|app>] [--replay] [--no-tail] [-n N]
  wait-idle [--timeout <duration>] [--settle <duration>]
  resolved <unit> [--no-retry]
  destroy
Faults (for tests):
  kill-machine <unit> | restart-machine <unit> | freeze <unit> | thaw <unit>
  cut <unit> | restore <unit>
Tools:
  pack <charm-dir> <file.charm>

The model lives in $LOCALJUJU_HOME (default ~/.local/share/localjuju); its
controller process starts on the first command that needs it.
`

// parsed is a verb's command line: flags may come anywhere, as in juju.
type parsed struct {
	pos   []string
	flags map[string][]string
	rest  []string // after "--"
}

func (p parsed) get(name, def string) string {
	if v := p.flags[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return def
}

func (p parsed) has(name string) bool { _, ok := p.flags[name]; return ok }

// parseArgs splits args; valued lists flags that take a value (aliases
// map to their canonical name), boolean those that do not.
func parseArgs(args []string, valued, boolean map[string]string) (parsed, error) {
	p := parsed{flags: map[string][]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			p.rest = args[i+1:]
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			p.pos = append(p.pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if canon, ok := boolean[name]; ok {
			p.flags[canon] = append(p.flags[canon], "true")
			continue
		}
		canon, ok := valued[name]
		if !ok {
			return p, usagef("option provided but not defined: %s", a)
		}
		if !hasVal {
			if i+1 >= len(args) {
				return p, usagef("option needs an argument: %s", a)
			}
			i++
			val = args[i]
		}
		p.flags[canon] = append(p.flags[canon], val)
	}
	return p, nil
}

func cliMain(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Print(usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	verb, args := args[0], args[1:]
	err := runVerb(verb, args)
	if err == nil {
		return 0
	}
	var ue usageError
	var ec exitCode
	switch {
	case errors.As(err, &ec):
		return int(ec)
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "ERROR %v\n", err)
		return 2
	default:
		fmt.Fprintf(os.Stderr, "ERROR %v\n", err)
		return 1
	}
}

// exitCode ends the CLI with a code and no further message.
type exitCode int

func (e exitCode) Error() string { return "exit " + strconv.Itoa(int(e)) }

func runVerb(verb string, args []string) error {
	switch verb {
	case "controller":
		return controllerMain(args)
	case "pack":
		if len(args) != 2 {
			return usagef("usage: localjuju pack <charm-dir> <file.charm>")
		}
		return charmdir.Pack(args[0], args[1])
	case "version":
		fmt.Println(controller.JujuVersion + "-localjuju")
		return nil
	case "deploy":
		return cmdDeploy(args)
	case "add-unit":
		return cmdAddUnit(args)
	case "remove-unit":
		return cmdRemoveUnit(args)
	case "integrate", "relate", "add-relation":
		return cmdIntegrate(args)
	case "remove-relation":
		return cmdRemoveRelation(args)
	case "config":
		return cmdConfig(args)
	case "model-config":
		return cmdModelConfig(args)
	case "run":
		return cmdRun(args)
	case "exec":
		return cmdExec(args)
	case "ssh":
		return cmdSSH(args)
	case "status":
		return cmdStatus(args)
	case "show-unit":
		return cmdShowUnit(args)
	case "show-secret":
		return cmdShowSecret(args)
	case "debug-log":
		return cmdDebugLog(args)
	case "wait-idle":
		return cmdWaitIdle(args)
	case "destroy", "destroy-model":
		return cmdDestroy(args)
	case "resolved", "resolve":
		p, err := parseArgs(args, nil, map[string]string{"no-retry": "no-retry"})
		if err != nil {
			return err
		}
		if len(p.pos) != 1 {
			return usagef("usage: localjuju resolved <unit> [--no-retry]")
		}
		return call("Resolved", controller.ResolvedArgs{Unit: p.pos[0], NoRetry: p.has("no-retry")}, &controller.Empty{})
	case "kill-machine", "restart-machine", "freeze", "thaw", "cut", "restore":
		return cmdFault(verb, args)
	default:
		return usagef("unrecognized command: localjuju %s", verb)
	}
}

func cmdDeploy(args []string) error {
	p, err := parseArgs(args, map[string]string{"n": "n", "num-units": "n", "config": "config", "base": "base", "series": "base"}, nil)
	if err != nil {
		return err
	}
	if len(p.pos) < 1 || len(p.pos) > 2 {
		return usagef("usage: localjuju deploy <charm-dir|file.charm> [<app>] [-n N] [--config k=v|file.yaml]")
	}
	// --series (2.9) is an alias: the controller maps a series to its base.
	d := controller.DeployArgs{Charm: absPath(p.pos[0]), NumUnits: 1, Config: map[string]string{}, Base: p.get("base", "")}
	if len(p.pos) == 2 {
		d.App = p.pos[1]
	}
	if n := p.get("n", "1"); n != "" {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 {
			return usagef("invalid value %q for option -n: must be a positive integer", n)
		}
		d.NumUnits = v
	}
	for _, c := range p.flags["config"] {
		if k, v, ok := strings.Cut(c, "="); ok {
			d.Config[strings.TrimSpace(k)] = strings.TrimSpace(v)
			continue
		}
		data, err := os.ReadFile(c)
		if err != nil {
			return usagef("invalid value %q for option --config: %v", c, err)
		}
		d.ConfigYAML = data
	}
	return call("Deploy", d, &controller.Empty{})
}

func absPath(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	wd, _ := os.Getwd()
	return wd + "/" + p
}

func cmdAddUnit(args []string) error {
	p, err := parseArgs(args, map[string]string{"n": "n", "num-units": "n"}, nil)
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return usagef("usage: localjuju add-unit <app> [-n N]")
	}
	n, err := strconv.Atoi(p.get("n", "1"))
	if err != nil || n < 1 {
		return usagef("invalid value %q for option -n: must be a positive integer", p.get("n", "1"))
	}
	var names []string
	return call("AddUnit", controller.AddUnitArgs{App: p.pos[0], N: n}, &names)
}

func cmdRemoveUnit(args []string) error {
	p, err := parseArgs(args, nil, map[string]string{"force": "force", "no-wait": "no-wait", "destroy-storage": "destroy-storage"})
	if err != nil {
		return err
	}
	if len(p.pos) == 0 {
		return usagef("no units specified")
	}
	return call("RemoveUnit", controller.RemoveUnitArgs{Units: p.pos, Force: p.has("force")}, &controller.Empty{})
}

func cmdIntegrate(args []string) error {
	p, err := parseArgs(args, nil, nil)
	if err != nil {
		return err
	}
	if len(p.pos) != 2 {
		return usagef("an integration must involve two applications")
	}
	var id int
	return call("Integrate", controller.PairArgs{A: p.pos[0], B: p.pos[1]}, &id)
}

func cmdRemoveRelation(args []string) error {
	p, err := parseArgs(args, nil, map[string]string{"force": "force"})
	if err != nil {
		return err
	}
	switch len(p.pos) {
	case 1:
		if _, err := strconv.Atoi(p.pos[0]); err != nil {
			return usagef("a relation must involve two applications, or be given by id")
		}
		return call("RemoveRelation", controller.PairArgs{A: p.pos[0], Force: p.has("force")}, &controller.Empty{})
	case 2:
		return call("RemoveRelation", controller.PairArgs{A: p.pos[0], B: p.pos[1], Force: p.has("force")}, &controller.Empty{})
	default:
		return usagef("a relation must involve two applications")
	}
}

func cmdConfig(args []string) error {
	p, err := parseArgs(args, map[string]string{"file": "file", "reset": "reset", "format": "format"}, nil)
	if err != nil {
		return err
	}
	if len(p.pos) < 1 {
		return usagef("no application name specified")
	}
	app, kvs := p.pos[0], p.pos[1:]
	set := map[string]string{}
	var getKey string
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			if getKey != "" || len(kvs) > 1 {
				return usagef("can only retrieve a single value, or all values")
			}
			getKey = kv
			continue
		}
		set[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	for _, r := range p.flags["reset"] {
		for _, k := range strings.Split(r, ",") {
			set[strings.TrimSpace(k)] = ""
		}
	}
	var yamlData []byte
	if f := p.get("file", ""); f != "" {
		if yamlData, err = os.ReadFile(f); err != nil {
			return usagef("invalid value %q for option --file: %v", f, err)
		}
	}
	if len(set) > 0 || yamlData != nil {
		return call("SetConfig", controller.ConfigArgs{App: app, KV: set, YAML: yamlData}, &controller.Empty{})
	}
	var raw []byte
	if err := call("GetConfig", app, &raw); err != nil {
		return err
	}
	var got struct {
		Values  map[string]any            `json:"values"`
		Options map[string]map[string]any `json:"options"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		return err
	}
	if getKey != "" {
		if _, ok := got.Options[getKey]; !ok {
			return fmt.Errorf("key %q not found in %q application config or charm settings", getKey, app)
		}
		if v := got.Values[getKey]; v != nil {
			fmt.Println(v)
		}
		return nil
	}
	settings := map[string]any{}
	for k, opt := range got.Options {
		entry := map[string]any{"type": opt["Type"], "description": opt["Description"], "source": "unset"}
		if v := got.Values[k]; v != nil {
			entry["value"] = v
			entry["source"] = "default"
			if fmt.Sprint(v) != fmt.Sprint(opt["Default"]) {
				entry["source"] = "user"
			}
		}
		settings[k] = entry
	}
	out := map[string]any{"application": app, "settings": settings}
	if p.get("format", "yaml") == "json" {
		return printJSON(out)
	}
	return printYAML(out)
}

func cmdModelConfig(args []string) error {
	var mc controller.ModelConfigArgs
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return usagef("expected key=value, got %q", kv)
		}
		if k == "agent-version" {
			// Emulate Juju 2.9 (no secrets); before the first deploy.
			mc.AgentVersion = v
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return usagef("invalid value %q for %s: a positive duration is required", v, k)
		}
		switch k {
		case "update-status-hook-interval":
			mc.UpdateStatus = d
		case "leader-lease", "localjuju-leader-lease":
			mc.Lease = d
		case "secret-rotate-scale":
			// A localjuju test knob, not a Juju key.
			mc.SecretRotateScale = d
		default:
			return usagef("unknown model config key %q", k)
		}
	}
	return call("ModelConfig", mc, &controller.Empty{})
}

func cmdRun(args []string) error {
	p, err := parseArgs(args, map[string]string{"wait": "wait", "format": "format", "params": "params"},
		map[string]string{"background": "background", "string-args": "string-args", "quiet": "quiet"})
	if err != nil {
		return err
	}
	if len(p.pos) < 2 {
		return usagef("no unit or action specified: usage: localjuju run <unit> <action> [key=value ...]")
	}
	unit, action := p.pos[0], p.pos[1]
	var file []byte
	if f := p.get("params", ""); f != "" {
		if file, err = os.ReadFile(f); err != nil {
			return usagef("invalid value %q for option --params: %v", f, err)
		}
	}
	// The file's params, then the arguments over them; the controller
	// validates the result against actions.yaml before queueing.
	params, err := charmdir.ParseActionParams(file, p.pos[2:], p.has("string-args"))
	if err != nil {
		return usageError{err.Error()}
	}
	wait := time.Duration(0)
	if w := p.get("wait", ""); w != "" {
		if wait, err = time.ParseDuration(w); err != nil {
			return usagef("invalid value %q for option --wait: %v", w, err)
		}
	}
	format := p.get("format", "yaml")
	if format != "yaml" && format != "json" && format != "plain" {
		return usagef("invalid value %q for option --format: unknown format", format)
	}
	data, err := json.Marshal(params)
	if err != nil {
		return err
	}
	var id int
	if err := call("Run", controller.RunArgs{Unit: unit, Action: action, Params: data}, &id); err != nil {
		return err
	}
	if p.has("background") {
		fmt.Printf("Scheduled operation %d with task %d\n", id, id)
		return nil
	}
	if format != "json" && !p.has("quiet") {
		fmt.Fprintf(os.Stderr, "Running operation %d with 1 task\n  - task %d on %s\n\nWaiting for task %d...\n", id, id, names.UnitTag(unit), id)
	}
	var raw []byte
	if err := call("WaitAction", controller.WaitArgs{ID: id, Timeout: wait}, &raw); err != nil {
		return err
	}
	var r controller.ActionResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	if format == "json" {
		entry := map[string]any{"id": strconv.Itoa(r.ID), "status": r.Status, "unit": r.Unit, "results": r.Results,
			"timing": map[string]any{"enqueued": r.Enqueued, "started": r.Started, "completed": r.Completed}}
		if r.Message != "" {
			entry["message"] = r.Message
		}
		if len(r.Log) > 0 {
			entry["log"] = r.Log
		}
		if err := printJSON(map[string]any{r.Unit: entry}); err != nil {
			return err
		}
	} else {
		for _, l := range r.Log {
			fmt.Fprintf(os.Stderr, "%s %s\n", l.Time.Format("2006-01-02T15:04:05Z07:00"), l.Message)
		}
		shown := map[string]any{}
		for k, v := range r.Results {
			if k != "return-code" && k != "stdout" && k != "stderr" && !strings.HasSuffix(k, "-encoding") {
				shown[k] = v
			}
		}
		if s, ok := r.Results["stdout"].(string); ok {
			fmt.Print(s)
		}
		if s, ok := r.Results["stderr"].(string); ok {
			fmt.Fprint(os.Stderr, s)
		}
		if len(shown) > 0 {
			if err := printYAML(shown); err != nil {
				return err
			}
		}
	}
	if r.Status != "completed" {
		fmt.Fprintf(os.Stderr, "ERROR the following task failed:\n id %q with return code %v: %s\n", strconv.Itoa(r.ID), r.Results["return-code"], r.Message)
		return exitCode(1)
	}
	return nil
}

// parseExecArgs parses `localjuju exec --unit <unit> [--] <command ...>`:
// -u/--unit (the last one wins) is required; --timeout and --format are
// accepted and ignored; the commands are the positional arguments then
// those after "--", joined as juju-exec joins them.
func parseExecArgs(args []string) (controller.ExecArgs, error) {
	p, err := parseArgs(args, map[string]string{"unit": "unit", "u": "unit", "timeout": "timeout", "format": "format"}, nil)
	if err != nil {
		return controller.ExecArgs{}, err
	}
	unit := p.get("unit", "")
	cmds := append(slices.Clip(p.pos), p.rest...)
	if unit == "" {
		return controller.ExecArgs{}, usagef("missing --unit")
	}
	if len(cmds) == 0 {
		return controller.ExecArgs{}, usagef("no commands specified")
	}
	return controller.ExecArgs{Unit: unit, Commands: joinCommands(cmds), RelationID: -1}, nil
}

func cmdExec(args []string) error {
	ea, err := parseExecArgs(args)
	if err != nil {
		return err
	}
	var r controller.ExecResult
	if err := call("Exec", ea, &r); err != nil {
		return err
	}
	os.Stdout.Write(r.Stdout)
	os.Stderr.Write(r.Stderr)
	if r.Code != 0 {
		return exitCode(r.Code)
	}
	return nil
}

// sshFlags are juju ssh's own options, accepted before the target and
// ignored: a machine here is a namespace on this host.
var (
	sshValued  = map[string]string{"m": "m", "model": "m", "i": "i", "container": "container"}
	sshBoolean = map[string]string{"proxy": "proxy", "pty": "pty", "no-host-key-checks": "no-host-key-checks"}
)

// cmdSSH runs a shell, or a command, on the unit's machine. Like juju ssh,
// flags are parsed only before the target; everything after it is the
// remote command, passed unchanged and joined with spaces as ssh does, so
// `ssh unit ls -la` works and the machine's shell expands it.
func cmdSSH(args []string) error {
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--"; i++ {
		name, _, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if _, ok := sshBoolean[name]; ok {
			continue
		}
		if _, ok := sshValued[name]; !ok {
			return usagef("option provided but not defined: %s", args[i])
		}
		if !hasVal {
			i++
		}
	}
	if i < len(args) && args[i] == "--" {
		i++
	}
	if i >= len(args) {
		return usagef("no target name specified")
	}
	target, cmdArgs := args[i], args[i+1:]
	if len(cmdArgs) > 0 && cmdArgs[0] == "--" {
		cmdArgs = cmdArgs[1:]
	}
	var info controller.MachineInfoReply
	if err := call("MachineInfo", target, &info); err != nil {
		return err
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return err
	}
	argv := []string{"ip", "netns", "exec", info.Namespace, "/bin/bash"}
	if len(cmdArgs) > 0 {
		argv = append(argv, "-c", strings.Join(cmdArgs, " "))
	} else {
		argv = append(argv, "-i")
	}
	env := append(os.Environ(), "PS1=ubuntu@"+info.Address+":\\w# ")
	return syscall.Exec(ip, argv, env)
}

func cmdStatus(args []string) error {
	p, err := parseArgs(args, map[string]string{"format": "format"}, map[string]string{"relations": "relations"})
	if err != nil {
		return err
	}
	var raw []byte
	if err := call("Status", controller.Empty{}, &raw); err != nil {
		return err
	}
	switch p.get("format", "tabular") {
	case "json":
		os.Stdout.Write(raw)
		fmt.Println()
		return nil
	case "yaml":
		var v any
		_ = json.Unmarshal(raw, &v)
		return printYAML(v)
	case "tabular":
		var st controller.Status
		if err := json.Unmarshal(raw, &st); err != nil {
			return err
		}
		fmt.Print(statusTable(st, p.has("relations")))
		return nil
	default:
		return usagef("invalid value %q for option --format: unknown format", p.get("format", ""))
	}
}

func cmdShowUnit(args []string) error {
	p, err := parseArgs(args, map[string]string{"format": "format"}, nil)
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return usagef("usage: localjuju show-unit <unit>")
	}
	var raw []byte
	if err := call("ShowUnit", p.pos[0], &raw); err != nil {
		return err
	}
	return printRaw(raw, p.get("format", "yaml"))
}

// cmdShowSecret is `juju show-secret <id> [--reveal] [--revision N]`, as a
// model admin sees any secret of the model, charm-owned ones included.
func cmdShowSecret(args []string) error {
	p, err := parseArgs(args, map[string]string{"format": "format", "revision": "revision"}, map[string]string{"reveal": "reveal"})
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return usagef("usage: localjuju show-secret <id> [--reveal] [--revision N]")
	}
	sa := controller.ShowSecretArgs{ID: p.pos[0], Reveal: p.has("reveal")}
	if r := p.get("revision", ""); r != "" {
		if sa.Revision, err = strconv.Atoi(r); err != nil || sa.Revision < 1 {
			return usagef("invalid value %q for option --revision", r)
		}
	}
	var raw []byte
	if err := call("ShowSecret", sa, &raw); err != nil {
		return err
	}
	return printRaw(raw, p.get("format", "yaml"))
}

// printRaw prints a controller's JSON answer as is (format json) or as
// YAML, the juju CLI's default.
func printRaw(raw []byte, format string) error {
	if format == "json" {
		os.Stdout.Write(raw)
		fmt.Println()
		return nil
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	return printYAML(v)
}

func cmdDebugLog(args []string) error {
	p, err := parseArgs(args, map[string]string{"include": "include", "i": "include", "n": "n", "lines": "n"},
		map[string]string{"replay": "replay", "no-tail": "no-tail", "tail": "tail"})
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(p.get("n", "10"))
	if err != nil {
		return usagef("invalid value %q for option -n", p.get("n", ""))
	}
	var lines []controller.LogLine
	if err := call("DebugLog", controller.LogArgs{Include: p.flags["include"]}, &lines); err != nil {
		return err
	}
	if !p.has("replay") && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	after := 0
	print := func(ls []controller.LogLine) {
		for _, l := range ls {
			if l.Seq > after {
				after = l.Seq
			}
			if l.Level != "-" {
				fmt.Println(l.String())
			}
		}
	}
	print(lines)
	if p.has("no-tail") {
		return nil
	}
	for {
		var more []controller.LogLine
		if err := call("DebugLog", controller.LogArgs{After: after, Wait: 10 * time.Second, Include: p.flags["include"]}, &more); err != nil {
			return err
		}
		print(more)
	}
}

func cmdWaitIdle(args []string) error {
	p, err := parseArgs(args, map[string]string{"timeout": "timeout", "settle": "settle"}, nil)
	if err != nil {
		return err
	}
	timeout, err := time.ParseDuration(p.get("timeout", "10m"))
	if err != nil {
		return usagef("invalid value %q for option --timeout: %v", p.get("timeout", ""), err)
	}
	settle, err := time.ParseDuration(p.get("settle", "1s"))
	if err != nil {
		return usagef("invalid value %q for option --settle: %v", p.get("settle", ""), err)
	}
	return call("WaitIdle", controller.WaitArgs{Timeout: timeout, Settle: settle}, &controller.Empty{})
}

func cmdFault(verb string, args []string) error {
	if len(args) != 1 {
		return usagef("usage: localjuju %s <unit>", verb)
	}
	method := map[string]string{"kill-machine": "KillMachine", "restart-machine": "RestartMachine",
		"freeze": "Freeze", "thaw": "Thaw", "cut": "Cut", "restore": "Restore"}[verb]
	return call(method, args[0], &controller.Empty{})
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(v)
}

func printYAML(v any) error {
	enc := yaml.NewEncoder(os.Stdout)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}

// statusTable renders status as juju's tabular format: the model, the
// applications, the units (the leader marked "*"), and the integrations
// only with --relations, as Juju 3 does.
func statusTable(st controller.Status, relations bool) string {
	w := newTable()
	w.row("Model", "Controller", "Cloud", "Version")
	w.row(st.Model.Name, st.Model.Controller, st.Model.Cloud, st.Model.Version)
	w.flush()
	w.blank()
	apps := slices.Sorted(maps.Keys(st.Applications))
	w.row("App", "Version", "Status", "Scale", "Charm", "Message")
	for _, a := range apps {
		as := st.Applications[a]
		w.row(a, as.Version, as.ApplicationStatus.Current, strconv.Itoa(len(as.Units)), as.Charm, as.ApplicationStatus.Message)
	}
	w.flush()
	w.blank()
	w.row("Unit", "Workload", "Agent", "Machine", "Address", "Ports", "Message")
	for _, a := range apps {
		units := st.Applications[a].Units
		for _, n := range slices.Sorted(maps.Keys(units)) {
			u := units[n]
			label := n
			if u.Leader {
				label += "*"
			}
			// A failed hook shows as workload "error" with its message and
			// agent "idle", as in Juju (the status already carries it so).
			w.row(label, u.WorkloadStatus.Current, u.JujuStatus.Current, u.Machine, u.PublicAddress, strings.Join(u.OpenPorts, ","), u.WorkloadStatus.Message)
		}
	}
	w.flush()
	if rels := integrationRows(st, apps); relations && len(rels) > 0 {
		w.blank()
		w.row("Integration", "Related", "Interface")
		for _, r := range rels {
			w.row(r...)
		}
		w.flush()
	}
	return w.out.String()
}

// integrationRows are the rows of the Integration table, one per endpoint
// and related application, sorted.
func integrationRows(st controller.Status, apps []string) [][]string {
	var rows [][]string
	for _, a := range apps {
		for ep, list := range st.Applications[a].Relations {
			for _, r := range list {
				rows = append(rows, []string{a + ":" + ep, r.RelatedApplication, r.Interface})
			}
		}
	}
	slices.SortFunc(rows, func(x, y []string) int { return slices.Compare(x, y) })
	return rows
}

// table aligns columns like juju's tabular output.
type table struct {
	rows [][]string
	out  strings.Builder
}

func newTable() *table { return &table{} }

func (t *table) row(cols ...string) { t.rows = append(t.rows, cols) }

func (t *table) blank() { t.out.WriteString("\n") }

// flush writes the pending rows, each column but the last padded to its
// widest cell plus two spaces, trailing spaces trimmed.
func (t *table) flush() {
	widths := map[int]int{}
	for _, r := range t.rows {
		for i, c := range r {
			if len(c) > widths[i] {
				widths[i] = len(c)
			}
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(fmt.Sprintf("%-*s  ", widths[i], c))
			}
		}
		t.out.WriteString(strings.TrimRight(b.String(), " ") + "\n")
	}
	t.rows = nil
}
