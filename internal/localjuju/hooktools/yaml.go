package hooktools

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// marshalYAML emits value in the block layout of gopkg.in/yaml.v2, which Juju
// uses: two-space indentation, sequences inside mappings not indented, map
// keys sorted, struct fields in declaration order by their yaml tags.
// Scalar quoting is delegated to yaml.v3, whose rules match v2's for the
// strings hook tools print.
func marshalYAML(value any) ([]byte, error) {
	n, err := toNode(reflect.ValueOf(value))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := emit(&b, n, 0, ctxTop); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ynode is a minimal YAML tree: a scalar (already rendered), a sequence or
// an ordered mapping.
type ynode struct {
	kind   int
	scalar string
	multi  []string // lines of a literal block scalar
	items  []*ynode
	keys   []string
}

const (
	kScalar = iota
	kSeq
	kMap
)

func toNode(v reflect.Value) (*ynode, error) {
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
		if v.IsNil() {
			return &ynode{kind: kScalar, scalar: "null"}, nil
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return &ynode{kind: kScalar, scalar: "null"}, nil
	}
	switch v.Kind() {
	case reflect.String:
		return stringNode(v.String())
	case reflect.Bool:
		return &ynode{kind: kScalar, scalar: strconv.FormatBool(v.Bool())}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &ynode{kind: kScalar, scalar: strconv.FormatInt(v.Int(), 10)}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &ynode{kind: kScalar, scalar: strconv.FormatUint(v.Uint(), 10)}, nil
	case reflect.Float32, reflect.Float64:
		return &ynode{kind: kScalar, scalar: formatFloat(v.Float())}, nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return &ynode{kind: kSeq}, nil
		}
		n := &ynode{kind: kSeq}
		for i := 0; i < v.Len(); i++ {
			c, err := toNode(v.Index(i))
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, c)
		}
		return n, nil
	case reflect.Map:
		n := &ynode{kind: kMap}
		keys := v.MapKeys()
		names := make([]string, len(keys))
		byName := map[string]reflect.Value{}
		for i, k := range keys {
			names[i] = fmt.Sprint(k.Interface())
			byName[names[i]] = k
		}
		sort.Strings(names)
		for _, name := range names {
			c, err := toNode(v.MapIndex(byName[name]))
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, name)
			n.items = append(n.items, c)
		}
		return n, nil
	case reflect.Struct:
		n := &ynode{kind: kMap}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("yaml")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			if strings.Contains(opts, "omitempty") && (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0 {
				continue
			}
			c, err := toNode(fv)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, name)
			n.items = append(n.items, c)
		}
		return n, nil
	}
	return nil, fmt.Errorf("cannot marshal %s to yaml", v.Type())
}

func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	switch s {
	case "+Inf":
		return ".inf"
	case "-Inf":
		return "-.inf"
	case "NaN":
		return ".nan"
	}
	return s
}

// stringNode renders a string scalar with yaml.v3's quoting; strings with
// newlines become literal blocks as in yaml.v2.
func stringNode(s string) (*ynode, error) {
	b, err := yaml.Marshal(s)
	if err != nil {
		return nil, err
	}
	out := strings.TrimSuffix(string(b), "\n")
	if lines := strings.Split(out, "\n"); len(lines) > 1 && strings.HasPrefix(lines[0], "|") {
		n := &ynode{kind: kScalar, scalar: lines[0]}
		for _, l := range lines[1:] {
			n.multi = append(n.multi, strings.TrimPrefix(l, "    "))
		}
		return n, nil
	}
	return &ynode{kind: kScalar, scalar: out}, nil
}

type emitCtx int

const (
	ctxTop emitCtx = iota
	ctxMapValue
	ctxSeqItem
)

// emit writes n; indent is the column of the enclosing block. The caller has
// already written "key:" (ctxMapValue) or "- " (ctxSeqItem).
func emit(b *bytes.Buffer, n *ynode, indent int, c emitCtx) error {
	pad := strings.Repeat(" ", indent)
	switch n.kind {
	case kScalar:
		if c == ctxMapValue {
			b.WriteByte(' ')
		}
		b.WriteString(n.scalar)
		b.WriteByte('\n')
		for _, l := range n.multi {
			if l == "" {
				b.WriteString("\n")
				continue
			}
			b.WriteString(pad + "  " + l + "\n")
		}
	case kSeq:
		if len(n.items) == 0 {
			if c == ctxMapValue {
				b.WriteByte(' ')
			}
			b.WriteString("[]\n")
			return nil
		}
		if c == ctxMapValue {
			b.WriteByte('\n')
		}
		for i, it := range n.items {
			if i > 0 || c != ctxSeqItem {
				b.WriteString(pad)
			}
			b.WriteString("- ")
			if err := emit(b, it, indent+2, ctxSeqItem); err != nil {
				return err
			}
		}
	case kMap:
		if len(n.items) == 0 {
			if c == ctxMapValue {
				b.WriteByte(' ')
			}
			b.WriteString("{}\n")
			return nil
		}
		inner := indent
		if c == ctxMapValue {
			b.WriteByte('\n')
			inner = indent + 2
		}
		ipad := strings.Repeat(" ", inner)
		for i, k := range n.keys {
			if i > 0 || c != ctxSeqItem {
				b.WriteString(ipad)
			}
			kn, err := stringNode(k)
			if err != nil {
				return err
			}
			b.WriteString(kn.scalar + ":")
			child := n.items[i]
			if child.kind == kSeq && len(child.items) > 0 {
				// yaml.v2 puts a sequence at the same column as its key.
				b.WriteByte('\n')
				if err := emit(b, child, inner, ctxTop); err != nil {
					return err
				}
				continue
			}
			if err := emit(b, child, inner, ctxMapValue); err != nil {
				return err
			}
		}
	}
	return nil
}
