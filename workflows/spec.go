package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// PipelineSpec is the input of the Pipeline workflow: a declarative tree of tool calls. The full
// reference, with examples, is docs/pipelines.md. In JSON:
//
//	{
//	  "defaults": {"start_to_close_timeout": "5m", "retry": {"maximum_attempts": 3}},
//	  "steps": [
//	    {"name": "numbers", "pool": "io", "tool": "echo", "args": {"values": [1, 2, 3]}},
//	    {"name": "squares", "pool": "math", "tool": "square",
//	     "map": {"over": {"$ref": "steps.numbers.result.values"}, "as": "x", "concurrency": 2}},
//	    {"name": "checks", "parallel": [
//	      {"name": "prime", "pool": "math", "tool": "is_prime", "args": {"n": 7919}},
//	      {"name": "slow", "pool": "io", "tool": "compute", "args": {"x": 0.5}}
//	    ]}
//	  ]
//	}
//
// Every field is optional unless it says "Required". Unknown fields and fields of the wrong JSON
// type are errors that name the field, both in ParseSpec and when the workflow starts (a spec sent
// from the Temporal CLI is checked as strictly as one sent by the starter).
type PipelineSpec struct {
	// Version is the version of the spec format: SpecVersion (1) is the only one; another is an
	// InvalidPipeline error. Default: SpecVersion.
	Version int `json:"version,omitempty"`
	// Name names the pipeline in its memo and search attributes (docs/pipelines.md#visibility),
	// e.g. "train-resnet"; [A-Za-z0-9_.-]+. Default: none.
	Name string `json:"name,omitempty"`
	// Input is the pipeline's input, which steps, conditions and the output refer to as
	// {"$ref": "input..."} and input.<path>. A second workflow argument, when given, replaces it,
	// so that one spec serves many runs. Default: null.
	Input json.RawMessage `json:"input,omitempty"`
	// Steps run one after the other, in order; the pipeline stops at the first step that fails
	// (unless its on_error is "continue"). Required: at least one step.
	Steps []Step `json:"steps"`
	// Finally are steps that run, one after the other, once the steps have ended, whether they
	// succeeded, failed or were cancelled (then in a disconnected context, so that cancelling the
	// pipeline does not cancel them): for cleanup such as releasing a reservation. Their
	// conditions see pipeline.status ("done", "failed" or "cancelled") and pipeline.error.
	// Default: none.
	Finally []Step `json:"finally,omitempty"`
	// Output shapes the pipeline's result: a JSON value whose references ({"$ref": "steps.<name>.result..."},
	// {"$ref": "input..."}) are resolved when the steps have succeeded. When it is set, the
	// result holds it as "output" and its "results" carry no values (only each step's status).
	// Default: none (the result lists every top-level step's result).
	Output json.RawMessage `json:"output,omitempty"`
	// Defaults apply to every step that does not set the option itself (nor inherits it from an
	// enclosing group). Default: none (each option then has the default documented in StepOptions).
	Defaults StepOptions `json:"defaults,omitzero"`
	// MaxHistoryEvents makes the pipeline continue as new (a new run of the same workflow, which
	// carries the finished steps' results) before a top-level step, once its run's history has
	// this many events, or when Temporal suggests it. At least 1. Default: DefaultMaxHistoryEvents
	// (10,000; Temporal's hard limit is 51,200).
	MaxHistoryEvents int `json:"max_history_events,omitempty"`
	// Continued is set by the Pipeline workflow in the input of the run it continues as new with:
	// where the previous runs got to. Not for users. Default: none.
	Continued *Continuation `json:"continued,omitempty"`

	// decodeErr is the first unknown or mistyped field seen by UnmarshalJSON; Validate reports it.
	decodeErr *SpecError
}

