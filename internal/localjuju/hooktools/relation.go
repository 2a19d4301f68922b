package hooktools

import (
	"errors"
	"fmt"
	"sort"
)

func init() {
	register("relation-get", "<key> <unit id>", "Get relation settings.", func(ctx Context) command { return &relationGet{rel: newRelationFlag(ctx)} })
	register("relation-set", "key=value [key=value ...]", "set relation settings", func(ctx Context) command { return &relationSet{rel: newRelationFlag(ctx)} })
	register("relation-ids", "<name>", "List all relation IDs for the given endpoint.", func(ctx Context) command { return &relationIDs{ctx: ctx} })
	register("relation-list", "", "list relation units", func(ctx Context) command { return &relationList{rel: newRelationFlag(ctx)} })
	register("relation-model-get", "", "Get details about the model hosing a related application.", func(ctx Context) command { return &relationModelGet{rel: newRelationFlag(ctx)} })
}

// relationGet is relation-get (contract §2.3).
type relationGet struct {
	rel    *relationFlag
	out    output
	app    bool
	key    string
	target string
}

func (c *relationGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
	c.rel.addFlags(fs, "Specify a relation by id")
	fs.boolVar(&c.app, "app", "Get the relation data for the overall application, not just a unit")
}

func (c *relationGet) init(args []string) error {
	if c.rel.id == -1 {
		return errors.New("no relation id specified")
	}
	if len(args) > 0 {
		if c.key = args[0]; c.key == "-" {
			c.key = ""
		}
		args = args[1:]
	}
	if err := c.chooseTarget(&args); err != nil {
		return err
	}
	return checkEmpty(args)
}

// chooseTarget follows juju's determineUnitOrAppName: an explicit name wins
// (with --app a unit name means its application); otherwise the remote unit,
// else the remote application with --app implied.
func (c *relationGet) chooseTarget(args *[]string) error {
	ctx := c.rel.ctx
	if len(*args) > 0 {
		name := (*args)[0]
		*args = (*args)[1:]
		if c.app {
			switch {
			case isValidApplication(name):
				c.target = name
			case isValidUnit(name):
				c.target = unitApplication(name)
			}
			return nil
		}
		if !isValidUnit(name) {
			if isValidApplication(name) {
				return fmt.Errorf("expected unit name, got application name %q", name)
			}
			return fmt.Errorf("invalid unit name %q", name)
		}
		c.target = name
		return nil
	}
	if c.app {
		if ctx.RemoteApp() == "" {
			return errors.New("no unit or application specified")
		}
		c.target = ctx.RemoteApp()
		return nil
	}
	if u := ctx.RemoteUnit(); u != "" {
		c.target = u
		return nil
	}
	if a := ctx.RemoteApp(); a != "" {
		c.target, c.app = a, true
		return nil
	}
	return errors.New("no unit or application specified")
}

func (c *relationGet) run(e *env) error {
	settings, err := e.ctx.RelationGet(c.rel.id, c.target, c.app)
	if err != nil {
		return err
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

// relationSet is relation-set; --file is read at run time as in Juju, so a
// bad file is a run error.
type relationSet struct {
	rel      *relationFlag
	app      bool
	file     string
	format   deprecatedFormat
	settings map[string]string
}

func (c *relationSet) setFlags(fs *flagSet) {
	c.rel.addFlags(fs, "specify a relation by id")
	fs.stringVar(&c.file, "file", "", "file containing key-value pairs")
	fs.boolVar(&c.app, "app", `pick whether you are setting "application" settings or "unit" settings`)
	c.format.setFlags(fs)
}

func (c *relationSet) init(args []string) error {
	if c.rel.id == -1 {
		return errors.New("no relation id specified")
	}
	var err error
	c.settings, err = parseKeyValues(args)
	return err
}

func (c *relationSet) run(e *env) error {
	settings, err := settingsWithFile(e, c.file, c.settings)
	if err != nil {
		return err
	}
	c.format.warn(e, "relation-set")
	if c.app {
		leader, err := e.ctx.IsLeader()
		if err != nil {
			return fmt.Errorf("cannot determine leadership status: %w", err)
		}
		if !leader {
			return errors.New("cannot write relation settings")
		}
	}
	return e.ctx.RelationSet(c.rel.id, c.app, settings)
}

// relationIDs is relation-ids; the endpoint defaults to the hook's.
type relationIDs struct {
	ctx      Context
	out      output
	endpoint string
}

func (c *relationIDs) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
}

func (c *relationIDs) init(args []string) error {
	if id := c.ctx.HookRelationID(); id >= 0 {
		if info, ok := c.ctx.Relation(id); ok {
			c.endpoint = info.Endpoint
		}
	}
	if len(args) > 0 {
		c.endpoint = args[0]
		args = args[1:]
	} else if c.endpoint == "" {
		return errors.New("no endpoint name specified")
	}
	return checkEmpty(args)
}

// run lists the endpoint's relations as "<endpoint>:<id>", broken ones
// excluded (contract §2.3).
func (c *relationIDs) run(e *env) error {
	ids, err := e.ctx.RelationIDs(c.endpoint)
	if err != nil {
		return err
	}
	keys := []string{}
	for _, id := range ids {
		info, ok := e.ctx.Relation(id)
		if !ok || info.Broken {
			continue
		}
		keys = append(keys, info.Key())
	}
	sort.Strings(keys)
	return c.out.write(e, keys)
}

// relationList is relation-list.
type relationList struct {
	rel *relationFlag
	out output
	app bool
}

func (c *relationList) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
	c.rel.addFlags(fs, "Specify a relation by id")
	fs.boolVar(&c.app, "app", "List remote application instead of participating units")
}

func (c *relationList) init(args []string) error {
	if c.rel.id == -1 {
		return errors.New("no relation id specified")
	}
	return checkEmpty(args)
}

func (c *relationList) run(e *env) error {
	if c.app {
		info, ok := e.ctx.Relation(c.rel.id)
		if !ok {
			return errors.New("relation not found")
		}
		return c.out.write(e, info.RemoteApp)
	}
	units, err := e.ctx.RelationMembers(c.rel.id)
	if err != nil {
		return err
	}
	if units == nil {
		units = []string{}
	}
	return c.out.write(e, units)
}

// relationModelGet is relation-model-get; localjuju has no cross-model
// relations, so the remote model is this model.
type relationModelGet struct {
	rel *relationFlag
	out output
}

type modelDisplay struct {
	UUID string `json:"uuid" yaml:"uuid"`
}

func (c *relationModelGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
	c.rel.addFlags(fs, "Specify a relation by id")
}

func (c *relationModelGet) init(args []string) error {
	if c.rel.id == -1 {
		return errors.New("no relation id specified")
	}
	return checkEmpty(args)
}

func (c *relationModelGet) run(e *env) error {
	return c.out.write(e, modelDisplay{UUID: e.ctx.ModelUUID()})
}
