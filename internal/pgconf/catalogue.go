package pgconf

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParamContext is when a parameter change takes effect, as pg_settings.context
// reports it.
type ParamContext string

// The contexts of pg_settings. Only the ones the charm acts on are named.
const (
	ContextInternal   ParamContext = "internal"   // read-only, fixed at build or initdb
	ContextPostmaster ParamContext = "postmaster" // needs a restart
	ContextSighup     ParamContext = "sighup"     // reload
	ContextSuperuser  ParamContext = "superuser"  // reload (or SET by a superuser)
	ContextUser       ParamContext = "user"       // reload (or SET by anyone)
)

// ParamType is the vartype of a parameter.
type ParamType string

// Parameter types as printed by postgres --describe-config.
const (
	TypeBool    ParamType = "BOOLEAN"
	TypeInteger ParamType = "INTEGER"
	TypeReal    ParamType = "REAL"
	TypeString  ParamType = "STRING"
	TypeEnum    ParamType = "ENUM"
)

// Param is one entry of the server's parameter catalogue.
type Param struct {
	Name    string
	Context ParamContext
	Type    ParamType
	// Min and Max bound INTEGER and REAL parameters, in the parameter's
	// base unit; both are empty for other types.
	Min, Max string
}

// Catalogue is the set of parameters a PostgreSQL server accepts, keyed by
// lower-case name. It comes from the server itself (postgres
// --describe-config, which runs offline), so extra_pg_conf is checked against
// the exact version installed.
type Catalogue map[string]Param

// ParseCatalogue reads the tab-separated output of postgres --describe-config:
// name, context, group, type, reset value, min, max, short and long
// description.
func ParseCatalogue(r io.Reader) (Catalogue, error) {
	cat := Catalogue{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 7 {
			return nil, fmt.Errorf("parsing parameter catalogue line %d: %d fields, want at least 7", n, len(f))
		}
		name := strings.ToLower(f[0])
		cat[name] = Param{
			Name:    name,
			Context: ParamContext(f[1]),
			Type:    ParamType(f[3]),
			Min:     f[5],
			Max:     f[6],
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading parameter catalogue: %w", err)
	}
	if len(cat) == 0 {
		return nil, fmt.Errorf("parsing parameter catalogue: no parameters")
	}
	return cat, nil
}

// RequiresRestart reports whether changing the named parameter needs a
// PostgreSQL restart. Unknown names (custom placeholders such as
// "myext.setting") are treated as reloadable.
func (c Catalogue) RequiresRestart(name string) bool {
	return c[strings.ToLower(name)].Context == ContextPostmaster
}

// checkValue checks that value is acceptable for p as far as can be told
// from the catalogue: booleans, numbers with units and their bounds when
// they have no unit. The rest (enums, strings, numbers with units, check
// hooks) only the server knows: the charm has the installed postgres binary
// check the values before it applies them (charm.Workload.CheckParameters),
// because a value the server refuses stops it at the next restart.
func (p Param) checkValue(value string) error {
	switch p.Type {
	case TypeBool:
		if _, ok := parseBool(value); !ok {
			return fmt.Errorf("%s: %q is not a boolean", p.Name, value)
		}
	case TypeInteger:
		v := strings.TrimSpace(value)
		num, unit := splitUnit(v)
		n, err := strconv.ParseInt(num, 0, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer", p.Name, value)
		}
		if unit == "" {
			if err := checkBounds(p, float64(n)); err != nil {
				return err
			}
		} else if !validUnit(unit) {
			return fmt.Errorf("%s: %q has an unknown unit %q", p.Name, value, unit)
		}
	case TypeReal:
		num, unit := splitUnit(strings.TrimSpace(value))
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not a number", p.Name, value)
		}
		if unit == "" {
			if err := checkBounds(p, f); err != nil {
				return err
			}
		} else if !validUnit(unit) {
			return fmt.Errorf("%s: %q has an unknown unit %q", p.Name, value, unit)
		}
	}
	return nil
}

func checkBounds(p Param, v float64) error {
	if p.Min != "" {
		if lo, err := strconv.ParseFloat(p.Min, 64); err == nil && v < lo {
			return fmt.Errorf("%s: %v is below the minimum %s", p.Name, v, p.Min)
		}
	}
	if p.Max != "" {
		if hi, err := strconv.ParseFloat(p.Max, 64); err == nil && v > hi {
			return fmt.Errorf("%s: %v is above the maximum %s", p.Name, v, p.Max)
		}
	}
	return nil
}

// parseBool accepts what PostgreSQL's parse_bool accepts: unique prefixes of
// true/false/yes/no, on/off (at least "on"/"of"), 1 and 0, any case.
func parseBool(s string) (bool, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return false, false
	}
	for _, w := range []struct {
		word string
		v    bool
		min  int
	}{{"true", true, 1}, {"false", false, 1}, {"yes", true, 1}, {"no", false, 1}, {"on", true, 2}, {"off", false, 2}} {
		if len(s) >= w.min && strings.HasPrefix(w.word, s) {
			return w.v, true
		}
	}
	switch s {
	case "1":
		return true, true
	case "0":
		return false, true
	}
	return false, false
}

// splitUnit splits "64MB" into "64" and "MB".
func splitUnit(s string) (num, unit string) {
	i := len(s)
	for i > 0 {
		c := s[i-1]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			i--
			continue
		}
		break
	}
	// Keep hex prefixes and exponents with the number.
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return s, ""
	}
	return strings.TrimSpace(s[:i]), s[i:]
}

// validUnit is PostgreSQL's set of memory and time units (case-sensitive).
func validUnit(u string) bool {
	switch u {
	case "B", "kB", "MB", "GB", "TB", "us", "ms", "s", "min", "h", "d":
		return true
	}
	return false
}
