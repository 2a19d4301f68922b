package controller

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/pgjuju/pgjuju/internal/localjuju/hooktools"
)

// execute runs one operation of an agent.
func (m *Model) execute(a *agent, op *operation) {
	switch {
	case op.hook != nil:
		m.runHook(a, op.hook, op.picked)
	case op.action != nil:
		m.runAction(a, op.action)
	case op.cmd != nil:
		m.runCommand(a, op.cmd)
	}
}

// procResult is how a context's process ended.
type procResult struct {
	code           int
	stdout, stderr []byte
	startErr       error
	killed         bool // the agent was killed while it ran
	// started and exited bracket the process, for HookTimings.
	started, exited time.Time
}

// runProcess executes argv in the unit's machine with env, cwd the charm
// dir, no stdin (§1.2), registering the context for the hook tools.
func (m *Model) runProcess(a *agent, c *hookContext, u *unitState, argv []string, env []string) procResult {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = m.charmDir(u)
	cmd.Env = env
	cmd.Stdin = nil
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// A process group of its own, so a hook's leftovers can be found; daemons
	// the charm starts escape it with setsid, as on a real machine.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	m.mu.Lock()
	mach := m.machines[u.Machine]
	m.contexts[c.id] = c
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.contexts, c.id)
		m.mu.Unlock()
	}()
	if mach == nil {
		return procResult{startErr: errors.New("machine is gone")}
	}
	started := time.Now()
	if err := mach.Start(cmd); err != nil {
		return procResult{startErr: err}
	}
	m.mu.Lock()
	a.proc = cmd.Process
	m.mu.Unlock()
	err := cmd.Wait()
	m.mu.Lock()
	a.proc = nil
	killed := !a.alive
	m.mu.Unlock()
	res := procResult{stdout: stdout.Bytes(), stderr: stderr.Bytes(), killed: killed, started: started, exited: time.Now()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
		if res.code < 0 {
			res.code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
	default:
		res.startErr = err
	}
	return res
}

// hookEnv builds the hook environment from scratch, in Juju's order (§1.4).
func (m *Model) hookEnv(u *unitState, c *hookContext, h *hookSpec, dispatchPath string) []string {
	charmDir := m.charmDir(u)
	hookName := ""
	if h != nil && h.Kind != "" {
		hookName = h.Name
	}
	env := []string{
		"CHARM_DIR=" + charmDir,
		"JUJU_CHARM_DIR=" + charmDir,
		"JUJU_CONTEXT_ID=" + c.id,
		"JUJU_HOOK_NAME=" + hookName,
		"JUJU_AGENT_SOCKET_ADDRESS=" + filepath.Join(m.agentDir(u), "agent.socket"),
		"JUJU_AGENT_SOCKET_NETWORK=unix",
		"JUJU_UNIT_NAME=" + u.Name,
		"JUJU_MODEL_UUID=" + m.st.UUID,
		"JUJU_MODEL_NAME=" + m.st.Name,
		"JUJU_API_ADDRESSES=" + "localjuju.invalid:17070",
		"JUJU_SLA=unsupported",
		"JUJU_MACHINE_ID=" + strconv.Itoa(u.Machine),
		"JUJU_PRINCIPAL_UNIT=",
		"JUJU_AVAILABILITY_ZONE=",
		"CLOUD_API_VERSION=",
		"JUJU_VERSION=" + m.jujuVersionLocked(),
		"JUJU_CHARM_HTTP_PROXY=",
		"JUJU_CHARM_HTTPS_PROXY=",
		"JUJU_CHARM_FTP_PROXY=",
		"JUJU_CHARM_NO_PROXY=",
		"APT_LISTCHANGES_FRONTEND=none",
		"DEBIAN_FRONTEND=noninteractive",
		"LANG=C.UTF-8",
		"TERM=tmux-256color",
		"PATH=" + m.toolsDir(u) + ":" + agentPath(),
	}
	if h != nil && h.RelationID >= 0 {
		r := m.st.Relations[h.RelationID]
		ep := ""
		if r != nil {
			ep = r.endpointOf(u.App).Endpoint
		}
		env = append(env,
			"JUJU_RELATION="+ep,
			"JUJU_RELATION_ID="+ep+":"+strconv.Itoa(h.RelationID),
			"JUJU_REMOTE_UNIT="+h.RemoteUnit,
			"JUJU_REMOTE_APP="+h.RemoteApp,
		)
		if h.Kind == "relation-departed" {
			env = append(env, "JUJU_DEPARTING_UNIT="+h.Departing)
		}
	}
	if c.action != nil {
		env = append(env,
			"JUJU_ACTION_NAME="+c.action.Name,
			"JUJU_ACTION_UUID="+strconv.Itoa(c.action.ID),
			"JUJU_ACTION_TAG=action-"+strconv.Itoa(c.action.ID),
		)
	}
	if h != nil && h.StorageID != "" {
		kind := m.charms[u.App].Meta.Storage[storageName(h.StorageID)].Type
		env = append(env,
			"JUJU_STORAGE_ID="+h.StorageID,
			"JUJU_STORAGE_LOCATION="+m.storageDir(u, h.StorageID),
			"JUJU_STORAGE_KIND="+kind,
		)
	}
	if h != nil && h.SecretURI != "" {
		env = append(env, "JUJU_SECRET_ID="+h.SecretURI, "JUJU_SECRET_LABEL="+h.SecretLabel)
		// Only secret-remove and secret-expired name a revision (§1.4).
		if (h.Kind == "secret-remove" || h.Kind == "secret-expired") && h.SecretRevision > 0 {
			env = append(env, "JUJU_SECRET_REVISION="+strconv.Itoa(h.SecretRevision))
		}
	}
	if dispatchPath != "" {
		env = append(env, "JUJU_DISPATCH_PATH="+dispatchPath)
	}
	return env
}

