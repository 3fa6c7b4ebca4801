package workflows_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/workflows"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string // empty: valid
	}{
		{"minimal", `{"steps":[{"pool":"math","tool":"noop"}]}`, ""},
		{
			"full",
			`{"defaults":{"start_to_close_timeout":"1m","heartbeat_timeout":"10s","retry":{"maximum_attempts":3}},
			  "steps":[{"name":"sq","pool":"math","tool":"square","args":{"x":2},"task_queue":"q",
			            "schedule_to_start_timeout":"5s",
			            "retry":{"initial_interval":"1s","backoff_coefficient":1.5,"maximum_interval":"10s",
			                     "maximum_attempts":2,"non_retryable_error_types":["KeyError"]}}]}`,
			"",
		},
		{"null args", `{"steps":[{"pool":"math","tool":"noop","args":null}]}`, ""},
		{"no steps", `{}`, "invalid pipeline: steps: at least one step is required"},
		{"empty steps", `{"steps":[]}`, "invalid pipeline: steps: at least one step is required"},
		{"missing pool", `{"steps":[{"tool":"noop"}]}`, "invalid pipeline: step 0: steps[0].pool: required"},
		{
			"missing tool names the step",
			`{"steps":[{"pool":"math","tool":"noop"},{"name":"second","pool":"math"}]}`,
			`invalid pipeline: step 1 ("second"): steps[1].tool: required`,
		},
		{"args not an object", `{"steps":[{"pool":"math","tool":"noop","args":[1,2]}]}`, "steps[0].args: must be a JSON object"},
		{"bad duration", `{"steps":[{"pool":"m","tool":"t","start_to_close_timeout":"soon"}]}`, `steps[0].start_to_close_timeout: not a duration (use e.g. "30s", "5m"): "soon"`},
		{"negative duration", `{"steps":[{"pool":"m","tool":"t","heartbeat_timeout":"-1s"}]}`, `steps[0].heartbeat_timeout: must be positive: "-1s"`},
		{"heartbeat timeout off", `{"steps":[{"pool":"m","tool":"t","heartbeat_timeout":"0s"}]}`, ""},
		{"zero start-to-close", `{"steps":[{"pool":"m","tool":"t","start_to_close_timeout":"0s"}]}`, `steps[0].start_to_close_timeout: must be positive: "0s"`},
		{"bad default", `{"defaults":{"retry":{"initial_interval":"x"}},"steps":[{"pool":"m","tool":"t"}]}`, `invalid pipeline: defaults.retry.initial_interval: not a duration`},
		{"bad coefficient", `{"steps":[{"pool":"m","tool":"t","retry":{"backoff_coefficient":0.5}}]}`, "steps[0].retry.backoff_coefficient: must be at least 1"},
		{"negative attempts", `{"steps":[{"pool":"m","tool":"t","retry":{"maximum_attempts":-1}}]}`, "steps[0].retry.maximum_attempts: must not be negative"},
		{"duplicate names", `{"steps":[{"name":"a","pool":"m","tool":"t"},{"name":"a","pool":"m","tool":"t"}]}`, `step 1 ("a"): steps[1].name: duplicate of step 0`},
		{"bad name", `{"steps":[{"name":"a b","pool":"m","tool":"t"}]}`, `steps[0].name: must match`},
		{"unknown field", `{"steps":[{"pool":"m","tool":"t","arguments":{}}]}`, `invalid pipeline: step 0: steps[0].arguments: unknown field (known: name, pool, tool, args`},
		{"not JSON", `steps:`, "invalid pipeline JSON: line 1, column 1: invalid character 's' looking for beginning of value"},
		{"syntax error names line and column", "{\"steps\": [\n  {\"pool\": \"m\", \"tool\": \"t\",}\n]}", "invalid pipeline JSON: line 2, column 29: invalid character '}' looking for beginning of object key string"},
		{"cut short", `{"steps": [{"pool": "m"`, "invalid pipeline JSON: line 1, column 24: the JSON ends before the value does (unexpected end of input)"},
		{"empty", ``, "invalid pipeline JSON: the text is empty: a JSON value is required"},
		{"nested too deep", strings.Repeat(`{"steps":[`, 5001), "invalid pipeline JSON: line 1, column 50001: invalid character '{' exceeded max depth"},
		{"not UTF-8 in a name", "{\"steps\":[{\"name\":\"caf\xe9\",\"pool\":\"m\",\"tool\":\"t\"}]}", "invalid pipeline: step 0 (\"caf\uFFFD\"): steps[0].name: must match [A-Za-z0-9_.-]+"},
		{"not an object", `[1]`, "invalid pipeline: (spec): must be a JSON object"},
		{"null", `null`, "invalid pipeline: steps: at least one step is required"},

		// Step kinds.
		{
			"every kind",
			`{"steps":[
				{"name":"a","pool":"io","tool":"echo","args":{"v":[1,2]}},
				{"name":"m","pool":"math","tool":"square","map":{"over":{"$ref":"steps.a.result.v"},"as":"x","concurrency":2,"chunk_size":100}},
				{"name":"g","heartbeat_timeout":"5s","parallel":[
					{"pool":"math","tool":"is_prime","args":{"n":{"$ref":"steps.m.result.0"}}},
					{"steps":[{"name":"s1","pool":"io","tool":"noop"},{"pool":"io","tool":"echo","args":{"v":{"$ref":"steps.s1.result"}}}]}
				]},
				{"pool":"io","tool":"echo","map":{"over":[{"$ref":"steps.s1.result"},2]},"args":{"v":{"$ref":"item"},"w":{"$literal":{"$ref":"nothing"}}}}
			]}`,
			"",
		},
		{"dotted name", `{"steps":[{"name":"a.b","pool":"m","tool":"t"},{"pool":"m","tool":"t","args":{"v":{"$ref":"steps.a.b.result.x"}}}]}`, ""},
		{"parallel and steps", `{"steps":[{"parallel":[{"pool":"m","tool":"t"}],"steps":[{"pool":"m","tool":"t"}]}]}`, `steps[0].steps: a step has "parallel" or "steps", not both`},
		{"group with a tool", `{"steps":[{"tool":"t","parallel":[{"pool":"m","tool":"t"}]}]}`, `steps[0].tool: not allowed in a group (a step with "parallel")`},
		{"empty group", `{"steps":[{"name":"g","steps":[]}]}`, `step 0 ("g"): steps[0].steps: must hold at least one step`},
		{
			"nested error names the step path",
			`{"steps":[{"pool":"m","tool":"t"},{"parallel":[{"pool":"m","tool":"t"},{"steps":[{"name":"deep","pool":"m"}]}]}]}`,
			`invalid pipeline: step steps[1].parallel[1].steps[0] ("deep"): steps[1].parallel[1].steps[0].tool: required`,
		},
		{"duplicate nested name", `{"steps":[{"name":"a","pool":"m","tool":"t"},{"parallel":[{"name":"a","pool":"m","tool":"t"}]}]}`, `steps[1].parallel[0].name: duplicate of step 0`},
		{"bad pool name", `{"steps":[{"pool":"my pool","tool":"t"}]}`, `steps[0].pool: must match [A-Za-z0-9_.-]+`},
		{"tool with a space", `{"steps":[{"pool":"m","tool":"a b"}]}`, `steps[0].tool: must not contain white space`},

		// Maps.
		{"map without over", `{"steps":[{"pool":"m","tool":"t","map":{"as":"x"}}]}`, `steps[0].map.over: required`},
		{"map over a string", `{"steps":[{"pool":"m","tool":"t","map":{"over":"abc","as":"x"}}]}`, `steps[0].map.over: must be a list or a reference, not a string ("abc")`},
		{"map over an object", `{"steps":[{"pool":"m","tool":"t","map":{"over":{"a":1},"as":"x"}}]}`, `steps[0].map.over: must be a list or a reference`},
		{"map without as", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1]},"args":{"y":2}}]}`, `steps[0].map.as: required unless args refer to the item`},
		{"as is not a name", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x-y"}}]}`, `steps[0].map.as: must be an argument name`},
		{"as clashes with args", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x"},"args":{"x":1}}]}`, `steps[0].map.as: args already has "x"`},
		{"zero concurrency", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","concurrency":0}}]}`, `steps[0].map.concurrency: must be at least 1, not 0`},
		{"fractional concurrency", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","concurrency":1.5}}]}`, `steps[0].map.concurrency: must be an integer, not 1.5`},
		{"chunk too big", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","chunk_size":2001}}]}`, `steps[0].map.chunk_size: must be from 1 to 2000, not 2001`},
		{"batched map", `{"steps":[{"pool":"m","tool":"t","on_error":"collect","map":{"over":[1,2,3],"as":"x","batch_size":2,"chunk_size":10}}]}`, ""},
		{"zero batch size", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","batch_size":0}}]}`, `invalid pipeline: step 0: steps[0].map.batch_size: must be at least 1, not 0`},
		{"negative batch size", `{"steps":[{"name":"b","pool":"m","tool":"t","map":{"over":[1],"as":"x","batch_size":-5}}]}`, `invalid pipeline: step 0 ("b"): steps[0].map.batch_size: must be at least 1, not -5`},
		{"fractional batch size", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","batch_size":2.5}}]}`, `steps[0].map.batch_size: must be an integer, not 2.5`},
		{"batch size not a number", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","batch_size":"10"}}]}`, `steps[0].map.batch_size: must be an integer of at least 1, not a string ("10")`},
		{"batch size a boolean", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","batch_size":true}}]}`, `steps[0].map.batch_size: must be an integer of at least 1, not a boolean (true)`},
		{"batch size with an exponent", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","batch_size":1e3}}]}`, `steps[0].map.batch_size: must be an integer, not 1e3`},
		{"batch size beyond 64 bits", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","batch_size":99999999999999999999}}]}`, `steps[0].map.batch_size: must be at most 9223372036854775807, not 99999999999999999999`},
		{"batch size null (not batched)", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","batch_size":null}}]}`, ""},
		{"batch size on a group", `{"steps":[{"name":"g","batch_size":10,"steps":[{"pool":"m","tool":"t"}]}]}`, `invalid pipeline: step 0 ("g"): steps[0].batch_size: unknown field (known: name, pool, tool`},
		{"batch size in a nested map", `{"steps":[{"parallel":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","batch_size":0}}]}]}`, `steps[0].parallel[0].map.batch_size: must be at least 1, not 0`},
		{"batch size outside map", `{"steps":[{"pool":"m","tool":"t","batch_size":10,"map":{"over":[1],"as":"x"}}]}`, `steps[0].batch_size: unknown field (known: name, pool, tool`},
		{"batched map over a string", `{"steps":[{"pool":"m","tool":"t","map":{"over":"abc","as":"x","batch_size":2}}]}`, `steps[0].map.over: must be a list or a reference, not a string ("abc")`},
		{"batched map over null", `{"steps":[{"pool":"m","tool":"t","map":{"over":null,"batch_size":2}}]}`, `steps[0].map.over: required: a list, or a reference to one`},
		{"batched chunk too big", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","batch_size":10,"chunk_size":2001}}]}`, `steps[0].map.chunk_size: must be from 1 to 2000, not 2001`},
		{"unknown map field", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","paralel":2}}]}`, `steps[0].map.paralel: unknown field (known: over, as, concurrency, batch_size, chunk_size, offset)`},

		// Types.
		{"pool not a string", `{"steps":[{"pool":3,"tool":"t"}]}`, `steps[0].pool: must be a string, not a number (3)`},
		{"steps not a list", `{"steps":{"pool":"m"}}`, `invalid pipeline: steps: must be a list of steps (objects), not an object`},
		{"step not an object", `{"steps":["square"]}`, `invalid pipeline: step 0: steps[0]: must be a step (an object), not a string ("square")`},
		{"retry attempts not an integer", `{"steps":[{"pool":"m","tool":"t","retry":{"maximum_attempts":"3"}}]}`, `steps[0].retry.maximum_attempts: must be an integer, not a string ("3")`},
		{"empty key", `{"steps":[{"pool":"m","tool":"t","":1}]}`, `invalid pipeline: step 0: steps[0]."": unknown field (known: name, pool, tool`},
		{"key with a space", `{"steps":[{"pool":"m","tool":"t","heartbeat timeout":"1s"}]}`, `invalid pipeline: step 0: steps[0]."heartbeat timeout": unknown field`},
		{"attempts beyond 32 bits", `{"steps":[{"pool":"m","tool":"t","retry":{"maximum_attempts":4294967297}}]}`, `steps[0].retry.maximum_attempts: must be at most 2147483647, not 4294967297`},
		{"integer beyond 64 bits", `{"steps":[{"pool":"m","tool":"t","map":{"over":[1],"as":"x","offset":-99999999999999999999}}]}`, `steps[0].map.offset: must be at least -9223372036854775808, not -99999999999999999999`},
		{"number beyond float64", `{"steps":[{"pool":"m","tool":"t","retry":{"backoff_coefficient":1e400}}]}`, `steps[0].retry.backoff_coefficient: must be a number of at most 1.7976931348623157e+308, not 1e400`},
		{"key given twice, the first of the wrong type", `{"steps":[{"pool":"m","tool":"t","map":"","map":{"over":[1],"as":"x"}}]}`, `invalid pipeline: step 0: steps[0].map: given twice (the keys of an object must be unique)`},
		{"key given twice, both fine", `{"steps":[{"pool":"m","tool":"t","tool":"u"}]}`, ""},
		{"unknown default", `{"defaults":{"timeout":"1m"},"steps":[{"pool":"m","tool":"t"}]}`, `invalid pipeline: defaults.timeout: unknown field`},

		// References.
		{"reference to a later step", `{"steps":[{"name":"a","pool":"m","tool":"t","args":{"v":{"$ref":"steps.b.result"}}},{"name":"b","pool":"m","tool":"t"}]}`, `steps[0].args.v: reference "steps.b.result": step steps[1] ("b") has not finished when this step starts`},
		{"reference to itself", `{"steps":[{"name":"a","pool":"m","tool":"t","args":{"v":{"$ref":"steps.a.result"}}}]}`, `step 0 ("a"): steps[0].args.v: reference "steps.a.result": step steps[0] ("a") has not finished`},
		{"reference to a parallel sibling", `{"steps":[{"parallel":[{"name":"a","pool":"m","tool":"t"},{"pool":"m","tool":"t","args":{"v":[{"$ref":"steps.a.result"}]}}]}]}`, `steps[0].parallel[1].args.v[0]: reference "steps.a.result": step steps[0].parallel[0] ("a") has not finished`},
		{"reference to an unknown step", `{"steps":[{"pool":"m","tool":"t","args":{"v":{"$ref":"steps.nope.result"}}}]}`, `steps[0].args.v: reference "steps.nope.result": there is no step named "nope"`},
		{"reference without result", `{"steps":[{"name":"a","pool":"m","tool":"t"},{"pool":"m","tool":"t","args":{"v":{"$ref":"steps.a"}}}]}`, `steps[1].args.v: reference "steps.a": "steps.a" does not name a step's result`},
		{"reference with an empty segment", `{"steps":[{"name":"a","pool":"m","tool":"t"},{"pool":"m","tool":"t","args":{"v":{"$ref":"steps.a.result..x"}}}]}`, `has an empty path segment`},
		{"reference of another kind", `{"steps":[{"pool":"m","tool":"t","args":{"v":{"$ref":"env.HOME"}}}]}`, `steps[0].args.v: reference "env.HOME": "env.HOME" must start with "steps.<name>.result", "input" or "item"`},
		{"item outside a map", `{"steps":[{"pool":"m","tool":"t","args":{"v":{"$ref":"item"}}}]}`, `steps[0].args.v: reference "item": only a map step's args can refer to the item`},
		{"item in over", `{"steps":[{"pool":"m","tool":"t","map":{"over":[{"$ref":"item"}],"as":"x"}}]}`, `steps[0].map.over[0]: reference "item": only a map step's args`},
		{"ref with other keys", `{"steps":[{"pool":"m","tool":"t","args":{"v":{"$ref":"item","x":1}}}]}`, `steps[0].args.v: an object with "$ref" must have no other key`},
		{"ref not a string", `{"steps":[{"pool":"m","tool":"t","args":{"v":{"$ref":1}}}]}`, `steps[0].args.v: "$ref" must be a string, not a number (1)`},
		{"trailing data", `{"steps":[{"pool":"m","tool":"t"}]} {}`, "invalid pipeline JSON: line 1, column 37: unexpected data after the top-level object"},

		// Retry policies Temporal would refuse (issue 9.6).
		{"maximum below initial", `{"steps":[{"pool":"m","tool":"t","retry":{"initial_interval":"10s","maximum_interval":"5s"}}]}`, `steps[0].retry.maximum_interval: 5s is below the initial interval (10s, initial_interval)`},
		{"maximum below the default initial", `{"steps":[{"pool":"m","tool":"t","retry":{"maximum_interval":"500ms"}}]}`, `steps[0].retry.maximum_interval: 500ms is below the initial interval (1s, the default)`},
		{"maximum equal to initial", `{"steps":[{"pool":"m","tool":"t","retry":{"initial_interval":"2s","maximum_interval":"2s"}}]}`, ""},
		{"empty error type", `{"defaults":{"retry":{"non_retryable_error_types":["KeyError",""]}},"steps":[{"pool":"m","tool":"t"}]}`, `invalid pipeline: defaults.retry.non_retryable_error_types[1]: must be an error type name, not empty`},

		// Spec version, name, input, output.
		{"version 1", `{"version":1,"steps":[{"pool":"m","tool":"t"}]}`, ""},
		{"unknown version", `{"version":3,"steps":[{"pool":"m","tool":"t"}]}`, `invalid pipeline: version: unknown spec version 3 (this worker knows version 1)`},
		{"version not a number", `{"version":"1","steps":[{"pool":"m","tool":"t"}]}`, `invalid pipeline: version: must be an integer, not a string ("1")`},
		{"bad pipeline name", `{"name":"my pipeline","steps":[{"pool":"m","tool":"t"}]}`, `invalid pipeline: name: must match`},
		{"input references", `{"input":{"a":[1]},"steps":[{"pool":"m","tool":"t","args":{"v":{"$ref":"input.a.0"}},"map":{"over":{"$ref":"input.a"},"as":"x"}}]}`, ""},
		{"output", `{"steps":[{"name":"a","pool":"m","tool":"t"}],"output":{"a":{"$ref":"steps.a.result"},"i":{"$ref":"input"}}}`, ""},
		{"output refers to the item", `{"steps":[{"pool":"m","tool":"t"}],"output":{"$ref":"item"}}`, `invalid pipeline: output: reference "item": only a map step's args can refer to the item`},
		{"output refers to a finally step", `{"steps":[{"pool":"m","tool":"t"}],"finally":[{"name":"f","pool":"m","tool":"t"}],"output":{"$ref":"steps.f.result"}}`, `output: reference "steps.f.result": step finally[0] ("f") is a finally step`},
		{"continued past the steps", `{"continued":{"next":5},"steps":[{"pool":"m","tool":"t"},{"pool":"m","tool":"t"}]}`, `invalid pipeline: continued.next: must be the index of a top-level step after the first (1 to 1), not 5`},
		{"zero max history events", `{"max_history_events":0,"steps":[{"pool":"m","tool":"t"}]}`, `invalid pipeline: max_history_events: must be at least 1, not 0`},

		// Kinds: dag, sleep, wait.
		{"dag", `{"steps":[{"dag":[{"name":"a","pool":"m","tool":"t"},{"name":"b","depends_on":["a"],"pool":"m","tool":"t","args":{"v":{"$ref":"steps.a.result"}}},{"name":"c","depends_on":["b"],"pool":"m","tool":"t","args":{"v":{"$ref":"steps.a.result"}}}]}]}`, ""},
		{"dag reference to a step it does not depend on", `{"steps":[{"dag":[{"name":"a","pool":"m","tool":"t"},{"name":"b","pool":"m","tool":"t","args":{"v":{"$ref":"steps.a.result"}}}]}]}`, `steps[0].dag[1].args.v: reference "steps.a.result": step steps[0].dag[0] ("a") has not finished when this step starts`},
		{"depends_on outside a dag", `{"steps":[{"steps":[{"name":"a","pool":"m","tool":"t"},{"name":"b","depends_on":["a"],"pool":"m","tool":"t"}]}]}`, `steps[0].steps[1].depends_on: only steps of a "dag" have depends_on (this one is in "steps")`},
		{"top-level depends_on", `{"steps":[{"name":"a","pool":"m","tool":"t"},{"name":"b","depends_on":["a"],"pool":"m","tool":"t"}]}`, `steps[1].depends_on: only steps of a "dag" have depends_on`},
		{"depends on itself", `{"steps":[{"dag":[{"name":"a","depends_on":["a"],"pool":"m","tool":"t"}]}]}`, `steps[0].dag[0].depends_on: a step cannot depend on itself`},
		{"dependency listed twice", `{"steps":[{"dag":[{"name":"a","pool":"m","tool":"t"},{"name":"b","depends_on":["a","a"],"pool":"m","tool":"t"}]}]}`, `steps[0].dag[1].depends_on: "a" is listed twice`},
		{"longer cycle", `{"steps":[{"dag":[{"name":"a","depends_on":["c"],"pool":"m","tool":"t"},{"name":"b","depends_on":["a"],"pool":"m","tool":"t"},{"name":"c","depends_on":["b"],"pool":"m","tool":"t"}]}]}`, `dependency cycle: a -> c -> b -> a`},
		{"sleep", `{"steps":[{"name":"nap","sleep":"10m"}]}`, ""},
		{"bad sleep", `{"steps":[{"name":"nap","sleep":"a while"}]}`, `steps[0].sleep: not a duration`},
		{"sleep with a tool", `{"steps":[{"sleep":"1s","tool":"t"}]}`, `steps[0].tool: a step is of one kind: it cannot have both "sleep" and "tool"`},
		{"sleep with a timeout", `{"steps":[{"sleep":"1s","start_to_close_timeout":"1m"}]}`, `steps[0].start_to_close_timeout: not allowed in a sleep or wait step`},
		{"wait", `{"steps":[{"wait":{"signal":"approve","timeout":"1h"}}]}`, ""},
		{"wait without a signal", `{"steps":[{"wait":{}}]}`, `steps[0].wait.signal: required`},
		{"unknown wait field", `{"steps":[{"wait":{"signal":"a","timout":"1h"}}]}`, `steps[0].wait.timout: unknown field (known: signal, timeout)`},

		// Conditions and error policies.
		{"condition", `{"input":{"n":1},"steps":[{"name":"a","pool":"m","tool":"t"},{"pool":"m","tool":"t","when":"steps.a.result > input.n && steps[\"a\"].status == 'done'"}]}`, ""},
		{"condition syntax", `{"steps":[{"pool":"m","tool":"t","when":"1 +"}]}`, `steps[0].when: invalid condition "1 +"`},
		{"condition not a boolean", `{"steps":[{"pool":"m","tool":"t","when":"1 + 2"}]}`, `steps[0].when: invalid condition "1 + 2": expected bool`},
		{"condition with an unknown name", `{"steps":[{"pool":"m","tool":"t","when":"inptu.x"}]}`, `unknown name inptu`},
		{"condition calls the clock", `{"steps":[{"pool":"m","tool":"t","when":"now().Year() > 2000"}]}`, `steps[0].when: invalid condition`},
		{"condition on an unknown step", `{"steps":[{"pool":"m","tool":"t","when":"steps.nope.status == 'done'"}]}`, `condition "steps.nope.status == 'done'": there is no step named "nope"`},
		{"pipeline status outside finally", `{"steps":[{"pool":"m","tool":"t","when":"pipeline.status == 'failed'"}]}`, `unknown name pipeline`},
		{"finally", `{"steps":[{"name":"a","pool":"m","tool":"t"}],"finally":[{"pool":"m","tool":"t","when":"pipeline.status != 'done' && steps.a.status == 'done'","args":{"v":{"$ref":"steps.a.result"}}}]}`, ""},
		{"bad on_error", `{"steps":[{"pool":"m","tool":"t","on_error":"ignore"}]}`, `steps[0].on_error: must be "fail", "continue" or "collect" (maps only), not "ignore"`},
		{"collect on a tool call", `{"steps":[{"pool":"m","tool":"t","on_error":"collect"}]}`, `steps[0].on_error: "collect" is for maps only`},
		{"collect on a group", `{"steps":[{"on_error":"collect","steps":[{"pool":"m","tool":"t"}]}]}`, `steps[0].on_error: "collect" is for maps only`},
		{"require_worker", `{"defaults":{"require_worker":false},"steps":[{"pool":"m","tool":"t","require_worker":true}]}`, ""},
		{"require_worker not a boolean", `{"steps":[{"pool":"m","tool":"t","require_worker":"no"}]}`, `steps[0].require_worker: must be a boolean, not a string ("no")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := workflows.ParseSpec([]byte(tt.json))
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotEmpty(t, spec.Steps)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// A spec decoded by encoding/json (as the Temporal data converter does) reports the same errors.
func TestUnmarshalThenValidate(t *testing.T) {
	var spec workflows.PipelineSpec
	require.NoError(t, json.Unmarshal([]byte(`{"steps":[{"pool":"m","tool":"t","argz":{}}]}`), &spec))
	err := spec.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "steps[0].argz: unknown field")
	require.Error(t, json.Unmarshal([]byte(`{"steps":`), &spec), "malformed JSON is still an error")
}

func TestSpecErrorFields(t *testing.T) {
	_, err := workflows.ParseSpec([]byte(`{"steps":[{"pool":"m","tool":"t"},{"name":"x","pool":"m","tool":"t","args":"no"}]}`))
	var specErr *workflows.SpecError
	require.ErrorAs(t, err, &specErr)
	assert.Equal(t, 1, specErr.Step)
	assert.Equal(t, "x", specErr.StepName)
	assert.Equal(t, "steps[1].args", specErr.Field)
}

func TestPoolTaskQueue(t *testing.T) {
	assert.Equal(t, "snakepool.math", workflows.PoolTaskQueue("math"))
}

// Every example pipeline must parse.
func TestExamplePipelinesParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "examples", "pipelines", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			spec, err := workflows.ParseSpec(data)
			require.NoError(t, err)
			assert.NotEmpty(t, spec.Steps)
		})
	}
}
