package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// Steps run one after the other, in order; the pipeline stops at the first step that fails.
	// Required: at least one step.
	Steps []Step `json:"steps"`
	// Defaults apply to every step that does not set the option itself (nor inherits it from an
	// enclosing group). Default: none (each option then has the default documented in StepOptions).
	Defaults StepOptions `json:"defaults,omitzero"`

	// decodeErr is the first unknown or mistyped field seen by UnmarshalJSON; Validate reports it.
	decodeErr *SpecError
}

// Step is one step of a pipeline. It is one of four kinds, told apart by its fields:
//
//   - a tool call: pool and tool (and args);
//   - a map: pool, tool and map: the tool is called once per item of a list, the results are a
//     list in the order of the items;
//   - a parallel group: parallel, a list of steps that run at the same time; its result is the
//     list of their results, in order;
//   - a sequence: steps, a list of steps that run one after the other (useful as a branch of a
//     parallel group); its result is the list of their results, in order.
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
	// Concurrency is how many items run at the same time (the pools may run fewer, as many as
	// their capacity). At least 1. Default: DefaultMapConcurrency (10).
	Concurrency int `json:"concurrency,omitempty"`
	// ChunkSize is the number of items one child workflow runs when the map is too big to run in
	// the pipeline's own history (more than ChunkSize items, or more than MaxInlineCalls tool calls
	// in one workflow run). From 1 to MaxMapChunkSize (2000). Default: DefaultMapChunkSize (500).
	ChunkSize int `json:"chunk_size,omitempty"`
	// Offset is the index of the first item in the whole map when this pipeline is one chunk of a
	// bigger map; the Pipeline workflow sets it for its child workflows. It shifts item numbers in
	// activity IDs, errors and progress. Default: 0.
	Offset int `json:"offset,omitempty"`
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
	// HeartbeatTimeout fails an attempt whose tool has not called ctx.heartbeat for this long, and is
	// what lets a cancellation reach a running tool. Default: none (no heartbeat required).
	HeartbeatTimeout string `json:"heartbeat_timeout,omitempty"`
	// Retry is the retry policy of the call; when set it replaces the inherited one as a whole.
	// Default: Temporal's (unlimited attempts, 1s initial interval, coefficient 2, at most 100s).
	Retry *RetryPolicy `json:"retry,omitempty"`
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
	// of the items; for a group, the list of its steps' results in order.
	Result json.RawMessage `json:"result"`
}

const (
	// PipelineName is the workflow type under which Pipeline is registered.
	PipelineName = "Pipeline"
	// ProgressQuery is the name of the Pipeline workflow's query that returns its Progress.
	ProgressQuery = "progress"
	// TaskQueue is the default workflow task queue of the snakepool worker.
	TaskQueue = "snakepool"
	// DefaultStartToCloseTimeout is the StartToCloseTimeout of a step that sets none.
	DefaultStartToCloseTimeout = 10 * time.Minute
	// DefaultMapConcurrency is the Concurrency of a map that sets none.
	DefaultMapConcurrency = 10
	// DefaultMapChunkSize is the ChunkSize of a map that sets none.
	DefaultMapChunkSize = 500
	// MaxMapChunkSize is the largest ChunkSize.
	MaxMapChunkSize = 2000
	// MaxInlineCalls is how many map items one workflow run calls itself before it runs further
	// maps in child workflows. It equals MaxMapChunkSize, so that a child always runs its chunk itself.
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
// trailing data are errors) and validates it. Errors are *SpecError, or name the JSON syntax error.
func ParseSpec(data []byte) (PipelineSpec, error) {
	var spec PipelineSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&spec); err != nil {
		return PipelineSpec{}, fmt.Errorf("invalid pipeline JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return PipelineSpec{}, errors.New("invalid pipeline JSON: unexpected data after the top-level object")
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
	checkErr := checkFields(data)
	if err := json.Unmarshal(data, &p); err != nil && checkErr == nil {
		// checkFields knows every field and type; this is a safety net.
		checkErr = &SpecError{Field: "(spec)", Step: -1, Problem: err.Error()}
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
)
