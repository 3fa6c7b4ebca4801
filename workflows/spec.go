package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// PipelineSpec is the input of the Pipeline workflow: a declarative list of tool calls.
//
// In JSON:
//
//	{
//	  "defaults": {"start_to_close_timeout": "5m", "retry": {"maximum_attempts": 3}},
//	  "steps": [
//	    {"name": "square", "pool": "math", "tool": "square", "args": {"x": 12}},
//	    {"pool": "math", "tool": "is_prime", "args": {"n": 7919}, "start_to_close_timeout": "30s"}
//	  ]
//	}
//
// Every field is optional unless it says "Required". Unknown fields are rejected by ParseSpec (the
// workflow itself cannot see them: the Temporal data converter drops them).
type PipelineSpec struct {
	// Steps run one after the other, in order; the pipeline stops at the first step that fails.
	// Required: at least one step.
	Steps []Step `json:"steps"`
	// Defaults apply to every step that does not set the option itself.
	// Default: none (each option then has the default documented in StepOptions).
	Defaults StepOptions `json:"defaults,omitzero"`
}

// Step is one tool call of a pipeline.
type Step struct {
	// Name identifies the step in results and errors. When set it must be unique within the pipeline
	// and match [A-Za-z0-9_.-]+. Default: empty (the step is named by its index and tool).
	Name string `json:"name,omitempty"`
	// Pool is the name of the pool (as in the worker's config) whose Python processes run the tool.
	// Required.
	Pool string `json:"pool"`
	// Tool is the name of the tool, as the pool's adapter reports it. Required.
	Tool string `json:"tool"`
	// Args is a JSON object bound to the tool's parameters by name; it reaches Python untouched.
	// Default: {} (no arguments).
	Args json.RawMessage `json:"args,omitempty"`
	// TaskQueue is the activity task queue of the pool's workers.
	// Default: PoolTaskQueue(Pool), i.e. "snakepool.<pool>", which is also the worker's default.
	TaskQueue string `json:"task_queue,omitempty"`
	// StepOptions override the pipeline's Defaults for this step.
	StepOptions
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
	// Retry is the retry policy of the call; when set it replaces the one in Defaults as a whole.
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
	// Results holds one entry per step, in the order of the steps.
	Results []StepResult `json:"results"`
}

// StepResult is the outcome of one step.
type StepResult struct {
	// Step is the index of the step in PipelineSpec.Steps.
	Step int `json:"step"`
	// Name is the step's name, empty when it has none.
	Name string `json:"name,omitempty"`
	Pool string `json:"pool"`
	Tool string `json:"tool"`
	// Result is the JSON value the tool returned.
	Result json.RawMessage `json:"result"`
}

const (
	// PipelineName is the workflow type under which Pipeline is registered.
	PipelineName = "Pipeline"
	// TaskQueue is the default workflow task queue of the snakepool worker.
	TaskQueue = "snakepool"
	// DefaultStartToCloseTimeout is the StartToCloseTimeout of a step that sets none.
	DefaultStartToCloseTimeout = 10 * time.Minute
	// ErrTypeInvalidPipeline is the ApplicationError type of a Pipeline whose spec is invalid.
	ErrTypeInvalidPipeline = "InvalidPipeline"
	// ErrTypeStepFailed is the ApplicationError type of a Pipeline whose step failed; its cause is
	// the step's activity error.
	ErrTypeStepFailed = "StepFailed"
)

// PoolTaskQueue is the default activity task queue of a pool: "snakepool.<pool>".
func PoolTaskQueue(pool string) string { return TaskQueue + "." + pool }

// SpecError reports an invalid PipelineSpec. Field is a JSON path such as `steps[1].tool`.
type SpecError struct {
	// Field is the JSON path of the offending field.
	Field string
	// Step is the index of the offending step, or -1 when the error is not about a step.
	Step int
	// StepName is the name of the offending step, if it has one.
	StepName string
	// Problem says what is wrong with the field.
	Problem string
}

