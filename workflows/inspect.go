package workflows

import (
	"context"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// InspectActivityName is the local activity with which a Pipeline run asks the worker that runs
// it where its steps' pools are served (contract C6) and what the namespace offers. Register it
// with Register (the snakepool worker does).
const InspectActivityName = "snakepool.pipeline.inspect"

// Inspector answers InspectActivityName from the worker's own knowledge and the Temporal service.
type Inspector struct {
	// Client is the worker's Temporal client. Required.
	Client client.Client
	// Namespace is the client's namespace. Required.
	Namespace string
	// PoolQueues maps the pools this worker runs to their task queues. Default: none.
	PoolQueues map[string]string
}

// Register registers Pipeline (under PipelineName) and its local activity on a worker.
func Register(w sdkworker.Registry, in *Inspector) {
	w.RegisterWorkflowWithOptions(Pipeline, workflow.RegisterOptions{Name: PipelineName})
	w.RegisterActivityWithOptions(in.Inspect, activity.RegisterOptions{Name: InspectActivityName})
}

// InspectRequest is the input of InspectActivityName.
type InspectRequest struct {
	// Pools are the pools the pipeline's tool and map steps use.
	Pools []PoolRequest `json:"pools"`
	// SearchAttributes are the names of the search attributes the pipeline sets, when the
	// namespace has them.
	SearchAttributes []string `json:"search_attributes,omitempty"`
}

// PoolRequest is one pool of an InspectRequest.
type PoolRequest struct {
	Pool string `json:"pool"`
	// TaskQueue is the step's own task_queue, empty when it sets none.
	TaskQueue string `json:"task_queue,omitempty"`
	// Check asks whether a worker polls the queue.
	Check bool `json:"check,omitempty"`
}

// InspectResult is the output of InspectActivityName.
type InspectResult struct {
	// Pools answer the requests in order.
	Pools []PoolAnswer `json:"pools"`
	// SearchAttributes are the requested search attributes that the namespace has.
	SearchAttributes []string `json:"search_attributes,omitempty"`
	// LocalPools are the pools of the worker that answered, sorted (named in NoWorker errors).
	LocalPools []string `json:"local_pools,omitempty"`
}

// PoolAnswer is where a pool is served.
type PoolAnswer struct {
	// TaskQueue is the step's task_queue, else the one the worker's config gives the pool, else
	// PoolTaskQueue(pool).
	TaskQueue string `json:"task_queue"`
	// Unserved is true when the check was asked for and the service knows no poller of the
	// queue's activities (it remembers pollers for a few minutes).
	Unserved bool `json:"unserved,omitempty"`
}

// Inspect answers an InspectRequest. A pool this worker runs on the requested queue is served
// without asking the service; for others it asks DescribeTaskQueue. A service error counts as
// served (the check is a safety net, not a gate), and an error listing the search attributes
// as none.
func (in *Inspector) Inspect(ctx context.Context, req InspectRequest) (InspectResult, error) {
	res := InspectResult{Pools: make([]PoolAnswer, len(req.Pools))}
	for name := range in.PoolQueues {
		res.LocalPools = append(res.LocalPools, name)
	}
	slices.Sort(res.LocalPools)
	for i, pr := range req.Pools {
		local, known := in.PoolQueues[pr.Pool]
		queue := pr.TaskQueue
		switch {
		case queue == "" && known:
			queue = local
		case queue == "":
			queue = PoolTaskQueue(pr.Pool)
		}
		res.Pools[i].TaskQueue = queue
		if !pr.Check || (known && queue == local) {
			continue
		}
		desc, err := in.Client.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		if err != nil {
			continue
		}
		res.Pools[i].Unserved = len(desc.GetPollers()) == 0
	}
	if len(req.SearchAttributes) > 0 {
		resp, err := in.Client.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: in.Namespace})
		if err == nil {
			for _, name := range req.SearchAttributes {
				if _, ok := resp.GetCustomAttributes()[name]; ok {
					res.SearchAttributes = append(res.SearchAttributes, name)
				}
			}
		}
	}
	return res, nil
}

// inspectOptions bound the local activity: a worker that cannot answer in time lets the run go on
// without the checks (see runner.inspect).
var inspectOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: 30 * time.Second,
	StartToCloseTimeout:    10 * time.Second,
}

// noWorkerError is the error of a pipeline whose step's pool no worker serves.
func noWorkerError(n *node, queue string, localPools []string) error {
	hint := "this worker runs no pool"
	if len(localPools) > 0 {
		hint = fmt.Sprintf("this worker runs the pools %v", localPools)
	}
	msg := fmt.Sprintf("step %s (tool %q on pool %q): no worker serves pool %q: no worker has polled task queue %q in the last few minutes (%s; is the pool's name right? set the step's task_queue if the pool's workers use another queue, or require_worker false to wait for a worker)",
		n.label(), n.step.Tool, n.step.Pool, n.step.Pool, queue, hint)
	details := StepFailure{Step: n.label(), Path: n.key, Pool: n.step.Pool, Tool: n.step.Tool, ErrorType: ErrTypeNoWorker,
		Message: fmt.Sprintf("no worker serves task queue %q", queue)}
	return temporalNonRetryable(msg, ErrTypeNoWorker, nil, details)
}
