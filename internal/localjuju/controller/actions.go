package controller

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/names"
)

// ActionResult is an action as `juju show-operation` reports it.
type ActionResult struct {
	ID        int             `json:"id"`
	Unit      string          `json:"unit"`
	Name      string          `json:"name"`
	Status    string          `json:"status"`
	Message   string          `json:"message,omitempty"`
	Results   map[string]any  `json:"results,omitempty"`
	Log       []actionLogLine `json:"log,omitempty"`
	Enqueued  time.Time       `json:"enqueued"`
	Started   time.Time       `json:"started"`
	Completed time.Time       `json:"completed"`
}

// EnqueueAction validates the parameters against actions.yaml and queues
// the action on the unit.
func (m *Model) EnqueueAction(unit, name string, params map[string]any) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[unit]
	if u == nil {
		return 0, fmt.Errorf("unit %q not found", unit)
	}
	ch := m.charms[u.App]
	validated, err := ch.Actions.Validate(name, params)
	if err != nil {
		return 0, err
	}
	m.st.NextAction++
	id := m.st.NextAction
	m.st.Actions[id] = &actionState{ID: id, Unit: unit, Name: name, Params: validated, Status: "pending", Enqueued: time.Now()}
	if a := m.agents[unit]; a != nil {
		a.poke()
	}
	return id, m.saveLocked()
}

// Action reports an action's state.
func (m *Model) Action(id int) (ActionResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	act := m.st.Actions[id]
	if act == nil {
		return ActionResult{}, fmt.Errorf("action %d not found", id)
	}
	return ActionResult{ID: act.ID, Unit: act.Unit, Name: act.Name, Status: act.Status, Message: act.Message,
		Results: maps.Clone(act.Results), Log: append([]actionLogLine(nil), act.Log...),
		Enqueued: act.Enqueued, Started: act.Started, Completed: act.Completed}, nil
}