func (e *SpecError) Error() string {
	if e.Step >= 0 && e.StepName != "" {
		return fmt.Sprintf("invalid pipeline: step %d (%q): %s: %s", e.Step, e.StepName, e.Field, e.Problem)
	}
	if e.Step >= 0 {
		return fmt.Sprintf("invalid pipeline: step %d: %s: %s", e.Step, e.Field, e.Problem)
	}
	return fmt.Sprintf("invalid pipeline: %s: %s", e.Field, e.Problem)
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Validate checks the spec; the error is a *SpecError naming the first offending field.
func (s PipelineSpec) Validate() error {
	if len(s.Steps) == 0 {
		return &SpecError{Field: "steps", Step: -1, Problem: "at least one step is required"}
	}
	if err := s.Defaults.validate("defaults"); err.field != "" {
		return &SpecError{Field: err.field, Step: -1, Problem: err.problem}
	}
	seen := make(map[string]int, len(s.Steps))
	for i, step := range s.Steps {
		bad := func(field, problem string) error {
			return &SpecError{Field: fmt.Sprintf("steps[%d].%s", i, field), Step: i, StepName: step.Name, Problem: problem}
		}
		if step.Name != "" {
			if !namePattern.MatchString(step.Name) {
				return bad("name", "must match [A-Za-z0-9_.-]+")
			}
			if j, dup := seen[step.Name]; dup {
				return bad("name", fmt.Sprintf("duplicate of step %d", j))
			}
			seen[step.Name] = i
		}
		if strings.TrimSpace(step.Pool) == "" {
			return bad("pool", "required")
		}
		if strings.TrimSpace(step.Tool) == "" {
			return bad("tool", "required")
		}
		if len(step.Args) > 0 && !isJSONObjectOrNull(step.Args) {
			return bad("args", "must be a JSON object")
		}
		if err := step.StepOptions.validate(fmt.Sprintf("steps[%d]", i)); err.field != "" {
			return &SpecError{Field: err.field, Step: i, StepName: step.Name, Problem: err.problem}
		}
	}
	return nil
}

// ParseSpec decodes a PipelineSpec from JSON strictly (unknown fields and trailing data are errors)
// and validates it.
func ParseSpec(data []byte) (PipelineSpec, error) {
	var spec PipelineSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
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

// DisplayName names a step in messages: its name, or "#<index> <tool>".
func (s Step) DisplayName(index int) string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("#%d %s", index, s.Tool)
}

type fieldProblem struct{ field, problem string }

func (o StepOptions) validate(prefix string) fieldProblem {
	durations := []struct {
		field, value string
	}{
		{"start_to_close_timeout", o.StartToCloseTimeout},
		{"schedule_to_start_timeout", o.ScheduleToStartTimeout},
		{"heartbeat_timeout", o.HeartbeatTimeout},
	}
	if o.Retry != nil {
		durations = append(durations,
			struct{ field, value string }{"retry.initial_interval", o.Retry.InitialInterval},
			struct{ field, value string }{"retry.maximum_interval", o.Retry.MaximumInterval})
	}
	for _, d := range durations {
		if d.value == "" {
			continue
		}
		if _, err := parsePositiveDuration(d.value); err != nil {
			return fieldProblem{prefix + "." + d.field, err.Error()}
		}
	}
	if r := o.Retry; r != nil {
		if r.BackoffCoefficient != 0 && r.BackoffCoefficient < 1 {
			return fieldProblem{prefix + ".retry.backoff_coefficient", "must be at least 1"}
		}
		if r.MaximumAttempts < 0 {
			return fieldProblem{prefix + ".retry.maximum_attempts", "must not be negative"}
		}
	}
	return fieldProblem{}
}

// activityOptions resolves the step's options over the defaults. The spec must be valid.
func (s Step) activityOptions(defaults StepOptions) workflow.ActivityOptions {
	pick := func(own, def string) string {
		if own != "" {
			return own
		}
		return def
	}
	opts := workflow.ActivityOptions{
		TaskQueue:              s.TaskQueue,
		StartToCloseTimeout:    DefaultStartToCloseTimeout,
		ScheduleToStartTimeout: mustDuration(pick(s.ScheduleToStartTimeout, defaults.ScheduleToStartTimeout)),
		HeartbeatTimeout:       mustDuration(pick(s.HeartbeatTimeout, defaults.HeartbeatTimeout)),
	}
	if opts.TaskQueue == "" {
		opts.TaskQueue = PoolTaskQueue(s.Pool)
	}
	if d := pick(s.StartToCloseTimeout, defaults.StartToCloseTimeout); d != "" {
		opts.StartToCloseTimeout = mustDuration(d)
	}
	retry := defaults.Retry
	if s.Retry != nil {
		retry = s.Retry
	}
	if retry != nil {
		opts.RetryPolicy = &temporal.RetryPolicy{
			InitialInterval:        mustDuration(retry.InitialInterval),
			BackoffCoefficient:     retry.BackoffCoefficient,
			MaximumInterval:        mustDuration(retry.MaximumInterval),
			MaximumAttempts:        retry.MaximumAttempts,
			NonRetryableErrorTypes: retry.NonRetryableErrorTypes,
		}
	}
	return opts
}

func parsePositiveDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration (use e.g. \"30s\", \"5m\"): %q", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive: %q", s)
	}
	return d, nil
}

// mustDuration parses a duration that Validate accepted; empty is zero.
func mustDuration(s string) time.Duration {
	if s == "" {
		return 0
	}
	d, _ := parsePositiveDuration(s)
	return d
}

func isJSONObjectOrNull(raw json.RawMessage) bool {
	trimmed := bytes.TrimSpace(raw)
	if bytes.Equal(trimmed, []byte("null")) {
		return true
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return false
	}
	return json.Valid(trimmed)
}
