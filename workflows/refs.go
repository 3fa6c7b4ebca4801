package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// References. Anywhere in a step's args, and in a map's over, a JSON object with the single key
// "$ref" is replaced by the value it names, with its JSON type:
//
//	{"$ref": "steps.<name>.result"}          the result of an earlier named step
//	{"$ref": "steps.<name>.result.a.0.b"}    a part of it: object keys and list indexes, dot-separated
//	{"$ref": "item"}, {"$ref": "item.a.0"}   in a map step's args: the item (or a part of it)
//	{"$ref": "input"}, {"$ref": "input.a.0"} the pipeline's input (or a part of it)
//
// A JSON object with the single key "$literal" is replaced by its value as is: references inside it
// are not resolved.
const (
	refKey     = "$ref"
	literalKey = "$literal"
)

// reference is a parsed "$ref".
type reference struct {
	text  string
	item  bool   // refers to the map item
	input bool   // refers to the pipeline's input
	step  string // the referenced step's name, when neither item nor input
	path  []string
}

// parseRef parses the text of a "$ref". names holds the names of the pipeline's steps: a step name
// may contain dots, so the name is the longest one followed by ".result".
func parseRef(text string, names map[string]*node) (reference, error) {
	ref := reference{text: text}
	switch {
	case text == "item":
		ref.item = true
	case strings.HasPrefix(text, "item."):
		ref.item = true
		ref.path = strings.Split(strings.TrimPrefix(text, "item."), ".")
	case text == "input":
		ref.input = true
	case strings.HasPrefix(text, "input."):
		ref.input = true
		ref.path = strings.Split(strings.TrimPrefix(text, "input."), ".")
	case strings.HasPrefix(text, "steps."):
		after := strings.TrimPrefix(text, "steps.")
		for name := range names {
			head := name + ".result"
			if strings.HasPrefix(after, head) && (len(after) == len(head) || after[len(head)] == '.') &&
				len(name) > len(ref.step) {
				ref.step = name
			}
		}
		if ref.step == "" {
			if name, _, found := strings.Cut(after, ".result"); found {
				return ref, fmt.Errorf("there is no step named %q", name)
			}
			return ref, fmt.Errorf(`%q does not name a step's result: write "steps.<name>.result[.<path>]"`, text)
		}
		if rest := strings.TrimPrefix(after, ref.step+".result"); rest != "" {
			ref.path = strings.Split(rest[1:], ".")
		}
	default:
		return ref, fmt.Errorf(`%q must start with "steps.<name>.result", "input" or "item"`, text)
	}
	if slices.Contains(ref.path, "") {
		return ref, fmt.Errorf("%q has an empty path segment", text)
	}
	return ref, nil
}

// special reports whether obj is a reference or a literal: an object with the single key "$ref" or
// "$literal". An object with one of these keys and others is an error.
func special(obj map[string]any) (key string, err error) {
	for _, k := range []string{refKey, literalKey} {
		if _, ok := obj[k]; !ok {
			continue
		}
		if len(obj) != 1 {
			return "", fmt.Errorf("an object with %q must have no other key", k)
		}
		if k == refKey {
			if _, ok := obj[k].(string); !ok {
				return "", fmt.Errorf("%q must be a string, not %s", k, describeJSON(obj[k]))
			}
		}
		return k, nil
	}
	return "", nil
}

// mightHaveSpecials is a fast check: JSON without "$ref" and "$literal" passes through untouched.
func mightHaveSpecials(raw []byte) bool {
	return bytes.Contains(raw, []byte(`"$ref"`)) || bytes.Contains(raw, []byte(`"$literal"`)) ||
		bytes.Contains(raw, []byte(`\u0024`)) // an escaped "$"
}

