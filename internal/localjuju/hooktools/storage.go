package hooktools

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

func init() {
	register("storage-get", "[<key>]", "Print information for the storage instance with the specified ID.", func(ctx Context) command { return newStorageGet(ctx) })
	register("storage-list", "[<storage-name>]", "List storage attached to the unit.", func(Context) command { return &storageList{} })
	register("storage-add", "<charm storage name>[=count] ...", "Add storage instances.", func(Context) command { return &storageAdd{} })
}

// storageGet is storage-get (contract §2.3); -s defaults to the hook's
// storage.
type storageGet struct {
	ctx Context
	out output
	id  string
	key string
}

func newStorageGet(ctx Context) *storageGet { return &storageGet{ctx: ctx, id: ctx.HookStorageID()} }

func (c *storageGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
	fs.varFunc("s", "specify a storage instance by id", func(v string) error {
		if !storageIDRE.MatchString(v) {
			return fmt.Errorf("invalid storage ID %q", v)
		}
		if _, err := c.ctx.StorageGet(v); err != nil {
			return err
		}
		c.id = v
		return nil
	})
}

func (c *storageGet) init(args []string) error {
	if c.id == "" {
		return errors.New("no storage instance specified")
	}
	if len(args) > 0 {
		c.key = args[0]
		return checkEmpty(args[1:])
	}
	return nil
}

func (c *storageGet) run(e *env) error {
	s, err := e.ctx.StorageGet(c.id)
	if err != nil {
		return err
	}
	values := map[string]any{"kind": s.Kind, "location": s.Location}
	if c.key == "" {
		return c.out.write(e, values)
	}
	if v, ok := values[c.key]; ok {
		return c.out.write(e, v)
	}
	return fmt.Errorf("invalid storage attribute %q", c.key)
}

// storageList is storage-list.
type storageList struct {
	out  output
	name string
}

func (c *storageList) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
}

func (c *storageList) init(args []string) error {
	if len(args) > 0 {
		c.name = args[0]
		return checkEmpty(args[1:])
	}
	return nil
}

func (c *storageList) run(e *env) error {
	ids, err := e.ctx.StorageList(c.name)
	if err != nil {
		return err
	}
	if ids == nil {
		ids = []string{}
	}
	return c.out.write(e, ids)
}

// storageAdd is storage-add: "<name>" (count 1) or "<name>=<count>".
type storageAdd struct{ counts map[string]int }

func (c *storageAdd) setFlags(*flagSet) {}

func (c *storageAdd) init(args []string) error {
	if len(args) < 1 {
		return errors.New("storage add requires a storage directive")
	}
	c.counts = map[string]int{}
	for _, a := range args {
		name, spec, hasSpec := strings.Cut(a, "=")
		if _, dup := c.counts[name]; dup {
			return fmt.Errorf("storage %q specified more than once", name)
		}
		count := 1
		if hasSpec {
			n, err := strconv.Atoi(spec)
			if err != nil || n < 1 {
				return fmt.Errorf("only count can be specified for %q", name)
			}
			count = n
		}
		c.counts[name] = count
	}
	return nil
}

func (c *storageAdd) run(e *env) error { return e.ctx.StorageAdd(c.counts) }
