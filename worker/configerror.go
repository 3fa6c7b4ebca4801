package worker

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// checkUTF8 fails for a config that is not UTF-8 text, naming the line and column of the first
// bad byte (yaml.v3 only says "invalid leading UTF-8 octet"). A file with a UTF-16 byte order
// mark is left to yaml.v3, which reads UTF-16.
func checkUTF8(data []byte) error {
	if utf8.Valid(data) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		return nil
	}
	offset := 0
	for offset < len(data) {
		r, size := utf8.DecodeRune(data[offset:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		offset += size
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	column := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Errorf("line %d, column %d: byte 0x%02X is not valid UTF-8 (the file must be UTF-8 text)", line, column, data[offset])
}

// typeErrorLine is one line of a yaml.v3 TypeError about a value, e.g.
// "line 3: cannot unmarshal !!str `two` into int" (yaml.v3 shortens long values to 7 bytes and
// "...", and shows none for sequences and mappings).
var typeErrorLine = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `([^`]*)`)? into (.+)$")

// explainTypeError adds the field's path to each line of a yaml.v3 TypeError about a value of the
// wrong type, which names only the line, e.g. "line 3: pools[0].size: cannot unmarshal !!str `two`
// into int", and says what a duration looks like. Other errors are returned as they are.
func explainTypeError(data []byte, err error) error {
	var typeErr *yaml.TypeError
	if !errors.As(err, &typeErr) {
		return err
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return err
	}
	var fields []fieldNode
	collectFields(doc.Content[0], "", reflect.TypeFor[Config](), &fields)
	used := map[int]bool{}
	explained := &yaml.TypeError{Errors: make([]string, len(typeErr.Errors))}
	for i, msg := range typeErr.Errors {
		explained.Errors[i] = msg
		m := typeErrorLine.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[1])
		tag, value, into := m[2], m[3], m[4]
		// The first match in document order, the order yaml.v3 decodes in.
		for k, f := range fields {
			if used[k] || f.node.Line != line || f.node.ShortTag() != tag || !shownAs(f.node.Value, value) || f.typ.String() != into {
				continue
			}
			used[k] = true
			path := f.path
			if path == "" {
				path = "the top level (a mapping of temporal, metrics and pools)"
			}
			what := strings.TrimPrefix(msg, fmt.Sprintf("line %d: cannot unmarshal ", line))
			explained.Errors[i] = fmt.Sprintf("line %d: %s: cannot unmarshal %s", line, path, what)
			break
		}
		if into == "time.Duration" {
			explained.Errors[i] += ` (a duration such as "30s", "5m" or "1h30m")`
		}
	}
	return explained
}

// shownAs reports whether yaml.v3 shows a node of value as shown in its errors.
func shownAs(value, shown string) bool {
	if len(value) > 10 {
		return shown == value[:7]+"..."
	}
	return shown == value
}

// fieldNode is a value of the config, its path (e.g. "pools[0].size") and the Go type it decodes
// into. The node of an alias is its anchor's (yaml.v3 reports an alias's value at the anchor's line).
type fieldNode struct {
	path string
	node *yaml.Node
	typ  reflect.Type
}

// collectFields lists n, a value of Go type typ, and every value inside it whose Go type is known,
// in document order.
func collectFields(n *yaml.Node, path string, typ reflect.Type, out *[]fieldNode) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	*out = append(*out, fieldNode{path: path, node: n, typ: typ})
	switch {
	case n.Kind == yaml.MappingNode && (typ.Kind() == reflect.Struct || typ.Kind() == reflect.Map):
		for k := 0; k+1 < len(n.Content); k += 2 {
			key := n.Content[k].Value
			var inner reflect.Type
			if typ.Kind() == reflect.Map {
				inner = typ.Elem()
			} else if f, ok := yamlField(typ, key); ok {
				inner = f.Type
			} else {
				continue // an unknown field: KnownFields reports it
			}
			if path != "" {
				key = path + "." + key
			}
			collectFields(n.Content[k+1], key, inner, out)
		}
	case n.Kind == yaml.SequenceNode && typ.Kind() == reflect.Slice:
		for i, item := range n.Content {
			collectFields(item, fmt.Sprintf("%s[%d]", path, i), typ.Elem(), out)
		}
	}
}

// yamlField is the field of struct type typ whose yaml tag is name.
func yamlField(typ reflect.Type, name string) (reflect.StructField, bool) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
