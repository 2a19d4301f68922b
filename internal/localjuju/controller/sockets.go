package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgjuju/pgjuju/internal/localjuju/api"
	"github.com/pgjuju/pgjuju/internal/localjuju/hooktools"
)

// Each unit agent serves two sockets in its agent directory, mode 0700 like
// Juju's: agent.socket for the hook tools of its running context (§1.7) and
// run.socket for juju-exec (§5).

// Jujuc is the hook tool RPC service of one unit.
type Jujuc struct {
	m    *Model
	unit string
}

// Main runs one hook tool in the context the request names.
func (j *Jujuc) Main(req api.ToolRequest, resp *api.ToolResponse) error {
	j.m.mu.Lock()
	c := j.m.contexts[req.ContextID]
	j.m.mu.Unlock()
	if c == nil || c.unit != j.unit {
		return fmt.Errorf("bad request: wrong context ID; got %q", req.ContextID)
	}
	res := hooktools.Run(c, req.CommandName, req.Args, hooktools.Input{Dir: req.Dir, Stdin: req.Stdin, StdinSet: req.StdinSet})
	if res.NeedStdin {
		return errors.New(api.ErrNoStdin)
	}
	if res.Code != 0 && len(res.Stderr) > 0 {
		j.m.log.add(logLine{Time: nowFunc(), Entity: j.unit, Logger: "juju.worker.uniter.jujuc", Level: "WARNING",
			Message: fmt.Sprintf("%s %s: %s", req.CommandName, redactArgs(req.CommandName, req.Args), strings.TrimSpace(string(res.Stderr)))})
	}
	*resp = api.ToolResponse{Code: res.Code, Stdout: res.Stdout, Stderr: res.Stderr}
	return nil
}

// redactArgs keeps secret and relation values out of the debug log: only
// keys of key=value arguments are shown.
func redactArgs(tool string, args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if k, _, ok := strings.Cut(a, "="); ok && !strings.HasPrefix(a, "-") {
			out[i] = k + "=<redacted>"
			continue
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// JujuExecServer is the juju-exec RPC service of one unit.
type JujuExecServer struct {
	m    *Model
	unit string
}

// RunCommands runs commands in a hook context of the unit and waits.
func (s *JujuExecServer) RunCommands(args api.RunCommandsArgs, resp *api.ToolResponse) error {
	if args.UnitName != "" && args.UnitName != s.unit {
		return fmt.Errorf("unit %q not found on this machine", args.UnitName)
	}
	res, err := s.m.Exec(context.Background(), ExecArgs{Unit: s.unit, Commands: args.Commands, RelationID: args.RelationID,
		RemoteUnit: args.RemoteUnitName, ForceRemoteUnit: args.ForceRemoteUnit})
	if err != nil {
		return err
	}
	*resp = api.ToolResponse{Code: res.Code, Stdout: res.Stdout, Stderr: res.Stderr}
	return nil
}

// serveSocketsLocked starts the unit's agent and run sockets.
func (m *Model) serveSocketsLocked(a *agent, u *unitState) error {
	dir := m.agentDir(u)
	serve := func(name string, rcvr any, svc string) (net.Listener, error) {
		path := filepath.Join(dir, name)
		_ = os.Remove(path)
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(path, 0o700); err != nil {
			l.Close()
			return nil, err
		}
		srv := rpc.NewServer()
		if err := srv.RegisterName(svc, rcvr); err != nil {
			l.Close()
			return nil, err
		}
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				go srv.ServeConn(conn)
			}
		}()
		return l, nil
	}
	l1, err := serve("agent.socket", &Jujuc{m: m, unit: u.Name}, "Jujuc")
	if err != nil {
		return fmt.Errorf("serving agent socket of %s: %w", u.Name, err)
	}
	l2, err := serve("run.socket", &JujuExecServer{m: m, unit: u.Name}, "JujuExecServer")
	if err != nil {
		l1.Close()
		return fmt.Errorf("serving run socket of %s: %w", u.Name, err)
	}
	a.listeners = []net.Listener{l1, l2}
	return nil
}
