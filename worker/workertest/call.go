package workertest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// CallWorkflowName is the name CallWorkflow is registered under by StartCallWorker.
const CallWorkflowName = "snakepool.workertest.Call"

// Call is the input of CallWorkflow: one tool call with its activity options.
type Call struct {
	// TaskQueue is the pool's task queue, e.g. "snakepool.math". Required.
	TaskQueue string
	// Tool is the tool (activity type). Required.
	Tool string
	// Args is the tool's JSON arguments. Default: none (the tool gets {}).
	Args json.RawMessage
	// StartToCloseTimeout bounds one attempt. Default: 1m.
	StartToCloseTimeout time.Duration
	// HeartbeatTimeout is the activity's heartbeat timeout. Default: none.
	HeartbeatTimeout time.Duration
	// MaximumAttempts bounds the attempts. Default: 0, Temporal's default (unlimited).
	MaximumAttempts int32
	// InitialInterval is the first retry's delay (then doubled). Default: 100ms.
	InitialInterval time.Duration
	// WaitForCancellation makes a cancelled workflow wait for the activity to end before it ends
	// (ActivityOptions.WaitForCancellation). Default: false.
	WaitForCancellation bool
}

// CallWorkflow runs one tool call as an activity and returns its JSON result.
func CallWorkflow(ctx workflow.Context, call Call) (json.RawMessage, error) {
	if call.StartToCloseTimeout == 0 {
		call.StartToCloseTimeout = time.Minute
	}
	if call.InitialInterval == 0 {
		call.InitialInterval = 100 * time.Millisecond
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           call.TaskQueue,
		StartToCloseTimeout: call.StartToCloseTimeout,
		HeartbeatTimeout:    call.HeartbeatTimeout,
		WaitForCancellation: call.WaitForCancellation,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: call.InitialInterval,
			MaximumAttempts: call.MaximumAttempts,
		},
	})
	var args []any // none: the tool gets {}
	if len(call.Args) > 0 {
		args = append(args, call.Args)
	}
	var out json.RawMessage
	err := workflow.ExecuteActivity(ctx, call.Tool, args...).Get(ctx, &out)
	return out, err
}

// StartCallWorker runs a Temporal worker in-process that runs CallWorkflow on a new task queue,
// which it returns. The worker stops when the test ends.
func StartCallWorker(t testing.TB, c client.Client) string {
	t.Helper()
	taskQueue := "workertest-call-" + uuid.NewString()
	w := sdkworker.New(c, taskQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(CallWorkflow, workflow.RegisterOptions{Name: CallWorkflowName})
	if err := w.Start(); err != nil {
		t.Fatalf("workertest: start the CallWorkflow worker: %v", err)
	}
	t.Cleanup(w.Stop)
	return taskQueue
}

// ExecuteCall starts CallWorkflow for call on taskQueue (from StartCallWorker), with a workflow
// execution timeout of 2 minutes. The workflow is terminated when the test ends if it still runs.
func ExecuteCall(t testing.TB, c client.Client, taskQueue string, call Call) client.WorkflowRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       fmt.Sprintf("call-%s-%s", call.Tool, uuid.NewString()),
		TaskQueue:                taskQueue,
		WorkflowExecutionTimeout: 2 * time.Minute,
	}, CallWorkflowName, call)
	if err != nil {
		t.Fatalf("workertest: start CallWorkflow of %s: %v", call.Tool, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "test ended")
	})
	return run
}