// agentPath is the PATH of the agent itself, as Juju appends it.
func agentPath() string {
	if p := os.Getenv("PATH"); p != "" {
		return p
	}
	return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}

// handlerFor picks dispatch or hooks/<name> / actions/<name> (§1.1). An
// empty path with nil error is a missing hook.
func handlerFor(charmDir, kind, name string) (string, error) {
	if _, err := os.Stat(filepath.Join(charmDir, "metadata.yaml")); err != nil {
		return "", errors.New("charm missing from disk")
	}
	for _, p := range []string{filepath.Join(charmDir, "dispatch"), filepath.Join(charmDir, kind, name)} {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("fork/exec %s: permission denied", p)
		}
		return p, nil
	}
	return "", nil
}

// ---- hooks ----

func (m *Model) runHook(a *agent, h *hookSpec, picked time.Time) {
	m.mu.Lock()
	u := m.units[a.unit]
	if u == nil {
		m.mu.Unlock()
		return
	}
	lock := m.machineLocks[u.Machine]
	m.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()

	m.mu.Lock()
	c := m.newContextLocked(u, h.Name)
	c.hook = h
	u.AgentStatus, u.AgentMessage = "executing", "running "+h.Name+" hook"
	switch h.Kind {
	case "install":
		if !u.Local.StatusSetByCharm {
			u.Workload = hooktools.StatusInfo{Status: "maintenance", Message: "installing charm software"}
			u.WorkloadSince = time.Now()
		}
	case "stop":
		u.Workload = hooktools.StatusInfo{Status: "maintenance", Message: "stopping charm software"}
	case "remove":
		u.Workload = hooktools.StatusInfo{Status: "maintenance", Message: "cleaning up prior to charm deletion"}
	}
	charmDir := m.charmDir(u)
	env := m.hookEnv(u, c, h, "hooks/"+h.Name)
	m.mu.Unlock()

	start := time.Now()
	timing := HookTiming{Unit: a.unit, Hook: h.Name, Picked: picked}
	path, herr := handlerFor(charmDir, "hooks", h.Name)
	var res procResult
	switch {
	case herr != nil:
		res = procResult{startErr: herr}
	case path == "":
		m.log.add(logLine{Time: time.Now(), Entity: a.unit, Level: "INFO", Message: fmt.Sprintf("skipped %q hook (missing)", h.Name)})
	default:
		res = m.runProcess(a, c, u, []string{path}, env)
	}
	timing.Started, timing.Exited = res.started, res.exited
	m.logOutput(a.unit, h.Name, res)

	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { _ = m.saveLocked() }()
	u = m.units[a.unit]
	if u == nil {
		return
	}
	if res.killed {
		// The machine died under the hook: on restart it counts as failed.
		f := *h
		u.Local.FailedHook = &f
		u.Local.RetryAt = time.Now()
		return
	}
	ok := res.startErr == nil && res.code == 0
	var cerr error
	if ok {
		cerr = c.commitLocked()
		ok = cerr == nil
	}
	elapsed := time.Since(start)
	if !ok {
		reason := fmt.Sprintf("exit status %d", res.code)
		if res.startErr != nil {
			reason = res.startErr.Error()
		} else if cerr != nil {
			reason = "committing changes: " + cerr.Error()
		}
		m.failHookLocked(u, h, reason)
		return
	}
	m.log.add(logLine{Time: time.Now(), Entity: a.unit, Level: "INFO", Message: fmt.Sprintf("ran %q hook (%s)", h.Name, elapsed.Round(time.Millisecond))})
	timing.Committed = time.Now()
	m.recordTimingLocked(timing)
	u.Local.FailedHook, u.Local.Retries = nil, 0
	u.AgentStatus, u.AgentMessage, u.AgentData = "idle", "", nil
	m.hookDoneLocked(u, h, c)
	m.notifyAllLocked()
}