// WaitAction polls until the action completed or failed, or ctx ends.
func (m *Model) WaitAction(ctx context.Context, id int) (ActionResult, error) {
	for {
		r, err := m.Action(id)
		if err != nil || r.Status == "completed" || r.Status == "failed" || r.Status == "cancelled" {
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("timed out waiting for action %d: %w", id, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runAction executes an action through dispatch (actions/<name>). A failing
// action never puts the unit in error (§3.9); changes commit on exit 0, even
// after action-fail.
func (m *Model) runAction(a *agent, act *actionState) {
	m.mu.Lock()
	u := m.units[a.unit]
	if u == nil {
		m.mu.Unlock()
		return
	}
	spec := m.charms[u.App].Actions.Actions[act.Name]
	lock := m.machineLocks[u.Machine]
	act.Status, act.Started = "running", time.Now()
	m.mu.Unlock()
	// Actions with parallel: true and no execution group skip the machine
	// lock (§1.3).
	if !(spec.Parallel && spec.ExecutionGroup == "") {
		lock.Lock()
		defer lock.Unlock()
	}
	m.mu.Lock()
	c := m.newContextLocked(u, act.Name)
	c.action = act
	prevAgent, prevMsg := u.AgentStatus, u.AgentMessage
	if prevAgent != "error" {
		u.AgentStatus, u.AgentMessage = "executing", "running action "+act.Name
	}
	charmDir := m.charmDir(u)
	env := m.hookEnv(u, c, nil, "actions/"+act.Name)
	m.mu.Unlock()

	path, herr := handlerFor(charmDir, "actions", act.Name)
	var res procResult
	switch {
	case herr != nil:
		res = procResult{startErr: herr}
	case path == "":
		res = procResult{startErr: fmt.Errorf("action not implemented on unit %q", u.Name)}
	default:
		res = m.runProcess(a, c, u, []string{path}, env)
	}
	m.logOutput(a.unit, act.Name, res)

	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { _ = m.saveLocked() }()
	if u := m.units[a.unit]; u != nil && u.AgentStatus == "executing" {
		u.AgentStatus, u.AgentMessage = prevAgent, prevMsg
		if prevAgent == "executing" {
			u.AgentStatus, u.AgentMessage = "idle", ""
		}
	}
	results := map[string]any{}
	maps.Copy(results, c.actionSets)
	act.Completed = time.Now()
	switch {
	case res.startErr != nil:
		act.Status, act.Message = "failed", res.startErr.Error()
	case res.killed:
		act.Status, act.Message = "failed", "machine was killed"
	case res.code != 0:
		act.Status, act.Message = "failed", "exit status "+strconv.Itoa(res.code)
	default:
		if err := c.commitLocked(); err != nil {
			act.Status, act.Message = "failed", "committing changes: "+err.Error()
		} else if c.actionFail != nil {
			act.Status, act.Message = "failed", *c.actionFail
		} else {
			act.Status = "completed"
		}
	}
	if res.startErr == nil {
		results["return-code"] = res.code
		outputValue(results, "stdout", res.stdout)
		outputValue(results, "stderr", res.stderr)
	}
	act.Results = results
	m.log.add(logLine{Time: time.Now(), Entity: a.unit, Level: "INFO", Message: fmt.Sprintf("action %s (%d) %s", act.Name, act.ID, act.Status)})
	m.notifyAllLocked()
}

// ---- juju-exec ----

// ExecArgs are a juju-exec request (§5).
type ExecArgs struct {
	Unit            string
	Commands        string
	RelationID      int // -1: none
	RemoteUnit      string
	ForceRemoteUnit bool
}

// ExecResult is what juju-exec passes back.
type ExecResult struct {
	Code           int
	Stdout, Stderr []byte
}

type commandReq struct {
	args  ExecArgs
	hook  *hookSpec
	reply chan ExecResult
}

// Exec runs commands in a hook context of the unit, serialised with its
// hooks and holding the machine lock, and waits for them (§5.3).
func (m *Model) Exec(ctx context.Context, args ExecArgs) (ExecResult, error) {
	m.mu.Lock()
	u := m.units[args.Unit]
	a := m.agents[args.Unit]
	if u == nil || a == nil || !a.alive {
		m.mu.Unlock()
		return ExecResult{}, fmt.Errorf("unit %q not found on this machine", args.Unit)
	}
	h, err := m.execContextLocked(u, args)
	if err != nil {
		m.mu.Unlock()
		return ExecResult{}, err
	}
	req := &commandReq{args: args, hook: h, reply: make(chan ExecResult, 1)}
	a.cmds = append(a.cmds, req)
	a.poke()
	m.mu.Unlock()
	select {
	case r := <-req.reply:
		return r, nil
	case <-ctx.Done():
		return ExecResult{}, ctx.Err()
	}
}

// execContextLocked builds the relation context of a juju-exec command,
// inferring the remote unit as Juju does (§5.3).
func (m *Model) execContextLocked(u *unitState, args ExecArgs) (*hookSpec, error) {
	if args.RelationID < 0 {
		if args.RemoteUnit != "" {
			return nil, fmt.Errorf("remote unit provided without a relation: %s", args.RemoteUnit)
		}
		return nil, nil
	}
	r := m.st.Relations[args.RelationID]
	lr := u.Local.Relations[args.RelationID]
	if r == nil || lr == nil {
		return nil, fmt.Errorf("unknown relation id: %d", args.RelationID)
	}
	h := &hookSpec{RelationID: args.RelationID}
	members := sortedMembers(lr.Members)
	switch {
	case args.RemoteUnit != "" && !names.IsValidUnit(args.RemoteUnit):
		return nil, fmt.Errorf("invalid remote unit: %s", args.RemoteUnit)
	case args.RemoteUnit != "" && args.ForceRemoteUnit:
		h.RemoteUnit = args.RemoteUnit
	case args.RemoteUnit != "":
		if _, ok := lr.Members[args.RemoteUnit]; !ok {
			return nil, fmt.Errorf("unknown remote unit %s; possibilities are [%s]", args.RemoteUnit, strings.Join(members, " "))
		}
		h.RemoteUnit = args.RemoteUnit
	case len(members) == 0:
		return nil, fmt.Errorf("cannot infer remote unit in empty relation %d", args.RelationID)
	case len(members) == 1:
		h.RemoteUnit = members[0]
	default:
		return nil, fmt.Errorf("ambiguous remote unit; possibilities are [%s]", strings.Join(members, " "))
	}
	return h, nil
}

// runCommand runs juju-exec commands as /bin/bash <script> in a
// run-commands context without JUJU_DISPATCH_PATH; buffered writes commit
// even when the commands exit non-zero (§5.3).
func (m *Model) runCommand(a *agent, req *commandReq) {
	m.mu.Lock()
	if len(a.cmds) > 0 && a.cmds[0] == req {
		a.cmds = a.cmds[1:]
	}
	u := m.units[a.unit]
	if u == nil {
		m.mu.Unlock()
		req.reply <- ExecResult{Code: 1, Stderr: []byte("ERROR unit is gone\n")}
		return
	}
	lock := m.machineLocks[u.Machine]
	m.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()

	m.mu.Lock()
	c := m.newContextLocked(u, "run-commands")
	c.command = true
	c.hook = req.hook
	env := m.hookEnv(u, c, req.hook, "")
	dir := m.agentDir(u)
	m.mu.Unlock()
	script, err := os.CreateTemp(dir, "juju-exec-*.sh")
	if err != nil {
		req.reply <- ExecResult{Code: 1, Stderr: []byte("ERROR " + err.Error() + "\n")}
		return
	}
	defer os.Remove(script.Name())
	_, _ = script.WriteString(req.args.Commands + "\n")
	_ = script.Close()
	res := m.runProcess(a, c, u, []string{"/bin/bash", filepath.Clean(script.Name())}, env)
	m.logOutput(a.unit, "juju-exec", res)
	m.mu.Lock()
	if res.startErr == nil && !res.killed {
		if err := c.commitLocked(); err != nil {
			res.stderr = append(res.stderr, []byte("ERROR committing changes: "+err.Error()+"\n")...)
			if res.code == 0 {
				res.code = 1
			}
		}
		m.notifyAllLocked()
		_ = m.saveLocked()
	}
	m.mu.Unlock()
	out := ExecResult{Code: res.code, Stdout: res.stdout, Stderr: res.stderr}
	if res.startErr != nil {
		out.Code, out.Stderr = 1, []byte("ERROR "+res.startErr.Error()+"\n")
	}
	req.reply <- out
}
