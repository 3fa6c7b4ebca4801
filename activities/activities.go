// Package activities turns the tools of a snakepool pool into Temporal activities.
//
// Each tool becomes one activity named after the tool, whose function takes and returns raw JSON,
// so a caller's arguments reach Python untouched:
//
//	func(ctx context.Context, args json.RawMessage) (json.RawMessage, error)
//
// The argument is a JSON object of the tool's arguments by name; an activity called without an
// argument, or with null, runs the tool without arguments.
//
// While the tool runs, the activity relays the tool's heartbeats (ctx.heartbeat(details, progress)
// in Python) to Temporal with activity.RecordHeartbeat, and also heartbeats by itself (see
// Options.HeartbeatInterval), re-sending the latest details: that is how Temporal's cancellations
// reach the tool, and how a worker that died is detected through the activity's HeartbeatTimeout.
// On a retry it passes the last heartbeat details of the previous attempt to the tool as
// ctx.resume. It maps Python errors to Temporal ApplicationErrors (see Error), and refuses
// arguments, results and heartbeat details larger than Options.MaxPayloadBytes. An activity whose
// attempts keep crashing their Python worker (a poison input) fails without retrying after
// Options.MaxCrashedAttempts; a tool that stops heartbeating for Options.ProgressTimeout (alive but
// stuck) has its attempt failed and its call cancelled. A dynamic activity answers calls of
// tools the pool does not have with a non-retryable ToolNotFound error that names the tool,
// instead of Temporal's generic retryable "unable to find activityType".
package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/pools"
)

// Runner runs tool calls; *pools.Pool implements it.
type Runner interface {
	Call(ctx context.Context, call pools.Call) (json.RawMessage, error)
}

// Pool is what Register needs of a pool; *pools.Pool implements it.
type Pool interface {
	Runner
	BatchRunner
	// Name names the pool in errors.
	Name() string
	// Tools lists the tools to register.
	Tools() []pools.ToolSpec
}

// Registry is where activities are registered; worker.Worker implements it.
type Registry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
	RegisterDynamicActivity(a any, options activity.DynamicRegisterOptions)
}

// Func is the signature of a tool's activity.
type Func = func(ctx context.Context, args json.RawMessage) (json.RawMessage, error)

// Defaults of Options.
const (
	// DefaultMaxPayloadBytes is Temporal's default limit of one payload (the server rejects larger
	// blobs): 2 MiB.
	DefaultMaxPayloadBytes = 2 << 20
	// DefaultHeartbeatInterval is the longest pause between two heartbeats of a running tool.
	DefaultHeartbeatInterval = 10 * time.Second
	// minHeartbeatInterval bounds the automatic heartbeat's period from below.
	minHeartbeatInterval = 10 * time.Millisecond
	// DefaultMaxCrashedAttempts is how many attempts of one activity may crash their Python worker
	// before it fails without retrying.
	DefaultMaxCrashedAttempts = 3
)