func (m *Model) failHookLocked(u *unitState, h *hookSpec, reason string) {
	f := *h
	u.Local.FailedHook = &f
	u.Local.Retries++
	u.Local.RetryAt = time.Now().Add(retryDelay(u.Local.Retries))
	u.AgentStatus = "error"
	u.AgentMessage = fmt.Sprintf("hook failed: %q", h.Name)
	u.AgentData = map[string]any{"hook": h.Name}
	if h.RelationID >= 0 {
		u.AgentData["relation-id"] = h.RelationID
		if h.RemoteUnit != "" {
			u.AgentData["remote-unit"] = h.RemoteUnit
		}
	}
	m.log.add(logLine{Time: time.Now(), Entity: u.Name, Level: "ERROR", Message: fmt.Sprintf("hook %q failed: %s; retrying in %s", h.Name, reason, time.Until(u.Local.RetryAt).Round(time.Second))})
}

// hookDoneLocked records in the unit's local state what a committed hook
// achieved, which moves the resolver on.
func (m *Model) hookDoneLocked(u *unitState, h *hookSpec, c *hookContext) {
	loc := &u.Local
	r := m.st.Relations[h.RelationID]
	var lr *localRelation
	if h.RelationID >= 0 {
		lr = loc.Relations[h.RelationID]
	}
	switch h.Kind {
	case "storage-attached":
		loc.StorageAttached[h.StorageID] = true
	case "storage-detaching":
		loc.StorageAttached[h.StorageID] = false
	case "install":
		loc.Installed = true
	case "leader-elected":
		loc.LeaderTerm, loc.LeaderSettings = h.Version, h.Version2
	case "leader-settings-changed":
		loc.LeaderSettings = h.Version
	case "config-changed":
		loc.ConfigVersion = h.Version
	case "start":
		loc.Started, loc.RestartPending = true, false
		if !loc.StatusSetByCharm {
			u.Workload = hooktools.StatusInfo{Status: "unknown"}
			u.WorkloadSince = time.Now()
		}
	case "stop":
		loc.Stopped = true
	case "remove":
		u.Workload = hooktools.StatusInfo{Status: "terminated"}
		if a := m.agents[u.Name]; a != nil && !a.stopped {
			a.stopped = true
			close(a.stopCh)
		}
		m.unitDoneLocked(u)
	case "update-status":
		loc.UpdateStatusNext = time.Now().Add(jitter(m.st.UpdateStatusInterval))
	case "relation-created":
		loc.Relations[h.RelationID] = &localRelation{Created: true, Members: map[string]int{}}
		if r != nil && r.Life == Alive && u.Life == Alive {
			m.enterScopeLocked(r, u)
		}
	case "relation-joined":
		if lr != nil {
			lr.Members[h.RemoteUnit] = h.Version
			lr.PendingChanged = h.RemoteUnit
		}
	case "relation-changed":
		if lr == nil {
			break
		}
		if h.AppChanged {
			lr.AppVersion = h.Version
		} else {
			if _, ok := lr.Members[h.RemoteUnit]; ok {
				lr.Members[h.RemoteUnit] = h.Version
			}
			if lr.PendingChanged == h.RemoteUnit {
				lr.PendingChanged = ""
			}
		}
	case "relation-departed":
		if lr != nil {
			delete(lr.Members, h.RemoteUnit)
			if lr.PendingChanged == h.RemoteUnit {
				lr.PendingChanged = ""
			}
		}
	case "relation-broken":
		delete(loc.Relations, h.RelationID)
		if r != nil {
			r.Broken[u.Name] = true
		}
		m.cleanupRelationsLocked()
	case "secret-changed":
		if loc.SecretsSeen == nil {
			loc.SecretsSeen = map[string]int{}
		}
		loc.SecretsSeen[h.SecretURI] = h.Version
	case "secret-remove", "secret-expired", "secret-rotate":
		m.secretHookDoneLocked(h)
	}
}

