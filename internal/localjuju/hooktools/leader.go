package hooktools

import (
	"fmt"
	"strings"
)

func init() {
	register("is-leader", "", "Print application leadership status.", func(Context) command { return &isLeader{} })
	register("leader-get", "[<key>]", "Print application leadership settings.", func(Context) command { return &leaderGet{} })
	register("leader-set", "<key>=<value> [...]", "Write application leadership settings.", func(Context) command { return &leaderSet{} })
}

// isLeader is is-leader (contract §2.3).
type isLeader struct{ out output }

func (c *isLeader) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
}

func (c *isLeader) init(args []string) error { return checkEmpty(args) }

func (c *isLeader) run(e *env) error {
	leader, err := e.ctx.IsLeader()
	if err != nil {
		return annotate("leadership status unknown", err)
	}
	return c.out.write(e, leader)
}

// leaderGet is leader-get.
type leaderGet struct {
	out output
	key string
}

func (c *leaderGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
}

func (c *leaderGet) init(args []string) error {
	if len(args) == 0 {
		return nil
	}
	c.key = args[0]
	if c.key == "-" {
		c.key = ""
	} else if strings.Contains(c.key, "=") {
		return fmt.Errorf("invalid key %q", c.key)
	}
	return checkEmpty(args[1:])
}

func (c *leaderGet) run(e *env) error {
	settings, err := e.ctx.LeaderGet()
	if err != nil {
		return annotate("cannot read leadership settings", err)
	}
	if c.key == "" {
		if settings == nil {
			settings = map[string]string{}
		}
		return c.out.write(e, settings)
	}
	if v, ok := settings[c.key]; ok {
		return c.out.write(e, v)
	}
	return c.out.write(e, nil)
}

// leaderSet is leader-set; Context.LeaderSet's error is prefixed with
// "cannot write leadership settings: " as in Juju.
type leaderSet struct{ settings map[string]string }

func (c *leaderSet) setFlags(*flagSet) {}

func (c *leaderSet) init(args []string) (err error) {
	c.settings, err = parseKeyValues(args)
	return err
}

func (c *leaderSet) run(e *env) error {
	if err := e.ctx.LeaderSet(c.settings); err != nil {
		return annotate("cannot write leadership settings", err)
	}
	return nil
}