// Options configures the activities of a pool. A zero field takes the default its comment names.
type Options struct {
	// MaxPayloadBytes is the largest JSON argument object and the largest JSON result, in bytes,
	// of one call. Arguments over it are not sent to Python, and a result over it is not sent to
	// Temporal: the activity fails with a non-retryable PayloadTooLarge error that names the size
	// and the limit. Default: DefaultMaxPayloadBytes (2 MiB). Negative: no limit.
	MaxPayloadBytes int
	// HeartbeatInterval is the longest pause between two heartbeats of a running tool: while the
	// Python call runs, the activity heartbeats by itself every HeartbeatInterval, or every third of
	// the activity's HeartbeatTimeout when that is shorter, re-sending the tool's latest details.
	// (The Temporal SDK then throttles what reaches the server.) Default: DefaultHeartbeatInterval
	// (10s).
	HeartbeatInterval time.Duration
	// MaxCrashedAttempts is how many attempts of one activity may end with a crash of their
	// Python worker (a segfault, the OOM killer, os._exit, missed health checks): the attempt that
	// reaches it fails with a non-retryable WorkerCrashed error naming the signal or exit code and
	// the count, whatever the retry policy says, so that a poison input does not crash workers
	// without end. The count travels in the heartbeat details, so it holds across machines.
	// Default: DefaultMaxCrashedAttempts (3). Negative: no limit.
	MaxCrashedAttempts int
	// ProgressTimeout fails an attempt whose tool has not called ctx.heartbeat for this long since
	// the call started or its last heartbeat (the automatic heartbeats do not count): its call is
	// cancelled in Python (with the pool's cancel grace) and the attempt fails with a retryable
	// ProgressTimeout error naming the tool and the timeout. It catches a tool that is alive but
	// stuck, which the activity's HeartbeatTimeout does not, since the worker heartbeats by itself.
	// Default: 0, off.
	ProgressTimeout time.Duration
	// ToolProgressTimeouts overrides ProgressTimeout for the tools it names; a negative value
	// turns it off for that tool. Every name must be a tool of the pool (see CheckOptions).
	// Default: none.
	ToolProgressTimeouts map[string]time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxPayloadBytes == 0 {
		o.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.MaxCrashedAttempts == 0 {
		o.MaxCrashedAttempts = DefaultMaxCrashedAttempts
	}
	return o
}

// progressTimeout is the progress timeout of tool (0: none).
func (o Options) progressTimeout(tool string) time.Duration {
	d := o.ProgressTimeout
	if t, ok := o.ToolProgressTimeouts[tool]; ok {
		d = t
	}
	return max(d, 0)
}

// CheckOptions reports options that do not fit pool: a per-tool setting that names a tool the
// pool does not have.
func CheckOptions(pool Pool, opts Options) error {
	have := map[string]bool{}
	names := make([]string, 0, len(pool.Tools()))
	for _, t := range pool.Tools() {
		have[t.Name] = true
		names = append(names, t.Name)
	}
	slices.Sort(names)
	var unknown []string
	for name := range opts.ToolProgressTimeouts {
		if !have[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("pool %q: tools.%s: no such tool (its tools: %s)", pool.Name(), strings.Join(unknown, ", tools."), strings.Join(names, ", "))
	}
	return nil
}

// Register registers one activity per tool of pool under the tool's name, the batch activity
// (BatchActivityName) that runs any of them over a list of items, and a dynamic activity that
// fails calls of any other name with a non-retryable ToolNotFound error listing the pool's tools.
// It returns the names of the registered tools, sorted.
func Register(r Registry, pool Pool, opts Options) []string {
	names := make([]string, 0, len(pool.Tools()))
	for _, tool := range pool.Tools() {
		r.RegisterActivityWithOptions(Tool(pool, pool.Name(), tool.Name, opts), activity.RegisterOptions{Name: tool.Name})
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	r.RegisterActivityWithOptions(Batch(pool, pool.Name(), names, opts), activity.RegisterOptions{Name: BatchActivityName})
	r.RegisterDynamicActivity(unknownTool(pool.Name(), names), activity.DynamicRegisterOptions{})
	return names
}

// Tool returns the activity that runs tool on runner; pool names the pool in errors.
func Tool(runner Runner, pool, tool string, opts Options) Func {
	opts = opts.withDefaults()
	progressTimeout := opts.progressTimeout(tool)
	return func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
		if bytes.Equal(bytes.TrimSpace(args), []byte("null")) {
			args = nil // a null argument is no arguments, as a call without one
		}
		if err := checkSize(pool, tool, "the arguments are", len(args), opts.MaxPayloadBytes); err != nil {
			return nil, err
		}
		info := activity.GetInfo(ctx)
		prev := previousHeartbeat(ctx)
		hb := startHeartbeats(ctx, heartbeatInterval(info.HeartbeatTimeout, opts.HeartbeatInterval), prev,
			func(values ...any) { activity.RecordHeartbeat(ctx, values...) })
		guard := newCallGuard(ctx, pool, tool, progressTimeout, opts.MaxPayloadBytes)
		defer guard.stop()
		call := pools.Call{
			Tool: tool,
			Args: args,
			Info: callInfo(info),
			OnHeartbeat: func(b pools.Heartbeat) {
				if guard.heartbeat(b) {
					hb.record(b)
				}
			},
			Resume: prev.resume,
		}
		result, err := runner.Call(guard.ctx, call)
		hb.stop()
		if err != nil {
			if gerr := guard.err(); gerr != nil && ctx.Err() == nil {
				return nil, gerr
			}
			var crashed *pools.WorkerCrashedError
			if errors.As(err, &crashed) && ctx.Err() == nil {
				book := hb.recordCrash(crashDescription(crashed))
				return nil, crashedError(pool, tool, crashed, book, opts.MaxCrashedAttempts)
			}
			return nil, Error(ctx, pool, tool, err)
		}
		if err := checkSize(pool, tool, "the result is", len(result), opts.MaxPayloadBytes); err != nil {
			return nil, err
		}
		return result, nil
	}
}

// callInfo tells the tool where its call comes from.
func callInfo(info activity.Info) pools.CallInfo {
	return pools.CallInfo{
		WorkflowID:   info.WorkflowExecution.ID,
		RunID:        info.WorkflowExecution.RunID,
		ActivityID:   info.ActivityID,
		ActivityType: info.ActivityType.Name,
		Attempt:      info.Attempt,
		TaskQueue:    info.TaskQueue,
		Namespace:    info.WorkflowNamespace,
	}
}

// heartbeatInterval is the period of the automatic heartbeat of an activity.
func heartbeatInterval(heartbeatTimeout, interval time.Duration) time.Duration {
	if heartbeatTimeout > 0 {
		interval = min(interval, heartbeatTimeout/3)
	}
	return max(interval, minHeartbeatInterval)
}

// checkSize fails a payload of size bytes over limit (negative: no limit); what is its subject
// and verb, e.g. "the result is".
func checkSize(pool, tool, what string, size, limit int) error {
	if limit < 0 || size <= limit {
		return nil
	}
	msg := fmt.Sprintf("pool %q tool %q: %s %d bytes (%s), over the limit of %d bytes (%s, the pool's max_payload_bytes)",
		pool, tool, what, size, mib(size), limit, mib(limit))
	return temporal.NewNonRetryableApplicationError(msg, ErrTypePayloadTooLarge, nil)
}

func mib(n int) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// unknownTool is the dynamic activity of a pool: every activity type that is not one of its tools.
func unknownTool(pool string, tools []string) func(context.Context, converter.EncodedValues) (json.RawMessage, error) {
	return func(ctx context.Context, _ converter.EncodedValues) (json.RawMessage, error) {
		name := activity.GetInfo(ctx).ActivityType.Name
		msg := fmt.Sprintf("pool %q has no tool %q (its tools: %s)", pool, name, strings.Join(tools, ", "))
		return nil, temporal.NewNonRetryableApplicationError(msg, ErrTypeToolNotFound, nil)
	}
}
