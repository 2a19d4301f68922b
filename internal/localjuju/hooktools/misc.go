package hooktools

import (
	"errors"
)

func init() {
	register("goal-state", "", "Print the status of the charm's peers and related units.", func(Context) command { return &goalState{} })
	register("juju-reboot", "", "Reboot the host machine.", func(Context) command { return &jujuReboot{} })
	register("credential-get", "", "access cloud credentials", func(Context) command { return &credentialGet{} })
}

// goalState is goal-state; YAML by default (contract §2.3).
type goalState struct{ out output }

func (c *goalState) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatYAML, formatSmart, formatYAML, formatJSON)
}

func (c *goalState) init(args []string) error { return checkEmpty(args) }

func (c *goalState) run(e *env) error {
	gs, err := e.ctx.GoalState()
	if err != nil {
		return err
	}
	if gs.Units == nil {
		gs.Units = map[string]GoalStatus{}
	}
	if gs.Relations == nil {
		gs.Relations = map[string]map[string]GoalStatus{}
	}
	return c.out.write(e, gs)
}

// Rebooter is implemented by a Context that supports juju-reboot. localjuju's
// agent does not: juju-reboot then fails (outside actions) with
// ErrRebootNotSupported.
type Rebooter interface {
	// RequestReboot asks for a reboot after the hook (now=false) or at once.
	RequestReboot(now bool) error
}

// ErrRebootNotSupported is juju-reboot's error when the Context is not a
// Rebooter.
var ErrRebootNotSupported = errors.New("juju-reboot is not supported in localjuju")

// jujuReboot is juju-reboot.
type jujuReboot struct{ now bool }

func (c *jujuReboot) setFlags(fs *flagSet) {
	fs.boolVar(&c.now, "now", "reboot immediately, killing the invoking process")
}

func (c *jujuReboot) init(args []string) error { return checkEmpty(args) }

func (c *jujuReboot) run(e *env) error {
	if _, err := e.ctx.ActionParams(); err == nil {
		return errors.New("juju-reboot is not supported when running an action.")
	}
	if r, ok := e.ctx.(Rebooter); ok {
		return r.RequestReboot(c.now)
	}
	return ErrRebootNotSupported
}

// CredentialGetter is implemented by a Context whose application is trusted
// and may read its cloud credential. Without it credential-get fails as
// Juju does for untrusted applications.
type CredentialGetter interface {
	CloudSpec() (map[string]any, error)
}

// credentialGet is credential-get.
type credentialGet struct{ out output }

func (c *credentialGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
}

func (c *credentialGet) init(args []string) error { return checkEmpty(args) }

func (c *credentialGet) run(e *env) error {
	g, ok := e.ctx.(CredentialGetter)
	if !ok {
		return errors.New("cannot access cloud credentials: permission denied")
	}
	spec, err := g.CloudSpec()
	if err != nil {
		return annotate("cannot access cloud credentials", err)
	}
	return c.out.write(e, spec)
}