// decodeJSON decodes JSON keeping numbers exact (json.Number).
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// walkRefs calls fn for every reference in v (not inside literals), with its JSON path below path.
func walkRefs(v any, path string, fn func(path, text string) error) error {
	switch v := v.(type) {
	case map[string]any:
		key, err := special(v)
		if err != nil {
			return &refError{path: path, problem: err.Error()}
		}
		switch key {
		case refKey:
			return fn(path, v[refKey].(string))
		case literalKey:
			return nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := walkRefs(v[k], path+"."+k, fn); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := walkRefs(e, fmt.Sprintf("%s[%d]", path, i), fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// refError is a reference that cannot be resolved; path is its JSON path.
type refError struct {
	path    string
	ref     string
	problem string
}

func (e *refError) Error() string {
	if e.ref == "" {
		return e.path + ": " + e.problem
	}
	return fmt.Sprintf("%s: reference %q: %s", e.path, e.ref, e.problem)
}

// resolver replaces references and literals.
type resolver struct {
	// names are the pipeline's steps, to parse references.
	names map[string]*node
	// result returns the decoded result of a finished named step.
	result func(name string) (any, bool)
	// input is the pipeline's decoded input.
	input any
	// partial keeps item references and literals, and wraps the values of step references in
	// literals, so that the output can be resolved again, once per item (or in a child workflow).
	partial bool
	// item is the map item, when hasItem.
	item    any
	hasItem bool
}

func (r resolver) resolve(v any, path string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		key, err := special(v)
		if err != nil {
			return nil, &refError{path: path, problem: err.Error()}
		}
		switch key {
		case literalKey:
			if r.partial {
				return v, nil
			}
			return v[literalKey], nil
		case refKey:
			return r.reference(v, path)
		}
		// Sorted, so that the first error is the same on every replay of the workflow.
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make(map[string]any, len(v))
		for _, k := range keys {
			resolved, err := r.resolve(v[k], path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = resolved
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			resolved, err := r.resolve(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = resolved
		}
		return out, nil
	default:
		return v, nil
	}
}

func (r resolver) reference(obj map[string]any, path string) (any, error) {
	text := obj[refKey].(string)
	ref, err := parseRef(text, r.names)
	if err != nil {
		return nil, &refError{path: path, ref: text, problem: err.Error()}
	}
	var root any
	switch {
	case ref.item && r.hasItem:
		root = r.item
	case ref.item:
		if r.partial {
			return obj, nil
		}
		return nil, &refError{path: path, ref: text, problem: "only a map step's args can refer to the item"}
	case ref.input:
		root = r.input
	default:
		result, ok := r.result(ref.step)
		if !ok {
			return nil, &refError{path: path, ref: text, problem: fmt.Sprintf("step %q has not finished", ref.step)}
		}
		root = result
	}
	value, err := navigate(root, ref.path)
	if err != nil {
		return nil, &refError{path: path, ref: text, problem: err.Error()}
	}
	if r.partial && !ref.item {
		return map[string]any{literalKey: value}, nil
	}
	return value, nil
}

// navigate follows path (object keys and list indexes) into v.
func navigate(v any, path []string) (any, error) {
	for i, seg := range path {
		where := "the value"
		if i > 0 {
			where = strconv.Quote(strings.Join(path[:i], "."))
		}
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[seg]
			if !ok {
				keys := make([]string, 0, len(c))
				for k := range c {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				return nil, fmt.Errorf("%s has no key %q (its keys: %s)", where, seg, truncate(strings.Join(keys, ", "), 200))
			}
			v = next
		case []any:
			idx, err := strconv.Atoi(seg)
			if err != nil || idx < 0 {
				return nil, fmt.Errorf("%s is a list: %q is not an index", where, seg)
			}
			if idx >= len(c) {
				return nil, fmt.Errorf("%s is a list of %d: index %d is out of range", where, len(c), idx)
			}
			v = c[idx]
		default:
			return nil, fmt.Errorf("%s is %s: it has no %q", where, describeJSON(c), seg)
		}
	}
	return v, nil
}