// Step is one step of a pipeline. It is one of seven kinds, told apart by its fields:
//
//   - a tool call: pool and tool (and args);
//   - a map: pool, tool and map: the tool is called once per item of a list, the results are a
//     list in the order of the items;
//   - a parallel group: parallel, a list of steps that run at the same time; its result is the
//     list of their results, in order;
//   - a sequence: steps, a list of steps that run one after the other (useful as a branch of a
//     parallel group); its result is the list of their results, in order;
//   - a graph: dag, a list of steps each of which starts as soon as the steps it depends_on have
//     finished; its result is the list of their results, in order;
//   - a sleep: sleep, a duration (a durable Temporal timer); its result is null;
//   - a wait: wait, for a named signal (optionally bounded by a timeout); its result is the
//     signal's payload.
//
// A group's options (StepOptions) are the defaults of the steps inside it.
type Step struct {
	// Name identifies the step in results, errors, progress and references
	// ({"$ref": "steps.<name>.result"}). When set it must be unique within the whole pipeline
	// (nested steps included) and match [A-Za-z0-9_.-]+. Default: empty (the step is named by its
	// position, e.g. "#1 square").
	Name string `json:"name,omitempty"`
	// Pool is the name of the pool (as in the worker's config) whose Python processes run the tool;
	// [A-Za-z0-9_.-]+. Required for tool calls and maps.
	Pool string `json:"pool,omitempty"`
	// Tool is the name of the tool, as the pool's adapter reports it. Required for tool calls and maps.
	Tool string `json:"tool,omitempty"`
	// Args is a JSON object bound to the tool's parameters by name. Without references it reaches
	// Python untouched; {"$ref": ...} objects inside it are replaced by earlier steps' results (and,
	// in a map, by the item). Default: {} (no arguments).
	Args json.RawMessage `json:"args,omitempty"`
	// TaskQueue is the activity task queue of the pool's workers.
	// Default: PoolTaskQueue(Pool), i.e. "snakepool.<pool>", which is also the worker's default.
	TaskQueue string `json:"task_queue,omitempty"`
	// Map makes the step call its tool once per item of a list. Default: none (a single call).
	Map *MapSpec `json:"map,omitempty"`
	// Parallel makes the step a group of steps that run at the same time. Default: none.
	Parallel []Step `json:"parallel,omitempty"`
	// Steps makes the step a group of steps that run one after the other. Default: none.
	Steps []Step `json:"steps,omitempty"`
	// Dag makes the step a graph of steps: each starts as soon as the steps it names in
	// depends_on have finished. Default: none.
	Dag []Step `json:"dag,omitempty"`
	// DependsOn names the steps of the same dag that must finish before this one starts; only in
	// a dag. Default: none (the step starts with the dag).
	DependsOn []string `json:"depends_on,omitempty"`
	// Sleep makes the step a durable timer of this duration, e.g. "10m". Default: none.
	Sleep string `json:"sleep,omitempty"`
	// Wait makes the step wait for a signal. Default: none.
	Wait *WaitSpec `json:"wait,omitempty"`
	// When is a condition (an expr-lang expression over input, steps.<name>.result, .status and
	// .error, and in finally steps pipeline.status and pipeline.error) evaluated when the step
	// would start: false skips the step (status "skipped", result null). Default: none (run).
	When string `json:"when,omitempty"`
	// OnError is what a failure of the step does: "fail" fails the pipeline (or the enclosing
	// group); "continue" records the step as failed (result null, its error in the result and
	// progress) and goes on; "collect", for maps only, makes every item's outcome an entry
	// {"ok": true, "value": ...} or {"ok": false, "error": {...}} (MapEntry) so that the map
	// itself succeeds. Default: "fail".
	OnError string `json:"on_error,omitempty"`
	// StepOptions override the enclosing group's options and the pipeline's Defaults for this step
	// (and, in a group, are the defaults of the steps inside it).
	StepOptions
}

// MapSpec is the "map" of a step: call the step's tool once per item of a list.
type MapSpec struct {
	// Over is the list: a JSON array (whose elements may hold references), or a reference to an
	// earlier step's result that is an array, e.g. {"$ref": "steps.load.result.rows"}. Required.
	Over json.RawMessage `json:"over"`
	// As is the name of the argument that receives the item. It may be left out when args refer to
	// the item with {"$ref": "item"} or {"$ref": "item.<path>"}. Default: none.
	As string `json:"as,omitempty"`
	// Concurrency is how many calls run at the same time: items, or with BatchSize, batches (the
	// pools may run fewer, as many as their capacity). At least 1. Default: DefaultMapConcurrency (10).
	Concurrency int `json:"concurrency,omitempty"`
	// BatchSize groups the items into batches of this many (the last may be smaller), each run
	// by one activity (the worker's "snakepool.batch") in one Python worker, one item after the
	// other, which saves the Temporal round trips of one activity per item. The results are the
	// same as without batching; the items of a batch share its attempts, timeouts and retry policy
	// (docs/pipelines.md#batched-maps). At least 1. Default: 0, one activity per item.
	BatchSize int `json:"batch_size,omitempty"`
	// ChunkSize is the number of calls (items, or with BatchSize, batches) one child workflow
	// runs when the map is too big to run in the pipeline's own history (more than ChunkSize
	// calls, or more than MaxInlineCalls calls in one workflow run). From 1 to MaxMapChunkSize
	// (2000). Default: DefaultMapChunkSize (500).
	ChunkSize int `json:"chunk_size,omitempty"`
	// Offset is the index of the first item in the whole map when this pipeline is one chunk of a
	// bigger map; the Pipeline workflow sets it for its child workflows. It shifts item numbers in
	// activity IDs, errors and progress. Default: 0.
	Offset int `json:"offset,omitempty"`
}

