package worker

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/pools"
)

// This file is the API for Go programs that embed snakepool pools in their own Temporal workers,
// beside their own workflows and activities (examples/embedding), instead of running Start.

// RegisterOptions configures RegisterPool and NewPoolWorker.
type RegisterOptions struct {
	// Activities configures the pool's activities (payload limit, heartbeat interval); a
	// PoolConfig's ActivityOptions gives the config file's values. Default: the zero
	// activities.Options, i.e. activities' defaults.
	Activities activities.Options
	// CatchUnknownTools also registers the pool's dynamic activity, which fails every activity type
	// that is not one of the pool's tools with a non-retryable ToolNotFound error. Only for a
	// Temporal worker that runs nothing but the pool (NewPoolWorker on the pool's own task queue):
	// a Temporal worker has at most one dynamic activity, and this one would also fail the
	// worker's own activity types that it does not register (during a rolling upgrade, for
	// example, or a typo) instead of leaving them to be retried. Default: false.
	CatchUnknownTools bool
}

// toolsOnly is a Registry that drops the dynamic activity of activities.Register unless asked
// for it, so that a worker's unknown activity types stay its own.
type toolsOnly struct {
	registry     activities.Registry
	catchUnknown bool
}

func (r toolsOnly) RegisterActivityWithOptions(a any, options activity.RegisterOptions) {
	r.registry.RegisterActivityWithOptions(a, options)
}

func (r toolsOnly) RegisterDynamicActivity(a any, options activity.DynamicRegisterOptions) {
	if r.catchUnknown {
		r.registry.RegisterDynamicActivity(a, options)
	}
}

// RegisterPool registers the tools of pool as activities on r, a Temporal worker of the caller's
// (sdkworker.Worker), under the tools' names, as Start does for its pools, and returns their
// names, sorted. Unlike activities.Register it registers no dynamic activity unless
// opts.CatchUnknownTools is set: the worker's own workflows, activities and dynamic activity are
// left alone. Call it before the worker starts. A tool whose name is also the name of one of the
// worker's own activities makes the SDK panic at registration: give such pools their own task
// queue (NewPoolWorker).
//
// On a worker that also runs other activities, the pool's calls share the worker's activity slots
// (sdkworker.Options.MaxConcurrentActivityExecutionSize) and wait in pools.Pool.Call, honouring
// the activity's context, while the pool is full. NewPoolWorker instead gives a pool a Temporal
// worker whose activity slots follow the pool's live capacity.
func RegisterPool(r activities.Registry, pool activities.Pool, opts RegisterOptions) []string {
	return activities.Register(toolsOnly{registry: r, catchUnknown: opts.CatchUnknownTools}, pool, opts.Activities)
}

// NewPoolWorker creates (without starting) a Temporal worker for pool on taskQueue (for a pool
// of PoolConfig pc: pc.TaskQueue, "snakepool.<pool>" by default, where workflows.CallTool sends
// its calls), with the pool's tools registered by RegisterPool and a tuner whose activity slots
// follow the pool's live capacity (NewPoolTuner), so that it polls for a task only when a Python
// process can start it at once. options are the SDK's worker options (interceptors, identity,
// stop timeout, heartbeat throttle...); they must not set Tuner, MaxConcurrentActivityExecutionSize
// or the other MaxConcurrent*ExecutionSize options (the tuner replaces them). The caller may
// register more on it before Start (the SDK polls for workflow tasks only once a workflow is
// registered).
func NewPoolWorker(c client.Client, taskQueue string, pool *pools.Pool, options sdkworker.Options, opts RegisterOptions) (sdkworker.Worker, error) {
	w, _, _, err := newPoolWorker(c, taskQueue, pool, options, opts)
	return w, err
}

// newPoolWorker is NewPoolWorker, also returning the slot supplier and the registered tools.
func newPoolWorker(c client.Client, taskQueue string, pool *pools.Pool, options sdkworker.Options, opts RegisterOptions) (sdkworker.Worker, *PoolSlotSupplier, []string, error) {
	if taskQueue == "" {
		return nil, nil, nil, fmt.Errorf("worker: pool %q: the task queue must not be empty", pool.Name())
	}
	switch {
	case options.Tuner != nil:
		return nil, nil, nil, errors.New("worker: NewPoolWorker sets options.Tuner itself (the pool's live capacity); leave it nil")
	case options.MaxConcurrentActivityExecutionSize != 0, options.MaxConcurrentWorkflowTaskExecutionSize != 0,
		options.MaxConcurrentLocalActivityExecutionSize != 0:
		return nil, nil, nil, errors.New("worker: NewPoolWorker's tuner replaces the MaxConcurrent*ExecutionSize options; leave them 0")
	}
	tuner, slots, err := NewPoolTuner(pool)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("worker: pool %q: %w", pool.Name(), err)
	}
	options.Tuner = tuner
	tw := sdkworker.New(c, taskQueue, options)
	tools := RegisterPool(tw, pool, opts)
	return tw, slots, tools, nil
}
