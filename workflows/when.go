package workflows

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Conditions ("when") are expr-lang expressions (https://expr-lang.org) over
//
//	input                  the pipeline's input
//	steps.<name>.result    a named step's result (steps["a-b"] for names that are not identifiers)
//	steps.<name>.status    "pending", "running", "done", "failed", "skipped" or "cancelled"
//	steps.<name>.error     {"type", "message", "non_retryable"} of a step that failed with on_error "continue"
//	pipeline.status        in finally steps: "done", "failed" or "cancelled"
//	pipeline.error         in finally steps: the failure's message, or ""
//
// A condition cannot run code or reach anything outside these values: it has no functions but
// expr's pure builtins below (no clock, no map-order-dependent functions, since the workflow
// replays it), and must yield a boolean.

// conditionBuiltins are the expr builtins a condition may use: every one whose result depends on
// its arguments only. Left out: now, date, timezone (the clock and the machine's zone), keys,
// values, toPairs, groupBy (Go map order).
var conditionBuiltins = []string{
	"all", "none", "any", "one", "filter", "map", "find", "findIndex", "findLast", "findLastIndex",
	"count", "sum", "sortBy", "reduce", "len", "type", "abs", "ceil", "floor", "round", "int",
	"float", "string", "trim", "trimPrefix", "trimSuffix", "upper", "lower", "split", "splitAfter",
	"replace", "repeat", "join", "indexOf", "lastIndexOf", "hasPrefix", "hasSuffix", "max", "min",
	"mean", "median", "toJSON", "fromJSON", "duration", "first", "last", "get", "take", "reverse",
	"uniq", "concat", "flatten", "sort", "fromPairs",
}

// maxConditionNodes bounds the size of a condition's syntax tree.
const maxConditionNodes = 1000

// condition is a compiled "when".
type condition struct {
	text    string
	program *vm.Program
}

// compileCondition compiles a condition; final allows pipeline.*. It returns the names of the
// steps it reads, to check that they have finished when the step starts.
func compileCondition(text string, final bool) (*condition, []string, error) {
	var env any = conditionVars{}
	if final {
		env = finalConditionVars{}
	}
	opts := []expr.Option{expr.Env(env), expr.AsBool(), expr.MaxNodes(maxConditionNodes), expr.DisableAllBuiltins()}
	for _, b := range conditionBuiltins {
		opts = append(opts, expr.EnableBuiltin(b))
	}
	program, err := expr.Compile(text, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid condition %q: %v", text, err)
	}
	refs := &stepRefs{}
	node := program.Node()
	ast.Walk(&node, refs)
	if refs.err != nil {
		return nil, nil, fmt.Errorf("invalid condition %q: %v", text, refs.err)
	}
	return &condition{text: text, program: program}, refs.names, nil
}

// stepRefs collects the step names of steps.<name> and steps["<name>"] in a condition.
type stepRefs struct {
	names []string
	err   error
}

func (v *stepRefs) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "steps" {
			name, ok := n.Property.(*ast.StringNode)
			if !ok {
				if v.err == nil {
					v.err = fmt.Errorf(`steps[...] must name a step with a string, e.g. steps["load"]`)
				}
				return
			}
			v.names = append(v.names, name.Value)
		}
	}
}

// conditionVars are what a condition sees; finalConditionVars, in finally steps, adds pipeline.
// (Fields of type any are typed when the condition runs, so input can be any JSON value.)
type conditionVars struct {
	Input any            `expr:"input"`
	Steps map[string]any `expr:"steps"`
}

type finalConditionVars struct {
	Input    any            `expr:"input"`
	Steps    map[string]any `expr:"steps"`
	Pipeline map[string]any `expr:"pipeline"`
}

// evaluate runs the condition on env, a conditionVars or (in finally steps) finalConditionVars.
func (c *condition) evaluate(env any) (bool, error) {
	out, err := expr.Run(c.program, env)
	if err != nil {
		return false, fmt.Errorf("condition %q: %v", c.text, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q is %T, not a boolean", c.text, out)
	}
	return b, nil
}

// exprValue converts a JSON value decoded with UseNumber into what expr compares and computes
// with: integers as int (when they fit), other numbers as float64.
func exprValue(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = exprValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = exprValue(e)
		}
		return out
	default:
		return v
	}
}
