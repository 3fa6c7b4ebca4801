package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The JSON types that checkFields expects of each field.
type jsonType int

const (
	jsonAny jsonType = iota
	jsonString
	jsonNumber
	jsonInteger
	jsonPositiveInteger // at least 1
	jsonInt32           // an integer that fits in 32 bits
	jsonObject
	jsonStringList
	jsonStepList
	jsonOptionsObject // an object with the StepOptions fields only
	jsonRetryObject
	jsonMapObject
	jsonWaitObject
	jsonBool
)

func (t jsonType) String() string {
	switch t {
	case jsonString:
		return "a string"
	case jsonNumber:
		return "a number"
	case jsonInteger:
		return "an integer"
	case jsonPositiveInteger:
		return "an integer of at least 1"
	case jsonInt32:
		return "an integer"
	case jsonObject, jsonOptionsObject, jsonRetryObject, jsonMapObject, jsonWaitObject:
		return "an object"
	case jsonBool:
		return "a boolean"
	case jsonStringList:
		return "a list of strings"
	case jsonStepList:
		return "a list of steps (objects)"
	default:
		return "any JSON value"
	}
}

type field struct {
	name string
	typ  jsonType
}

var (
	optionFields = []field{
		{"start_to_close_timeout", jsonString},
		{"schedule_to_start_timeout", jsonString},
		{"heartbeat_timeout", jsonString},
		{"retry", jsonRetryObject},
		{"require_worker", jsonBool},
	}
	retryFields = []field{
		{"initial_interval", jsonString},
		{"backoff_coefficient", jsonNumber},
		{"maximum_interval", jsonString},
		{"maximum_attempts", jsonInt32},
		{"non_retryable_error_types", jsonStringList},
	}
	mapFields = []field{
		{"over", jsonAny},
		{"as", jsonString},
		{"concurrency", jsonPositiveInteger},
		{"batch_size", jsonPositiveInteger},
		{"chunk_size", jsonPositiveInteger},
		{"offset", jsonInteger},
	}
	waitFields = []field{
		{"signal", jsonString},
		{"timeout", jsonString},
	}
	stepFields = append([]field{
		{"name", jsonString},
		{"pool", jsonString},
		{"tool", jsonString},
		{"args", jsonAny},
		{"task_queue", jsonString},
		{"map", jsonMapObject},
		{"parallel", jsonStepList},
		{"steps", jsonStepList},
		{"dag", jsonStepList},
		{"depends_on", jsonStringList},
		{"sleep", jsonString},
		{"wait", jsonWaitObject},
		{"when", jsonString},
		{"on_error", jsonString},
	}, optionFields...)
	topFields = []field{
		{"version", jsonInteger},
		{"name", jsonString},
		{"input", jsonAny},
		{"steps", jsonStepList},
		{"finally", jsonStepList},
		{"output", jsonAny},
		{"defaults", jsonOptionsObject},
		{"max_history_events", jsonPositiveInteger},
		{"continued", jsonObject},
	}
)

// checkFields reports the first field of a spec (in document order of the schema, unknown keys in
// alphabetical order) that is unknown or of the wrong JSON type, or nil. With duplicates, it also
// reports a key given twice in an object of the schema (encoding/json takes the last value, and
// fails when an earlier one has the wrong type). data must be valid JSON.
func checkFields(data []byte, duplicates bool) *SpecError {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	var err error
	if duplicates {
		v, err = decodeTokens(dec) // slower (about 2.5x): only to explain a decoding error
	} else {
		err = dec.Decode(&v)
	}
	if err != nil {
		return &SpecError{Field: "(spec)", Step: -1, Problem: err.Error()}
	}
	top, ok := v.(map[string]any)
	if !ok {
		return &SpecError{Field: "(spec)", Step: -1, Problem: "must be a JSON object with \"steps\""}
	}
	c := fieldChecker{duplicates: duplicates}
	return c.object(top, "", topFields, stepRef{index: -1})
}

// duplicatesKey holds, in an object decoded by decodeTokens, the keys that it has more than once.
// It is not UTF-8, so no decoded key is equal to it.
const duplicatesKey = "\xff duplicates"

// decodeTokens decodes the next JSON value of dec as dec.Decode into an any would (UseNumber as
// set on dec), and lists the keys an object has more than once under duplicatesKey.
func decodeTokens(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		obj := map[string]any{}
		var dups []string
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeTokens(dec)
			if err != nil {
				return nil, err
			}
			k, _ := key.(string)
			if _, seen := obj[k]; seen {
				dups = append(dups, k)
			}
			obj[k] = v
		}
		if dups != nil {
			obj[duplicatesKey] = dups
		}
		_, err := dec.Token() // }
		return obj, err
	case json.Delim('['):
		list := []any{}
		for dec.More() {
			v, err := decodeTokens(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token() // ]
		return list, err
	}
	return tok, nil
}

// stepRef identifies the step whose fields are being checked, for SpecError.
type stepRef struct {
	index int // top-level index, -1 outside steps
	path  string
	name  string
}

