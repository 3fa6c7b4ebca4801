package workflows_test

// replayScenario is a representative pipeline whose history the replay suite keeps: recorded from
// a real run (replay_record_test.go, `make replay-record`) and replayed by TestReplayHistories.
type replayScenario struct {
	// name is the history's file name without ".json"; chunk children get ".<chunk>" appended.
	name string
	spec string
	// input is the optional second workflow argument.
	input string
	// cancel cancels the run once its last step is running; signals are sent once the step that
	// waits for them runs: signal name -> JSON payload.
	cancel  bool
	signals map[string]string
	// wantErr is true when the run must fail (or be cancelled).
	wantErr bool
}

// replayScenarios are recorded into testdata/replay/<replayGeneration>/ by `make replay-record`,
// each once: a committed history is kept (older generations' directories too), so that the
// suite proves the current code replays what older code recorded. Add a scenario for a new
// feature; do not change a committed one's spec.
var replayScenarios = []replayScenario{
	{name: "kinds", spec: `{"steps": [
		{"name": "numbers", "pool": "io", "tool": "echo", "args": {"values": [1, 2, 3, 4], "label": "n"}},
		{"name": "squares", "pool": "math", "tool": "square", "map": {"over": {"$ref": "steps.numbers.result.values"}, "as": "x", "concurrency": 2}},
		{"name": "checks", "parallel": [
			{"name": "prime", "pool": "math", "tool": "is_prime", "args": {"n": {"$ref": "steps.squares.result.3"}}},
			{"name": "primes", "pool": "math", "tool": "is_prime", "map": {"over": [2, 7919]}, "args": {"n": {"$ref": "item"}}},
			{"name": "chain", "steps": [
				{"name": "wait", "pool": "io", "tool": "compute", "args": {"x": 0.1}},
				{"name": "summary", "pool": "io", "tool": "echo", "args": {"waited": {"$ref": "steps.wait.result"}}}
			]}
		]},
		{"pool": "math", "tool": "noop"}
	]}`},
	{name: "failure", wantErr: true, spec: `{"steps": [
		{"name": "first", "pool": "math", "tool": "square", "args": {"x": 3}},
		{"name": "shout", "pool": "io", "tool": "fail", "retry": {"maximum_attempts": 1},
		 "map": {"over": ["a", "b", "c"], "as": "message", "concurrency": 1}}
	]}`},
	{name: "parallel-failure", wantErr: true, spec: `{"steps": [{"parallel": [
		{"name": "waits", "pool": "io", "tool": "wait_for_cancel", "heartbeat_timeout": "5s"},
		{"name": "breaks", "pool": "math", "tool": "fail_permanently", "args": {"message": "stop"}}
	]}]}`},
	{name: "retry", spec: `{"steps": [
		{"name": "flaky", "pool": "tests", "tool": "flaky", "args": {"value": 42}, "retry": {"initial_interval": "100ms", "maximum_attempts": 3}},
		{"name": "after", "pool": "io", "tool": "echo", "args": {"got": {"$ref": "steps.flaky.result"}}}
	]}`},
	{name: "cancelled", cancel: true, wantErr: true, spec: `{"steps": [
		{"name": "first", "pool": "math", "tool": "noop"},
		{"name": "waits", "pool": "io", "tool": "wait_for_cancel", "heartbeat_timeout": "5s"}
	]}`},
	{name: "chunked-map", spec: `{"steps": [
		{"name": "squares", "pool": "math", "tool": "square", "map": {"over": [1, 2, 3, 4, 5], "as": "x", "concurrency": 4, "chunk_size": 2}},
		{"name": "sum", "pool": "io", "tool": "echo", "args": {"squares": {"$ref": "steps.squares.result"}}}
	]}`},
	{name: "invalid", wantErr: true, spec: `{"steps": [{"name": "sq", "pool": "math", "tool": "square", "map": {"over": [1], "as": "x", "concurency": 2}}]}`},
	// Since version 1.
	{name: "composition", input: `{"threshold": 10, "xs": [1, 2]}`, signals: map[string]string{"approve": `{"ok": true}`}, spec: `{"name": "composition", "steps": [
		{"name": "flow", "dag": [
			{"name": "load", "pool": "io", "tool": "echo", "args": {"xs": {"$ref": "input.xs"}}},
			{"name": "squares", "depends_on": ["load"], "pool": "math", "tool": "square", "on_error": "collect", "map": {"over": {"$ref": "steps.load.result.xs"}, "as": "x"}},
			{"name": "nap", "sleep": "100ms"},
			{"name": "big", "depends_on": ["squares", "nap"], "when": "len(steps.squares.result) > input.threshold", "pool": "io", "tool": "echo"}
		]},
		{"name": "optional", "pool": "math", "tool": "fail", "retry": {"maximum_attempts": 1}, "on_error": "continue"},
		{"name": "approval", "wait": {"signal": "approve", "timeout": "1m"}},
		{"name": "deploy", "when": "steps.approval.result.ok", "pool": "tests", "tool": "flaky", "args": {"value": {"$ref": "steps.squares.result"}}, "retry": {"initial_interval": "100ms"}}
	], "finally": [{"name": "cleanup", "pool": "io", "tool": "echo", "args": {"status": "done"}}],
	"output": {"squares": {"$ref": "steps.squares.result"}, "approved": {"$ref": "steps.approval.result.ok"}}}`},
	{name: "continue-as-new", signals: map[string]string{"go": `"now"`}, spec: `{"max_history_events": 12, "steps": [
		{"name": "a", "pool": "math", "tool": "square", "args": {"x": 3}},
		{"name": "b", "pool": "io", "tool": "echo", "args": {"a": {"$ref": "steps.a.result"}}},
		{"name": "c", "wait": {"signal": "go"}},
		{"name": "d", "pool": "io", "tool": "echo", "args": {"b": {"$ref": "steps.b.result"}, "c": {"$ref": "steps.c.result"}}}
	]}`},
	{name: "cancelled-finally", cancel: true, wantErr: true, spec: `{"steps": [
		{"name": "reserve", "pool": "io", "tool": "echo", "args": {"gpu": 0}},
		{"name": "waits", "pool": "io", "tool": "wait_for_cancel"}
	], "finally": [{"name": "release", "when": "pipeline.status == 'cancelled'", "pool": "io", "tool": "echo", "args": {"gpu": {"$ref": "steps.reserve.result.gpu"}}}]}`},
	{name: "no-worker", wantErr: true, spec: `{"steps": [{"name": "sq", "pool": "mtah", "tool": "square", "args": {"x": 2}}]}`},
	// Since map.batch_size (a new spec field, no version of its own).
	{name: "batched-map", spec: `{"steps": [
		{"name": "numbers", "pool": "io", "tool": "echo", "args": {"values": [1, 2, 3, 4, 5, 6, 7]}},
		{"name": "squares", "pool": "math", "tool": "square", "map": {"over": {"$ref": "steps.numbers.result.values"}, "as": "x", "batch_size": 3, "concurrency": 2}},
		{"name": "beats", "pool": "io", "tool": "progress", "args": {"interval": 0.01}, "map": {"over": [1, 2, 3, 4, 5], "as": "steps", "batch_size": 2, "chunk_size": 2}},
		{"name": "sum", "pool": "io", "tool": "echo", "args": {"squares": {"$ref": "steps.squares.result"}, "beats": {"$ref": "steps.beats.result"}}}
	]}`},
	{name: "batched-collect", wantErr: true, spec: `{"steps": [
		{"name": "squares", "pool": "math", "tool": "square", "on_error": "collect", "retry": {"maximum_attempts": 1},
		 "map": {"over": [1, "two", 3, null, 5], "as": "x", "batch_size": 2}},
		{"name": "shout", "pool": "io", "tool": "fail", "retry": {"maximum_attempts": 1},
		 "map": {"over": ["a", "b", "c"], "as": "message", "batch_size": 2, "concurrency": 1}}
	]}`},
}
