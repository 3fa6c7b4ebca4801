package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// CallOptions are the options of CallTool and StartTool. Every field is optional; a zero field
// takes the default it documents. They are the same defaults as a Pipeline step's.
type CallOptions struct {
	// TaskQueue is the activity task queue of the pool's workers.
	// Default: PoolTaskQueue(pool), i.e. "snakepool.<pool>", which is also the worker's default.
	TaskQueue string
	// StartToCloseTimeout bounds one attempt of the call. Default: DefaultStartToCloseTimeout (10m).
	StartToCloseTimeout time.Duration
	// ScheduleToCloseTimeout bounds the call with all its attempts and waits. Default: none.
	ScheduleToCloseTimeout time.Duration
	// ScheduleToStartTimeout bounds how long the call may wait for a free slot in the pool (or for
	// a worker at all); it is not retried. Default: none (wait for ever).
	ScheduleToStartTimeout time.Duration
	// HeartbeatTimeout fails an attempt whose worker has not heartbeated for this long, so that a
	// lost worker's attempt is retried elsewhere within this bound. The snakepool worker heartbeats
	// by itself while the tool runs (every heartbeat_interval, or a third of this timeout), so it
	// does not catch a tool that is alive but stuck. Negative: none. (Changing it is replay-safe:
	// the SDK matches a replayed activity by its ID and type only.) Default: DefaultHeartbeatTimeout (30s).
	HeartbeatTimeout time.Duration
	// RetryPolicy is the call's retry policy. Default: nil, Temporal's (unlimited attempts, 1s
	// initial interval, coefficient 2, at most 100s); a tool's NonRetryableError is never retried.
	RetryPolicy *temporal.RetryPolicy
	// ActivityID is the call's activity ID. Default: Temporal's (a sequence number).
	ActivityID string
	// Summary is shown for the call in the Web UI. Default: "<pool>.<tool>".
	Summary string
	// WaitForCancellation makes a cancelled call wait until the tool has stopped, instead of
	// resolving as cancelled at once. Default: false.
	WaitForCancellation bool
}

// merge returns o with the non-zero fields of later set over it.
func (o CallOptions) merge(later CallOptions) CallOptions {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setD := func(dst *time.Duration, v time.Duration) {
		if v != 0 {
			*dst = v
		}
	}
	set(&o.TaskQueue, later.TaskQueue)
	setD(&o.StartToCloseTimeout, later.StartToCloseTimeout)
	setD(&o.ScheduleToCloseTimeout, later.ScheduleToCloseTimeout)
	setD(&o.ScheduleToStartTimeout, later.ScheduleToStartTimeout)
	setD(&o.HeartbeatTimeout, later.HeartbeatTimeout)
	if later.RetryPolicy != nil {
		o.RetryPolicy = later.RetryPolicy
	}
	set(&o.ActivityID, later.ActivityID)
	set(&o.Summary, later.Summary)
	o.WaitForCancellation = o.WaitForCancellation || later.WaitForCancellation
	return o
}

// ActivityOptions are the Temporal activity options of a call of tool on pool.
func (o CallOptions) ActivityOptions(pool, tool string) workflow.ActivityOptions {
	opts := workflow.ActivityOptions{
		TaskQueue:              o.TaskQueue,
		StartToCloseTimeout:    o.StartToCloseTimeout,
		ScheduleToCloseTimeout: o.ScheduleToCloseTimeout,
		ScheduleToStartTimeout: o.ScheduleToStartTimeout,
		HeartbeatTimeout:       o.HeartbeatTimeout,
		RetryPolicy:            o.RetryPolicy,
		ActivityID:             o.ActivityID,
		Summary:                o.Summary,
		WaitForCancellation:    o.WaitForCancellation,
	}
	if opts.TaskQueue == "" {
		opts.TaskQueue = PoolTaskQueue(pool)
	}
	if opts.StartToCloseTimeout == 0 {
		opts.StartToCloseTimeout = DefaultStartToCloseTimeout
	}
	switch {
	case opts.HeartbeatTimeout == 0:
		opts.HeartbeatTimeout = DefaultHeartbeatTimeout
	case opts.HeartbeatTimeout < 0:
		opts.HeartbeatTimeout = 0
	}
	if opts.Summary == "" {
		opts.Summary = pool + "." + tool
	}
	return opts
}

// CallTool calls the tool of a pool from a workflow and waits for its result. in is encoded as
// JSON and must encode to an object (its fields are the tool's arguments by name: a struct with
// json tags, a map, or json.RawMessage); the tool's JSON result is decoded into Out. opts, merged
// in order (a later non-zero field wins), override the defaults documented on CallOptions; the
// activity options of ctx are not used.
//
//	type squareArgs struct {
//		X float64 `json:"x"`
//	}
//	sq, err := workflows.CallTool[float64](ctx, "math", "square", squareArgs{X: 12})
//
// The error of a failed call wraps the activity's *temporal.ActivityError, whose cause is an
// *temporal.ApplicationError with the Python exception's type and message (errors.As finds both).
func CallTool[Out, In any](ctx workflow.Context, pool, tool string, in In, opts ...CallOptions) (Out, error) {
	return StartTool[Out](ctx, pool, tool, in, opts...).Get(ctx)
}

// StartTool starts a call like CallTool and returns at once; the future's Get waits for the
// result. Use it to run calls at the same time, or in a workflow.Selector (Future).
func StartTool[Out, In any](ctx workflow.Context, pool, tool string, in In, opts ...CallOptions) *ToolFuture[Out] {
	f := &ToolFuture[Out]{pool: pool, tool: tool}
	args, err := encodeToolInput(in)
	if err != nil {
		future, settable := workflow.NewFuture(ctx)
		settable.SetError(fmt.Errorf("tool %q on pool %q: %w", tool, pool, err))
		f.future = future
		return f
	}
	var merged CallOptions
	for _, o := range opts {
		merged = merged.merge(o)
	}
	actx := workflow.WithActivityOptions(ctx, merged.ActivityOptions(pool, tool))
	f.future = workflow.ExecuteActivity(actx, tool, args)
	return f
}

// ToolFuture is the pending result of StartTool.
type ToolFuture[Out any] struct {
	pool, tool string
	future     workflow.Future
}

// Get waits for the call and returns its result decoded into Out.
func (f *ToolFuture[Out]) Get(ctx workflow.Context) (Out, error) {
	var out Out
	var raw json.RawMessage
	if err := f.future.Get(ctx, &raw); err != nil {
		if temporal.IsCanceledError(err) {
			return out, err
		}
		return out, fmt.Errorf("tool %q on pool %q: %w", f.tool, f.pool, err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("tool %q on pool %q: decode the result %s into %T: %w", f.tool, f.pool, truncate(string(raw), 100), out, err)
	}
	return out, nil
}

// IsReady reports whether Get would return without blocking.
func (f *ToolFuture[Out]) IsReady() bool { return f.future.IsReady() }

// Future is the underlying workflow.Future (its value is the tool's raw JSON result), for
// workflow.Selector.AddFuture.
func (f *ToolFuture[Out]) Future() workflow.Future { return f.future }

// encodeToolInput encodes a tool's input, which must be a JSON object (null is {}).
func encodeToolInput(in any) (json.RawMessage, error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode the input: %w", err)
	}
	trimmed := bytes.TrimSpace(raw)
	if bytes.Equal(trimmed, []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("the input must encode to a JSON object (the tool's arguments by name), not %s", truncate(string(trimmed), 60))
	}
	return raw, nil
}