// enterScopeLocked puts the unit into the relation with the addresses Juju
// pre-fills in every unit databag (§2.3).
func (m *Model) enterScopeLocked(r *relationState, u *unitState) {
	if r.Scope[u.Name] {
		return
	}
	r.Scope[u.Name] = true
	bag := cloneBag(r.UnitBags[u.Name])
	bag["private-address"] = u.Address
	bag["ingress-address"] = u.Address
	bag["egress-subnets"] = u.Address + "/32"
	if !maps.Equal(bag, r.UnitBags[u.Name]) {
		r.UnitBags[u.Name] = bag
		r.UnitVersion[u.Name]++
	}
}

// commitLocked applies the buffered writes (§2.4). Leadership is re-checked
// for application databag writes; a lost lease fails the commit.
func (c *hookContext) commitLocked() error {
	if c.committed {
		return nil
	}
	c.committed = true
	m := c.m
	u := m.units[c.unit]
	if u == nil {
		return errUnitGone
	}
	if len(c.relApp) > 0 && !m.isLeaderLocked(c.unit) {
		return errors.New("cannot write relation settings: not the leader")
	}
	for id, pending := range c.relUnit {
		r := m.st.Relations[id]
		if r == nil {
			continue
		}
		bag := cloneBag(r.UnitBags[c.unit])
		applyPending(bag, pending)
		if !maps.Equal(bag, r.UnitBags[c.unit]) {
			r.UnitBags[c.unit] = bag
			r.UnitVersion[c.unit]++
		}
	}
	for id, pending := range c.relApp {
		r := m.st.Relations[id]
		if r == nil {
			continue
		}
		bag := cloneBag(r.AppBags[c.app])
		applyPending(bag, pending)
		if !maps.Equal(bag, r.AppBags[c.app]) {
			r.AppBags[c.app] = bag
			r.AppVersion[c.app]++
		}
	}
	for _, p := range c.ports {
		u.Ports = applyPort(u.Ports, p)
	}
	for k, v := range c.charmState {
		if v == nil {
			delete(u.CharmState, k)
		} else {
			u.CharmState[k] = *v
		}
	}
	for _, op := range c.secretOps {
		if err := op(); err != nil {
			return err
		}
	}
	return nil
}

func applyPort(ports []hooktools.OpenedPort, p portOp) []hooktools.OpenedPort {
	var out []hooktools.OpenedPort
	for _, o := range ports {
		if o.Range != p.r {
			out = append(out, o)
		}
	}
	if p.open {
		out = append(out, hooktools.OpenedPort{Range: p.r, Endpoints: p.endpoints})
	}
	return out
}

// logOutput records a context's stdout (DEBUG) and stderr (WARNING) under
// unit.<unit>.<hook>, as Juju 3.6 logs them (§1.2).
func (m *Model) logOutput(unit, name string, res procResult) {
	now := time.Now()
	logger := "unit." + unit + "." + name
	for _, l := range splitLines(res.stdout) {
		m.log.add(logLine{Time: now, Entity: unit, Logger: logger, Level: "DEBUG", Message: l})
	}
	for _, l := range splitLines(res.stderr) {
		m.log.add(logLine{Time: now, Entity: unit, Logger: logger, Level: "WARNING", Message: l})
	}
	if res.startErr != nil {
		m.log.add(logLine{Time: now, Entity: unit, Logger: logger, Level: "ERROR", Message: res.startErr.Error()})
	}
}

func splitLines(b []byte) []string {
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// outputValue stores process output in action results, base64 when it is not
// UTF-8 (§1.2).
func outputValue(results map[string]any, key string, b []byte) {
	if len(b) == 0 {
		return
	}
	if utf8.Valid(b) {
		results[key] = string(b)
		return
	}
	results[key] = base64Std(b)
	results[key+"-encoding"] = "base64"
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// HookTiming brackets one committed hook run: when the resolver picked it,
// when its process started and exited, and when its changes were committed.
// Committed-Picked minus Exited-Started is the runtime's own overhead.
type HookTiming struct {
	Unit, Hook                         string
	Picked, Started, Exited, Committed time.Time
}

const maxTimings = 1000

func (m *Model) recordTimingLocked(t HookTiming) {
	m.timings = append(m.timings, t)
	if len(m.timings) > maxTimings {
		m.timings = m.timings[len(m.timings)-maxTimings/2:]
	}
}

// HookTimings returns the timings of recently committed hooks.
func (m *Model) HookTimings() []HookTiming {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]HookTiming(nil), m.timings...)
}