// WaitSpec is the "wait" of a step: wait for a signal sent to the pipeline's workflow, e.g.
// `temporal workflow signal --workflow-id <id> --name approve --input '{"ok": true}'`. A signal sent
// before the step starts is kept until the step takes it; each wait step takes one signal.
type WaitSpec struct {
	// Signal is the signal's name; [A-Za-z0-9_.-]+. Required.
	Signal string `json:"signal"`
	// Timeout fails the step (error type WaitTimedOut) when no signal came for this long.
	// Default: none (wait for ever; the progress shows what the step waits for).
	Timeout string `json:"timeout,omitempty"`
}

// StepOptions are the Temporal activity options of a step. Durations are Go duration strings
// such as "30s", "5m" or "1h30m".
type StepOptions struct {
	// StartToCloseTimeout bounds one attempt of the tool call. Default: DefaultStartToCloseTimeout (10m).
	StartToCloseTimeout string `json:"start_to_close_timeout,omitempty"`
	// ScheduleToStartTimeout bounds how long the call may wait for a free slot in the pool (or for a
	// worker at all, e.g. when no worker serves the pool); it is not retried.
	// Default: none (wait for ever).
	ScheduleToStartTimeout string `json:"schedule_to_start_timeout,omitempty"`
	// HeartbeatTimeout fails an attempt whose worker has not heartbeated for this long, so that
	// the attempts of a worker that died are retried elsewhere within this bound. The snakepool
	// worker heartbeats by itself while a tool runs (every heartbeat_interval of its config, 10s by
	// default, or a third of this timeout), so a tool that is alive but stuck is not caught by it
	// (the worker config's progress_timeout is for those). "0s" turns it off.
	// Default: DefaultHeartbeatTimeout (30s).
	HeartbeatTimeout string `json:"heartbeat_timeout,omitempty"`
	// Retry is the retry policy of the call; when set it replaces the inherited one as a whole.
	// Default: Temporal's (unlimited attempts, 1s initial interval, coefficient 2, at most 100s).
	Retry *RetryPolicy `json:"retry,omitempty"`
	// RequireWorker makes the pipeline fail at once, before its first step, with a NoWorker error
	// naming the step, the pool and the task queue, when no worker serves the step's task queue
	// (none polled it in the last few minutes). false skips the check, e.g. for workers that
	// scale up from zero on the queue's backlog. Default: true.
	RequireWorker *bool `json:"require_worker,omitempty"`
}

// RetryPolicy mirrors temporal.RetryPolicy in JSON.
type RetryPolicy struct {
	// InitialInterval is the wait before the first retry. Default: 1s.
	InitialInterval string `json:"initial_interval,omitempty"`
	// BackoffCoefficient multiplies the interval after each retry; at least 1. Default: 2.
	BackoffCoefficient float64 `json:"backoff_coefficient,omitempty"`
	// MaximumInterval caps the interval. Default: 100 x InitialInterval.
	MaximumInterval string `json:"maximum_interval,omitempty"`
	// MaximumAttempts stops retrying after this many attempts (1 = no retry). Default: 0 (unlimited).
	MaximumAttempts int32 `json:"maximum_attempts,omitempty"`
	// NonRetryableErrorTypes lists error types (Python exception class names such as "KeyError")
	// that are never retried. Default: none (a tool marks its errors with NonRetryableError).
	NonRetryableErrorTypes []string `json:"non_retryable_error_types,omitempty"`
}

// PipelineResult is the output of the Pipeline workflow.
type PipelineResult struct {
	// Results holds one entry per top-level step, in the order of the steps.
	Results []StepResult `json:"results"`
	// Output is the spec's output, resolved; absent when the spec has none.
	Output json.RawMessage `json:"output,omitempty"`
}

