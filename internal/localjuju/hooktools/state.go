package hooktools

import (
	"fmt"
)

func init() {
	register("state-get", "[<key>]", "print server-side-state value", func(Context) command { return &stateGet{} })
	register("state-set", "key=value [key=value ...]", "set server-side-state values", func(Context) command { return &stateSet{} })
	register("state-delete", "<key>", "delete server-side-state key value pair", func(Context) command { return &stateDelete{} })
}

// stateGet is state-get (contract §2.3). A missing key writes "" (nothing
// in smart format) unless --strict.
type stateGet struct {
	out    output
	strict bool
	key    string
}

func (c *stateGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
	fs.boolVar(&c.strict, "strict", "Return an error if the requested key does not exist")
}

func (c *stateGet) init(args []string) error {
	if len(args) == 0 {
		return nil
	}
	if c.key = args[0]; c.key == "-" {
		c.key = ""
	}
	return checkEmpty(args[1:])
}

func (c *stateGet) run(e *env) error {
	state, err := e.ctx.StateGet()
	if err != nil {
		return err
	}
	if c.key == "" {
		if state == nil {
			state = map[string]string{}
		}
		return c.out.write(e, state)
	}
	v, ok := state[c.key]
	if !ok && c.strict {
		return fmt.Errorf("%q not found", c.key)
	}
	return c.out.write(e, v)
}

// stateSet is state-set; like relation-set it takes --file FILE|-.
type stateSet struct {
	file     string
	settings map[string]string
}

func (c *stateSet) setFlags(fs *flagSet) {
	fs.stringVar(&c.file, "file", "", "file containing key-value pairs")
}

func (c *stateSet) init(args []string) (err error) {
	c.settings, err = parseKeyValues(args)
	return err
}

func (c *stateSet) run(e *env) error {
	settings, err := settingsWithFile(e, c.file, c.settings)
	if err != nil {
		return err
	}
	return e.ctx.StateSet(settings)
}

// stateDelete is state-delete; without a key it does nothing, as in Juju.
type stateDelete struct{ key string }

func (c *stateDelete) setFlags(*flagSet) {}

func (c *stateDelete) init(args []string) error {
	if len(args) == 0 {
		return nil
	}
	c.key = args[0]
	return checkEmpty(args[1:])
}

func (c *stateDelete) run(e *env) error {
	if c.key == "" {
		return nil
	}
	return e.ctx.StateDelete(c.key)
}
