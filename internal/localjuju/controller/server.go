package controller

import (
	"context"
	"encoding/json"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"time"
)

// Server exposes a Model to the localjuju CLI over <home>/controller.sock
// (net/rpc, gob). Structured replies travel as JSON bytes so that maps of
// any value need no gob registration.
type Server struct {
	m        *Model
	l        net.Listener
	Shutdown chan struct{} // closed after destroy
}

// Empty is the argument or reply of calls that carry none.
type Empty struct{}

// SocketPath is the controller socket of a model home.
func SocketPath(home string) string { return filepath.Join(home, "controller.sock") }

// Serve listens on the model's controller socket.
func Serve(m *Model) (*Server, error) {
	path := SocketPath(m.home)
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	s := &Server{m: m, l: l, Shutdown: make(chan struct{})}
	srv := rpc.NewServer()
	if err := srv.RegisterName("Controller", &service{s: s}); err != nil {
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
	return s, nil
}

// Close stops listening.
func (s *Server) Close() error { return s.l.Close() }

// service holds the RPC methods; see the CLI for their use.
type service struct{ s *Server }

// AddUnitArgs are AddUnit's arguments.
type AddUnitArgs struct {
	App string
	N   int
}

// PairArgs name two sides of a relation; Force is remove-relation --force.
type PairArgs struct {
	A, B  string
	Force bool
}

// RemoveUnitArgs name units to remove; Force is remove-unit --force.
type RemoveUnitArgs struct {
	Units []string
	Force bool
}

// ConfigArgs set config values.
type ConfigArgs struct {
	App  string
	KV   map[string]string
	YAML []byte
}

// RunArgs queue an action; Params is JSON.
type RunArgs struct {
	Unit, Action string
	Params       []byte
}

// WaitArgs wait for an action or for idleness.
type WaitArgs struct {
	ID      int
	Timeout time.Duration
	Settle  time.Duration
}

// LogArgs select debug-log lines.
type LogArgs struct {
	After   int
	Wait    time.Duration
	Include []string
}

// ModelConfigArgs set model settings.
type ModelConfigArgs struct {
	UpdateStatus, Lease time.Duration
	AgentVersion        string
	// SecretRotateScale is the secret-rotate-scale test knob (0: unchanged).
	SecretRotateScale time.Duration
}

// MachineInfoReply tells the CLI how to enter a unit's machine.
type MachineInfoReply struct {
	Namespace string
	Address   string
	CharmDir  string
	ToolsDir  string
}

func (v *service) Deploy(args DeployArgs, _ *Empty) error { return v.s.m.Deploy(args) }

func (v *service) AddUnit(args AddUnitArgs, reply *[]string) error {
	names, err := v.s.m.AddUnit(args.App, args.N)
	*reply = names
	return err
}

func (v *service) RemoveUnit(args RemoveUnitArgs, _ *Empty) error {
	if args.Force {
		return v.s.m.ForceRemoveUnit(args.Units...)
	}
	return v.s.m.RemoveUnit(args.Units...)
}

func (v *service) Integrate(args PairArgs, reply *int) error {
	id, err := v.s.m.Integrate(args.A, args.B)
	*reply = id
	return err
}

func (v *service) RemoveRelation(args PairArgs, _ *Empty) error {
	if args.Force {
		return v.s.m.ForceRemoveRelation(args.A, args.B)
	}
	return v.s.m.RemoveRelation(args.A, args.B)
}

func (v *service) GetConfig(app string, reply *[]byte) error {
	values, options, err := v.s.m.Config(app)
	if err != nil {
		return err
	}
	*reply, err = json.Marshal(map[string]any{"values": values, "options": options})
	return err
}

func (v *service) SetConfig(args ConfigArgs, _ *Empty) error {
	return v.s.m.SetConfig(args.App, args.KV, args.YAML)
}

func (v *service) ModelConfig(args ModelConfigArgs, _ *Empty) error {
	if args.AgentVersion != "" {
		if err := v.s.m.SetAgentVersion(args.AgentVersion); err != nil {
			return err
		}
	}
	if args.SecretRotateScale > 0 {
		if err := v.s.m.SetSecretRotateScale(args.SecretRotateScale); err != nil {
			return err
		}
	}
	return v.s.m.SetModelConfig(args.UpdateStatus, args.Lease)
}

func (v *service) Run(args RunArgs, reply *int) error {
	var params map[string]any
	if len(args.Params) > 0 {
		if err := json.Unmarshal(args.Params, &params); err != nil {
			return err
		}
	}
	id, err := v.s.m.EnqueueAction(args.Unit, args.Action, params)
	*reply = id
	return err
}

func (v *service) WaitAction(args WaitArgs, reply *[]byte) error {
	ctx := context.Background()
	if args.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, args.Timeout)
		defer cancel()
	}
	r, err := v.s.m.WaitAction(ctx, args.ID)
	data, jerr := json.Marshal(r)
	*reply = data
	if err != nil {
		return err
	}
	return jerr
}