// StepResult is the outcome of one top-level step.
type StepResult struct {
	// Step is the index of the step in PipelineSpec.Steps.
	Step int `json:"step"`
	// Name is the step's name, empty when it has none.
	Name string `json:"name,omitempty"`
	// Pool and Tool are the step's, empty for a group.
	Pool string `json:"pool,omitempty"`
	Tool string `json:"tool,omitempty"`
	// Result is the JSON value the tool returned; for a map, the list of the results in the order
	// of the items; for a group, the list of its steps' results in order; null for a skipped step
	// or one that failed with on_error "continue". Absent when the spec has an output.
	Result json.RawMessage `json:"result,omitempty"`
	// Status is "skipped" (its condition was false) or "failed" (with on_error "continue");
	// absent when the step succeeded.
	Status string `json:"status,omitempty"`
	// Error is the failure of a step that failed with on_error "continue".
	Error *ErrorInfo `json:"error,omitempty"`
}

// MapEntry is the outcome of one item of a map with on_error "collect": {"ok": true, "value": ...}
// or {"ok": false, "error": {"type": ..., "message": ..., "non_retryable": ...}}.
type MapEntry struct {
	OK    bool            `json:"ok"`
	Value json.RawMessage `json:"value,omitempty"`
	Error *ErrorInfo      `json:"error,omitempty"`
}

// ErrorInfo describes a failure in results: a collected map item's, or a step's that failed with
// on_error "continue".
type ErrorInfo struct {
	// Type is the Python exception's class name, or WorkerCrashed, Timeout, NoWorker, WaitTimedOut,
	// InvalidReference, InvalidCondition...
	Type string `json:"type"`
	// Message is the error's message.
	Message string `json:"message"`
	// NonRetryable reports whether the error was marked non-retryable (by the tool or by snakepool).
	NonRetryable bool `json:"non_retryable"`
}

const (
	// PipelineName is the workflow type under which Pipeline is registered.
	PipelineName = "Pipeline"
	// ProgressQuery is the name of the Pipeline workflow's query that returns its Progress.
	ProgressQuery = "progress"
	// TaskQueue is the default workflow task queue of the snakepool worker.
	TaskQueue = "snakepool"
	// SpecVersion is the version of the spec format this code knows (PipelineSpec.Version).
	SpecVersion = 1
	// DefaultStartToCloseTimeout is the StartToCloseTimeout of a step that sets none.
	DefaultStartToCloseTimeout = 10 * time.Minute
	// DefaultHeartbeatTimeout is the HeartbeatTimeout of a step (and of a CallTool call) that sets
	// none: a worker lost while it runs a tool is noticed within this bound, and the attempt retried.
	DefaultHeartbeatTimeout = 30 * time.Second
	// DefaultMaxHistoryEvents is the MaxHistoryEvents of a spec that sets none.
	DefaultMaxHistoryEvents = 10000
	// DefaultMapConcurrency is the Concurrency of a map that sets none.
	DefaultMapConcurrency = 10
	// DefaultMapChunkSize is the ChunkSize of a map that sets none.
	DefaultMapChunkSize = 500
	// MaxMapChunkSize is the largest ChunkSize.
	MaxMapChunkSize = 2000
	// MaxInlineCalls is how many map calls (items, or batches of a batched map) one workflow run
	// makes itself before it runs further maps in child workflows. It equals MaxMapChunkSize, so
	// that a child always runs its chunk itself.
	MaxInlineCalls = MaxMapChunkSize
	// ErrTypeInvalidPipeline is the ApplicationError type of a Pipeline whose spec is invalid.
	ErrTypeInvalidPipeline = "InvalidPipeline"
	// ErrTypeInvalidReference is the ApplicationError type of a Pipeline whose reference could not
	// be resolved at run time (e.g. the key is not in the referenced result, or a map's list is
	// not a list). Its details are a StepFailure.
	ErrTypeInvalidReference = "InvalidReference"
	// ErrTypeStepFailed is the ApplicationError type of a Pipeline whose step failed; its cause is
	// the step's activity error (or the chunk's child workflow error), its details a StepFailure.
	ErrTypeStepFailed = "StepFailed"
	// ErrTypeNoWorker is the ApplicationError type of a Pipeline that a step's pool is not served
	// by any worker (see StepOptions.RequireWorker); its details are a StepFailure.
	ErrTypeNoWorker = "NoWorker"
	// ErrTypeWaitTimedOut is the error type of a wait step whose signal did not come in time.
	ErrTypeWaitTimedOut = "WaitTimedOut"
	// ErrTypeInvalidCondition is the ApplicationError type of a Pipeline whose step's condition
	// could not be evaluated (e.g. it reads a field of null, or is not a boolean); details: a StepFailure.
	ErrTypeInvalidCondition = "InvalidCondition"
)

