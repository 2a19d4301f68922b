package hooktools

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// errHelp is returned by flagSet.parse for -h/--help when not defined.
var errHelp = errors.New("help requested")

// flagValue is gnuflag's Value.
type flagValue interface {
	Set(string) error
}

type flagDef struct {
	name   string
	usage  string
	value  flagValue
	isBool bool
	def    string
}

// flagSet parses command lines the way github.com/juju/gnuflag does for juju/cmd
// commands: interspersed flags and positionals, "--" ends flags, long flags
// only with "--" ("--name value" or "--name=value"), single-rune flags with
// "-" that may be clustered ("-ab") or carry their value ("-r3", "-r 3").
type flagSet struct {
	defs map[string]*flagDef
}

func newFlagSet() *flagSet { return &flagSet{defs: map[string]*flagDef{}} }

func (fs *flagSet) add(d *flagDef) {
	if _, dup := fs.defs[d.name]; dup {
		panic("hooktools: flag redefined: " + d.name)
	}
	fs.defs[d.name] = d
}

type boolValue struct{ p *bool }

func (b boolValue) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b.p = v
	return nil
}

type stringValue struct{ p *string }

func (s stringValue) Set(v string) error { *s.p = v; return nil }

type intValue struct{ p *int }

func (i intValue) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return err
	}
	*i.p = int(v)
	return nil
}

// funcValue adapts a function to flagValue.
type funcValue func(string) error

func (f funcValue) Set(s string) error { return f(s) }

func (fs *flagSet) boolVar(p *bool, name, usage string) {
	fs.add(&flagDef{name: name, usage: usage, value: boolValue{p}, isBool: true, def: "false"})
}

func (fs *flagSet) stringVar(p *string, name, def, usage string) {
	*p = def
	fs.add(&flagDef{name: name, usage: usage, value: stringValue{p}, def: strconv.Quote(def)})
}

func (fs *flagSet) intVar(p *int, name string, def int, usage string) {
	*p = def
	fs.add(&flagDef{name: name, usage: usage, value: intValue{p}, def: strconv.Itoa(def)})
}

func (fs *flagSet) varFunc(name, usage string, set func(string) error) {
	fs.add(&flagDef{name: name, usage: usage, value: funcValue(set)})
}

func flagWithMinus(name string) string {
	if len(name) > 1 {
		return "--" + name
	}
	return "-" + name
}

// parse returns the positional arguments, or the first flag error with
// gnuflag's wording ("option provided but not defined: --x", "option needs an
// argument: -r", `invalid value "v" for option -r: <err>`), or errHelp.
func (fs *flagSet) parse(args []string) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if a == "-" || a == "" || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		if a[1] == '-' {
			name, value, hasValue := strings.Cut(a[2:], "=")
			d, ok := fs.defs[name]
			if !ok {
				if name == "help" || name == "h" {
					return nil, errHelp
				}
				return nil, fmt.Errorf("option provided but not defined: %s", flagWithMinus(name))
			}
			if !hasValue && !d.isBool {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("option needs an argument: %s", flagWithMinus(name))
				}
				i++
				value, hasValue = args[i], true
			}
			if err := fs.set(d, value, hasValue); err != nil {
				return nil, err
			}
			continue
		}
		rest := a[1:]
		for rest != "" {
			_, n := utf8.DecodeRuneInString(rest)
			name := rest[:n]
			rest = rest[n:]
			d, ok := fs.defs[name]
			if !ok {
				if name == "help" || name == "h" {
					return nil, errHelp
				}
				return nil, fmt.Errorf("option provided but not defined: %s", flagWithMinus(name))
			}
			if d.isBool {
				if err := fs.set(d, "", false); err != nil {
					return nil, err
				}
				continue
			}
			var value string
			switch {
			case rest != "":
				value, rest = rest, ""
			case i+1 < len(args):
				i++
				value = args[i]
			default:
				return nil, fmt.Errorf("option needs an argument: %s", flagWithMinus(name))
			}
			if err := fs.set(d, value, true); err != nil {
				return nil, err
			}
		}
	}
	return pos, nil
}

func (fs *flagSet) set(d *flagDef, value string, hasValue bool) error {
	if d.isBool && !hasValue {
		value = "true"
	}
	if err := d.value.Set(value); err != nil {
		return fmt.Errorf("invalid value %q for option %s: %v", value, flagWithMinus(d.name), err)
	}
	return nil
}

// writeHelp prints a juju/cmd style help text.
func writeHelp(w io.Writer, name string, t tool, fs *flagSet) {
	fmt.Fprintf(w, "Usage: %s", name)
	if len(fs.defs) > 0 {
		fmt.Fprint(w, " [options]")
	}
	if t.args != "" {
		fmt.Fprintf(w, " %s", t.args)
	}
	fmt.Fprintf(w, "\n\nSummary:\n%s\n", t.purpose)
	if len(fs.defs) == 0 {
		return
	}
	names := make([]string, 0, len(fs.defs))
	for n := range fs.defs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprint(w, "\nOptions:\n")
	for _, n := range names {
		d := fs.defs[n]
		if d.def != "" {
			fmt.Fprintf(w, "%s  (= %s)\n", flagWithMinus(n), d.def)
		} else {
			fmt.Fprintf(w, "%s\n", flagWithMinus(n))
		}
		if d.usage != "" {
			fmt.Fprintf(w, "    %s\n", d.usage)
		}
	}
}