// fieldChecker checks the fields of a decoded spec; duplicates: keys given twice (which only
// decodeTokens records) are errors.
type fieldChecker struct{ duplicates bool }

func (c fieldChecker) object(obj map[string]any, prefix string, fields []field, step stepRef) *SpecError {
	bad := func(path, problem string) *SpecError {
		return &SpecError{Field: path, Step: step.index, StepPath: step.path, StepName: step.name, Problem: problem}
	}
	if dups, ok := obj[duplicatesKey].([]string); ok && c.duplicates {
		return bad(join(prefix, fieldName(dups[0])), "given twice (the keys of an object must be unique)")
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if k != duplicatesKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.ContainsFunc(fields, func(f field) bool { return f.name == k }) {
			names := make([]string, len(fields))
			for i, f := range fields {
				names[i] = f.name
			}
			return bad(join(prefix, fieldName(k)), "unknown field (known: "+strings.Join(names, ", ")+")")
		}
	}
	for _, f := range fields {
		v, present := obj[f.name]
		if !present || v == nil {
			continue // null is the default, as in encoding/json
		}
		path := join(prefix, f.name)
		if err := c.value(v, path, f.typ, step, bad); err != nil {
			return err
		}
	}
	return nil
}

func (c fieldChecker) value(v any, path string, typ jsonType, step stepRef, bad func(path, problem string) *SpecError) *SpecError {
	wrong := func() *SpecError { return bad(path, "must be "+typ.String()+", not "+describeJSON(v)) }
	switch typ {
	case jsonAny:
		return nil
	case jsonString:
		if _, ok := v.(string); !ok {
			return wrong()
		}
	case jsonNumber:
		n, ok := v.(json.Number)
		if !ok {
			return wrong()
		}
		if _, err := n.Float64(); err != nil {
			return bad(path, "must be a number of at most "+strconv.FormatFloat(math.MaxFloat64, 'g', -1, 64)+", not "+n.String())
		}
	case jsonBool:
		if _, ok := v.(bool); !ok {
			return wrong()
		}
	case jsonInteger, jsonPositiveInteger, jsonInt32:
		n, ok := v.(json.Number)
		if !ok {
			return wrong()
		}
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if typ == jsonInt32 {
			lo, hi = math.MinInt32, math.MaxInt32
		}
		i, err := n.Int64()
		if _, isInteger := new(big.Int).SetString(n.String(), 10); err != nil && !isInteger {
			return bad(path, "must be an integer, not "+n.String())
		}
		negative := strings.HasPrefix(n.String(), "-")
		switch {
		case (err != nil && negative) || i < lo:
			return bad(path, fmt.Sprintf("must be at least %d, not %s", lo, n))
		case err != nil || i > hi:
			return bad(path, fmt.Sprintf("must be at most %d, not %s", hi, n))
		case typ == jsonPositiveInteger && i < 1:
			return bad(path, "must be at least 1, not "+n.String())
		}
	case jsonStringList:
		list, ok := v.([]any)
		if !ok {
			return wrong()
		}
		for i, e := range list {
			if _, ok := e.(string); !ok {
				return bad(fmt.Sprintf("%s[%d]", path, i), "must be a string, not "+describeJSON(e))
			}
		}
	case jsonObject, jsonOptionsObject, jsonRetryObject, jsonMapObject, jsonWaitObject:
		obj, ok := v.(map[string]any)
		if !ok {
			return wrong()
		}
		switch typ {
		case jsonWaitObject:
			return c.object(obj, path, waitFields, step)
		case jsonOptionsObject:
			return c.object(obj, path, optionFields, step)
		case jsonRetryObject:
			return c.object(obj, path, retryFields, step)
		case jsonMapObject:
			return c.object(obj, path, mapFields, step)
		}
	case jsonStepList:
		list, ok := v.([]any)
		if !ok {
			return wrong()
		}
		for i, e := range list {
			child := stepRef{index: step.index, path: fmt.Sprintf("%s[%d]", path, i)}
			if child.index < 0 {
				child.index = i
			}
			obj, ok := e.(map[string]any)
			if !ok {
				return &SpecError{Field: child.path, Step: child.index, StepPath: child.path,
					Problem: "must be a step (an object), not " + describeJSON(e)}
			}
			if name, ok := obj["name"].(string); ok {
				child.name = name
			}
			if err := c.object(obj, child.path, stepFields, child); err != nil {
				return err
			}
		}
	}
	return nil
}

// fieldName shows a key that is not a plain field name (empty, with white space or punctuation)
// quoted and cut to 40 bytes, so that it reads as a name in a path such as `steps[0]."a b"`.
func fieldName(key string) string {
	if key != "" && strings.IndexFunc(key, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '$' }) < 0 && len(key) <= 40 {
		return key
	}
	return strconv.Quote(truncate(key, 40))
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// describeJSON names the JSON type of a value decoded with UseNumber.
func describeJSON(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("a string (%q)", truncate(v, 40))
	case json.Number:
		return "a number (" + v.String() + ")"
	case bool:
		return fmt.Sprintf("a boolean (%t)", v)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// truncate cuts s to at most n bytes and "...", at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