// PoolTaskQueue is the default activity task queue of a pool: "snakepool.<pool>".
func PoolTaskQueue(pool string) string { return TaskQueue + "." + pool }

// SpecError reports an invalid PipelineSpec. Field is a JSON path such as `steps[1].tool`.
type SpecError struct {
	// Field is the JSON path of the offending field.
	Field string
	// Step is the index of the offending top-level step (the one that holds the offending nested
	// step), or -1 when the error is not about a step.
	Step int
	// StepPath is the JSON path of the offending step, e.g. "steps[2].parallel[0]"; empty when the
	// error is not about a step.
	StepPath string
	// StepName is the name of the offending step, if it has one.
	StepName string
	// Problem says what is wrong with the field.
	Problem string
}

func (e *SpecError) Error() string {
	if e.Step < 0 {
		return fmt.Sprintf("invalid pipeline: %s: %s", e.Field, e.Problem)
	}
	step := fmt.Sprint(e.Step)
	if e.StepPath != "" && e.StepPath != fmt.Sprintf("steps[%d]", e.Step) {
		step = e.StepPath
	}
	if e.StepName != "" {
		step += fmt.Sprintf(" (%q)", e.StepName)
	}
	return fmt.Sprintf("invalid pipeline: step %s: %s: %s", step, e.Field, e.Problem)
}

// ParseSpec decodes a PipelineSpec from JSON strictly (unknown fields, fields of the wrong type and
// trailing data are errors) and validates it. Errors are *SpecError, or name the JSON syntax error
// and its line and column.
func ParseSpec(data []byte) (PipelineSpec, error) {
	var spec PipelineSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&spec); err != nil {
		return PipelineSpec{}, fmt.Errorf("invalid pipeline JSON: %w", jsonSyntaxError(data, err))
	}
	if err := trailingData(data, dec, "object"); err != nil {
		return PipelineSpec{}, fmt.Errorf("invalid pipeline JSON: %w", err)
	}
	if err := spec.Validate(); err != nil {
		return PipelineSpec{}, err
	}
	return spec, nil
}

// UnmarshalJSON decodes a spec leniently and remembers the first unknown or mistyped field, which
// Validate then reports. It only fails on malformed JSON. This is what makes a spec given to the
// workflow by the Temporal CLI (decoded by the data converter, not by ParseSpec) fail with an
// InvalidPipeline error that names the field, instead of running with the field ignored.
func (s *PipelineSpec) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil
	}
	if !json.Valid(data) {
		return errors.New("invalid JSON")
	}
	type plain PipelineSpec // no methods: no recursion
	var p plain
	checkErr := checkFields(data, false)
	if err := json.Unmarshal(data, &p); err != nil && checkErr == nil {
		// checkFields knows every field and type: the value that failed is one of a key given
		// twice, or the internals of "continued" (set by the workflow).
		if checkErr = checkFields(data, true); checkErr == nil {
			checkErr = &SpecError{Field: "(spec)", Step: -1, Problem: err.Error()}
		}
	}
	*s = PipelineSpec(p)
	s.decodeErr = checkErr
	return nil
}

// DisplayName names a top-level step in messages: its name, or "#<index> <tool>".
func (s Step) DisplayName(index int) string {
	if s.Name != "" {
		return s.Name
	}
	if s.Tool == "" {
		return fmt.Sprintf("#%d", index)
	}
	return fmt.Sprintf("#%d %s", index, s.Tool)
}

// stepKind is what a step does.
type stepKind string

const (
	kindTool     stepKind = "tool"
	kindMap      stepKind = "map"
	kindParallel stepKind = "parallel"
	kindSequence stepKind = "sequence"
	kindDAG      stepKind = "dag"
	kindSleep    stepKind = "sleep"
	kindWait     stepKind = "wait"
)

// isGroup reports whether steps of the kind hold other steps.
func (k stepKind) isGroup() bool { return k == kindParallel || k == kindSequence || k == kindDAG }

// What a step's failure does (Step.OnError).
const (
	onErrorFail     = "fail"
	onErrorContinue = "continue"
	onErrorCollect  = "collect"
)
