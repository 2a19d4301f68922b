package hooktools

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

func init() {
	register("action-get", "[<key>[.<key>.<key>...]]", "Get action parameters.", func(Context) command { return &actionGet{} })
	register("action-set", "<key>=<value> [<key>=<value> ...]", "Set action results.", func(Context) command { return &actionSet{} })
	register("action-fail", `["<failure message>"]`, "Set action fail status with message.", func(Context) command { return &actionFail{} })
	register("action-log", "<message>", "Record a progress message for the current action.", func(Context) command { return &actionLog{} })
}

// actionGet is action-get (contract §2.3).
type actionGet struct {
	out  output
	keys []string
}

func (c *actionGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
}

func (c *actionGet) init(args []string) error {
	if len(args) == 0 {
		return nil
	}
	if err := checkEmpty(args[1:]); err != nil {
		return err
	}
	c.keys = strings.Split(args[0], ".")
	return nil
}

func (c *actionGet) run(e *env) error {
	params, err := e.ctx.ActionParams()
	if err != nil {
		return err
	}
	if len(c.keys) == 0 {
		if params == nil {
			params = map[string]any{}
		}
		return c.out.write(e, params)
	}
	return c.out.write(e, lookupPath(c.keys, params))
}

// lookupPath descends nested maps; a missing path is nil.
func lookupPath(keys []string, m map[string]any) any {
	v, ok := m[keys[0]]
	if !ok || len(keys) == 1 {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		return lookupPath(keys[1:], t)
	case map[any]any:
		sm := map[string]any{}
		for k, v := range t {
			ks, ok := k.(string)
			if !ok {
				return nil
			}
			sm[ks] = v
		}
		return lookupPath(keys[1:], sm)
	}
	return nil
}

// actionKeyRE is Juju's action name rule, applied to each key segment.
var actionKeyRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

var reservedActionKeys = []string{"stdout", "stdout-encoding", "stderr", "stderr-encoding"}

// actionSet is action-set.
type actionSet struct{ args [][]string }

func (c *actionSet) setFlags(*flagSet) {}

func (c *actionSet) init(args []string) error {
	for _, arg := range args {
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			return fmt.Errorf("argument %q must be of the form key...=value", arg)
		}
		path := strings.Split(k, ".")
		for _, seg := range path {
			if !actionKeyRE.MatchString(seg) {
				return fmt.Errorf("key %q must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric and hyphens", seg)
			}
			for _, r := range reservedActionKeys {
				if seg == r {
					return fmt.Errorf("cannot set reserved action key %q", seg)
				}
			}
		}
		c.args = append(c.args, append(path, v))
	}
	return nil
}

func (c *actionSet) run(e *env) error {
	for _, a := range c.args {
		if err := e.ctx.ActionSet(a[:len(a)-1], a[len(a)-1]); err != nil {
			return err
		}
	}
	return nil
}

// defaultActionFailMessage is Juju's message for action-fail without one.
const defaultActionFailMessage = "action failed without reason given, check action for errors"

// actionFail is action-fail.
type actionFail struct{ message string }

func (c *actionFail) setFlags(*flagSet) {}

func (c *actionFail) init(args []string) error {
	c.message = defaultActionFailMessage
	if len(args) > 0 {
		c.message = args[0]
		return checkEmpty(args[1:])
	}
	return nil
}

func (c *actionFail) run(e *env) error { return e.ctx.ActionFail(c.message) }

// actionLog is action-log.
type actionLog struct{ message string }

func (c *actionLog) setFlags(*flagSet) {}

func (c *actionLog) init(args []string) error {
	if len(args) == 0 {
		return errors.New("no message specified")
	}
	c.message = strings.Join(args, " ")
	return nil
}

func (c *actionLog) run(e *env) error { return e.ctx.ActionLog(c.message) }
