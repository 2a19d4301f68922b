package hooktools

import (
	"errors"
	"fmt"
)

func init() {
	register("config-get", "[<key>]", "Print application configuration.", func(Context) command { return &configGet{} })
	register("unit-get", "<setting>", "print public-address or private-address", func(Context) command { return &unitGet{} })
}

// configGet is config-get (contract §2.3).
type configGet struct {
	out output
	all bool
	key string
}

func (c *configGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
	fs.boolVar(&c.all, "a", "print all keys")
	fs.boolVar(&c.all, "all", "")
}

func (c *configGet) init(args []string) error {
	if len(args) == 0 {
		return nil
	}
	c.key = args[0]
	if c.key != "" && c.all {
		return fmt.Errorf("cannot use argument --all together with key %q", c.key)
	}
	return checkEmpty(args[1:])
}

func (c *configGet) run(e *env) error {
	settings, err := e.ctx.Config(c.all)
	if err != nil {
		return err
	}
	if c.key != "" {
		return c.out.write(e, settings[c.key])
	}
	if settings == nil {
		settings = map[string]any{}
	}
	return c.out.write(e, settings)
}

// unitGet is unit-get.
type unitGet struct {
	out output
	key string
}

func (c *unitGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
}

func (c *unitGet) init(args []string) error {
	if len(args) == 0 {
		return errors.New("no setting specified")
	}
	if args[0] != "private-address" && args[0] != "public-address" {
		return fmt.Errorf("unknown setting %q", args[0])
	}
	c.key = args[0]
	return checkEmpty(args[1:])
}

func (c *unitGet) run(e *env) error {
	var addr string
	var err error
	if c.key == "private-address" {
		addr, err = e.ctx.PrivateAddress()
	} else {
		addr, err = e.ctx.PublicAddress()
		if err == nil && addr == "" {
			err = errors.New("public address not found")
		}
	}
	if err != nil {
		return err
	}
	return c.out.write(e, addr)
}
