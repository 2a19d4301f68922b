package juju

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Client runs the hook tools. The zero value is ready: it finds each tool on
// the PATH of the process and runs it with the process environment, which
// in a hook is the environment Juju built (contract §1.4), so the tool
// reaches the agent with the hook's JUJU_CONTEXT_ID.
type Client struct {
	// Environ, when non-nil, replaces the process environment for the
	// tools, and its PATH is where they are looked up.
	Environ []string
	// Dir is the tools' working directory; "" means the process's (the charm
	// directory in a hook).
	Dir string
}

// call is one tool invocation.
type call struct {
	cmd   string
	args  []string
	stdin []byte
	// redactValues hides the value of every key=value argument in a
	// ToolError, for tools whose values may be secrets (action-set,
	// leader-set).
	redactValues bool
}

// run executes c and returns its standard output. A non-zero exit is a
// *ToolError.
func (cl *Client) run(ctx context.Context, c call) ([]byte, error) {
	path, err := cl.lookPath(c.cmd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.cmd, ErrToolMissing)
	}
	cmd := exec.CommandContext(ctx, path, c.args...)
	cmd.Env = cl.Environ
	cmd.Dir = cl.Dir
	if c.stdin != nil {
		cmd.Stdin = bytes.NewReader(c.stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return stdout.Bytes(), nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("running %s: %w", c.cmd, ctx.Err())
	case errors.As(err, &exitErr):
		return nil, &ToolError{
			Command:  c.cmd,
			Args:     redactArgs(c.args, c.redactValues),
			ExitCode: exitErr.ExitCode(),
			Stderr:   strings.TrimSpace(stderr.String()),
		}
	default:
		return nil, fmt.Errorf("running %s: %w", c.cmd, err)
	}
}

// lookPath finds name on the PATH of cl.Environ (or of the process).
func (cl *Client) lookPath(name string) (string, error) {
	if cl.Environ == nil {
		return exec.LookPath(name)
	}
	pathEnv := ""
	for _, kv := range cl.Environ {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range strings.Split(pathEnv, string(os.PathListSeparator)) {
		if dir == "" {
			continue
		}
		p := dir + string(os.PathSeparator) + name
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// redactedValue replaces secret values in ToolError.Args.
const redactedValue = "<redacted>"

func redactArgs(args []string, values bool) []string {
	out := make([]string, len(args))
	for i, a := range args {
		k, _, isKV := strings.Cut(a, "=")
		if isKV && !strings.HasPrefix(a, "-") && (values || IsSecretKey(k)) {
			a = k + "=" + redactedValue
		}
		out[i] = a
	}
	return out
}

// runJSON runs c and decodes its JSON output into v. JSON null leaves v
// unchanged (a missing value).
func (cl *Client) runJSON(ctx context.Context, c call, v any) error {
	out, err := cl.run(ctx, c)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding %s output: %w", c.cmd, err)
	}
	return nil
}

// relationArgs adds "-r id" when id is set.
func relationArgs(args []string, relationID string) []string {
	if relationID != "" {
		args = append(args, "-r", relationID)
	}
	return args
}
