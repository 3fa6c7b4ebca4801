package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// FanOutInput is the input of the FanOut workflow, and of the Python SDK worker's workflow of the
// same name (bench/workers/sdk_workflows.py): call Activity once per item, at most Window at a
// time, and return the results in the order of the items.
type FanOutInput struct {
	Activity string  `json:"activity"`
	Items    []int64 `json:"items"`
	Window   int     `json:"window"`
}

// FanOutName is the workflow type of FanOut, in Go and in Python.
const FanOutName = "BenchFanOut"

// FanOut calls an activity once per item through Window lanes: each lane takes the next item as
// soon as its previous call returned (the same sliding window as a Pipeline map's concurrency).
func FanOut(ctx workflow.Context, in FanOutInput) ([]int64, error) {
	if in.Window < 1 || in.Activity == "" {
		return nil, fmt.Errorf("FanOut: activity must be set and window at least 1, got %q and %d", in.Activity, in.Window)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Minute})
	results := make([]int64, len(in.Items))
	next, lanesDone := 0, 0
	lanes := min(in.Window, len(in.Items))
	var firstErr error
	for range lanes {
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { lanesDone++ }()
			for next < len(in.Items) && firstErr == nil {
				i := next
				next++
				if err := workflow.ExecuteActivity(ctx, in.Activity, in.Items[i]).Get(ctx, &results[i]); err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("item %d: %w", i, err)
					}
					return
				}
			}
		})
	}
	if err := workflow.Await(ctx, func() bool { return lanesDone == lanes }); err != nil {
		return nil, err
	}
	return results, firstErr
}

// square is the trivial activity of the fan-out benchmark, the Go twin of bench_tools.square.
func square(_ context.Context, x int64) (int64, error) { return x * x, nil }

// goWorkerCommand runs a plain Go worker with FanOut and square on --task-queue and at most --slots
// activities at once, until it is interrupted. It prints {"ready": true} once it polls.
func goWorkerCommand(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("goworker", flag.ContinueOnError)
	address := flags.String("address", "", "Temporal frontend host:port (required)")
	queue := flags.String("task-queue", "", "task queue of the workflow and its activities (required)")
	slots := flags.Int("slots", 2, "activities run at once")
	if err := flags.Parse(args); err != nil || *address == "" || *queue == "" || *slots < 1 {
		return usageError{"goworker --address HOST:PORT --task-queue Q [--slots N]"}
	}
	c, err := dial(ctx, *address)
	if err != nil {
		return err
	}
	defer c.Close()
	w := worker.New(c, *queue, worker.Options{MaxConcurrentActivityExecutionSize: *slots})
	w.RegisterWorkflowWithOptions(FanOut, workflow.RegisterOptions{Name: FanOutName})
	w.RegisterActivityWithOptions(square, activity.RegisterOptions{Name: "square"})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the Go worker on %q: %w", *queue, err)
	}
	defer w.Stop()
	if err := writeJSON(stdout, map[string]any{"ready": true}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
