package hooktools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// Output formats (contract §2.1).
const (
	formatSmart = "smart"
	formatYAML  = "yaml"
	formatJSON  = "json"
)

// output is juju/cmd's Output: --format, -o/--output.
type output struct {
	format string
	path   string
}

// addFlags registers --format (default def, one of formats) and -o/--output.
func (o *output) addFlags(fs *flagSet, def string, formats ...string) {
	o.format = def
	fs.add(&flagDef{name: "format", usage: "Specify output format (" + strings.Join(formats, "|") + ")", def: def,
		value: funcValue(func(v string) error {
			for _, f := range formats {
				if f == v {
					o.format = v
					return nil
				}
			}
			return fmt.Errorf("unknown format %q", v)
		})})
	fs.stringVar(&o.path, "o", "", "Specify an output file")
	fs.stringVar(&o.path, "output", "", "")
}

// write formats value and writes it to stdout or to the -o file (relative
// to the client's directory).
func (o *output) write(e *env, value any) error {
	b, err := render(o.format, value)
	if err != nil {
		return err
	}
	if o.path == "" {
		e.stdout.Write(b)
		return nil
	}
	return os.WriteFile(absPath(e.in.Dir, o.path), b, 0o644)
}

func absPath(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

// render formats value as juju/cmd's FormatSmart, FormatYaml or FormatJson.
func render(format string, value any) ([]byte, error) {
	switch format {
	case formatJSON:
		b, err := json.Marshal(value)
		if err != nil {
			return nil, err
		}
		return append(b, '\n'), nil
	case formatYAML:
		return formatYAMLValue(value)
	default:
		return formatSmartValue(value)
	}
}

// formatSmartValue: strings raw (empty prints nothing), string lists one per
// line, bools True/False, nil nothing, anything else as YAML.
func formatSmartValue(value any) ([]byte, error) {
	if value == nil {
		return nil, nil
	}
	v := reflect.ValueOf(value)
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return nil, nil
		}
		return []byte(v.String() + "\n"), nil
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.String {
			items := make([]string, v.Len())
			for i := range items {
				items[i] = v.Index(i).String()
			}
			return []byte(strings.Join(items, "\n") + "\n"), nil
		}
	case reflect.Bool:
		if v.Bool() {
			return []byte("True\n"), nil
		}
		return []byte("False\n"), nil
	}
	return formatYAMLValue(value)
}

// formatYAMLValue is juju/cmd's FormatYaml: nil prints nothing and trailing
// newlines are collapsed to one.
func formatYAMLValue(value any) ([]byte, error) {
	if value == nil {
		return nil, nil
	}
	b, err := marshalYAML(value)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 {
		return nil, nil
	}
	return append(b, '\n'), nil
}
