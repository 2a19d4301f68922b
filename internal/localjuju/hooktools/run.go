package hooktools

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Input carries what the hook tool client sends besides its arguments
// (contract §1.7: the Request's Dir, StdinSet and Stdin).
type Input struct {
	// Dir is the client's absolute working directory; relative -o and
	// --file paths are resolved against it.
	Dir string
	// Stdin is the client's standard input, meaningful only when StdinSet.
	Stdin []byte
	// StdinSet tells whether Stdin was sent.
	StdinSet bool
}

// Result is what goes back to the client: the exit code and both streams.
// NeedStdin asks the client to resend the request with its stdin (Juju's
// "hook tool requires stdin, none supplied"); Code is then -1 and nothing
// has been done.
type Result struct {
	Code           int
	Stdout, Stderr []byte
	NeedStdin      bool
}

// command is one parsed invocation of a tool. Juju's juju/cmd calls SetFlags,
// parses, calls Init (errors exit 2) and then Run (errors exit 1); so do we.
type command interface {
	setFlags(fs *flagSet)
	init(args []string) error
	run(e *env) error
}

// tool describes a hook tool: its name, usage line and constructor.
type tool struct {
	args    string
	purpose string
	new     func(ctx Context) command
}

// dirSetter is implemented by commands that read files while parsing
// (secret-add --file, key#file=path); relative paths use the client's
// directory.
type dirSetter interface{ setDir(dir string) }

// env is what a running command sees.
type env struct {
	ctx    Context
	in     Input
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// errNeedStdin is returned by a command that must read stdin when the client
// has not sent it.
var errNeedStdin = errors.New("hook tool requires stdin, none supplied")

// tools maps every served tool name to its definition. It is filled by the
// init functions of the per-area files.
var tools = map[string]tool{}

func register(name, args, purpose string, newCmd func(ctx Context) command) {
	if _, dup := tools[name]; dup {
		panic("hooktools: duplicate tool " + name)
	}
	tools[name] = tool{args: args, purpose: purpose, new: newCmd}
}

// Names returns every tool name served, sorted; the agent creates one
// symlink per name in the tools directory (contract §1.7).
func Names() []string {
	names := make([]string, 0, len(tools))
	for n := range tools {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Run executes hook tool name with args against ctx, exactly as the Juju 3.6
// jujuc server would, and returns the exit code and output (contract §2.1):
// 0 on success or --help, 2 for flag and argument errors, 1 for run errors.
func Run(ctx Context, name string, args []string, in Input) Result {
	t, ok := tools[name]
	if !ok {
		return Result{Code: 1, Stderr: fmt.Appendf(nil, "ERROR bad request: unknown command: %s\n", name)}
	}
	e := &env{ctx: ctx, in: in}
	c := t.new(ctx)
	if d, ok := c.(dirSetter); ok {
		d.setDir(in.Dir)
	}
	fs := newFlagSet()
	c.setFlags(fs)
	pos, err := fs.parse(args)
	if errors.Is(err, errHelp) {
		writeHelp(&e.stdout, name, t, fs)
		return e.result(0)
	}
	if err == nil {
		err = c.init(pos)
	}
	if err != nil {
		if errors.Is(err, errNeedStdin) {
			return Result{Code: -1, NeedStdin: true}
		}
		fmt.Fprintf(&e.stderr, "ERROR %v\n", err)
		return e.result(2)
	}
	if err := c.run(e); err != nil {
		if errors.Is(err, errNeedStdin) {
			return Result{Code: -1, NeedStdin: true}
		}
		fmt.Fprintf(&e.stderr, "ERROR %v\n", err)
		return e.result(1)
	}
	return e.result(0)
}

func (e *env) result(code int) Result {
	return Result{Code: code, Stdout: e.stdout.Bytes(), Stderr: e.stderr.Bytes()}
}

// annotate prefixes err with "<prefix>: " as Juju's tools do, unless the
// Context already did, so the message never repeats the prefix.
func annotate(prefix string, err error) error {
	if strings.HasPrefix(err.Error(), prefix+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// checkEmpty is juju/cmd's CheckEmpty.
func checkEmpty(args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("unrecognized args: %q", args)
	}
	return nil
}

// deprecatedFormat is the --format flag of tools that print nothing; Juju
// warns on stderr, without a newline, when it is used.
type deprecatedFormat struct{ value string }

func (d *deprecatedFormat) setFlags(fs *flagSet) {
	fs.stringVar(&d.value, "format", "", "deprecated format flag")
}

func (d *deprecatedFormat) warn(e *env, name string) {
	if d.value != "" {
		fmt.Fprintf(&e.stderr, "--format flag deprecated for command %q", name)
	}
}