func (v *service) Exec(args ExecArgs, reply *ExecResult) error {
	r, err := v.s.m.Exec(context.Background(), args)
	*reply = r
	return err
}

func (v *service) Status(_ Empty, reply *[]byte) error {
	var err error
	*reply, err = json.Marshal(v.s.m.Status())
	return err
}

func (v *service) ShowUnit(unit string, reply *[]byte) error {
	info, err := v.s.m.ShowUnit(unit)
	if err != nil {
		return err
	}
	*reply, err = json.Marshal(info)
	return err
}

func (v *service) ShowSecret(args ShowSecretArgs, reply *[]byte) error {
	shown, err := v.s.m.ShowSecret(args)
	if err != nil {
		return err
	}
	*reply, err = json.Marshal(shown)
	return err
}

func (v *service) DebugLog(args LogArgs, reply *[]LogLine) error {
	*reply = v.s.m.DebugLog(args.After, args.Wait, args.Include)
	return nil
}

func (v *service) WaitIdle(args WaitArgs, _ *Empty) error {
	ctx := context.Background()
	if args.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, args.Timeout)
		defer cancel()
	}
	return v.s.m.WaitIdle(ctx, args.Settle)
}

func (v *service) KillMachine(unit string, _ *Empty) error {
	return v.s.m.KillMachine(context.Background(), unit)
}

func (v *service) RestartMachine(unit string, _ *Empty) error {
	return v.s.m.RestartMachine(context.Background(), unit)
}

// ResolvedArgs name a unit in error.
type ResolvedArgs struct {
	Unit    string
	NoRetry bool
}

func (v *service) Resolved(args ResolvedArgs, _ *Empty) error {
	return v.s.m.Resolved(args.Unit, args.NoRetry)
}

func (v *service) Freeze(unit string, _ *Empty) error  { return v.s.m.Freeze(unit) }
func (v *service) Thaw(unit string, _ *Empty) error    { return v.s.m.Thaw(unit) }
func (v *service) Cut(unit string, _ *Empty) error     { return v.s.m.Cut(unit) }
func (v *service) Restore(unit string, _ *Empty) error { return v.s.m.Restore(unit) }

func (v *service) MachineInfo(unit string, reply *MachineInfoReply) error {
	u, mach, err := v.s.m.machineOf(unit)
	if err != nil {
		return err
	}
	v.s.m.mu.Lock()
	defer v.s.m.mu.Unlock()
	*reply = MachineInfoReply{Namespace: mach.Namespace, Address: u.Address, CharmDir: v.s.m.charmDir(u), ToolsDir: v.s.m.toolsDir(u)}
	return nil
}

// Destroy tears the model down; the controller process exits afterwards.
func (v *service) Destroy(_ Empty, _ *Empty) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := v.s.m.Destroy(ctx)
	go func() {
		time.Sleep(100 * time.Millisecond)
		close(v.s.Shutdown)
	}()
	return err
}
