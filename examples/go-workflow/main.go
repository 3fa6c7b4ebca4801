// Command go-workflow is a Go Temporal workflow that calls snakepool tools with the typed helpers
// workflows.CallTool and workflows.StartTool (docs/examples.md). With a dev server and the worker of
// examples/snakepool.yaml running (pools "math" and "io"):
//
//	go run ./examples/go-workflow [--address localhost:7233]
//
// it runs a worker for its own workflow on task queue "go-workflow", starts the workflow once,
// prints its result and stops.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/workflows"
)

// TaskQueue is the task queue of this program's workflow (the tools run on the pools' queues).
const TaskQueue = "go-workflow"

// SquareArgs are the arguments of the showcase adapter's square tool.
type SquareArgs struct {
	X float64 `json:"x"`
}

// Summary is the workflow's result.
type Summary struct {
	Squares    []float64 `json:"squares"`
	Sum        float64   `json:"sum"`
	SumIsPrime bool      `json:"sum_is_prime"`
	Slept      float64   `json:"slept"`
}

// SquaresReport squares xs on pool "math" all at once (StartTool), asks whether their sum is
// prime (CallTool with options), and meanwhile runs a slow call on pool "io".
func SquaresReport(ctx workflow.Context, xs []float64) (Summary, error) {
	slow := workflows.StartTool[float64](ctx, "io", "compute", map[string]any{"x": 0.3},
		workflows.CallOptions{StartToCloseTimeout: 30 * time.Second})
	futures := make([]*workflows.ToolFuture[float64], len(xs))
	for i, x := range xs {
		futures[i] = workflows.StartTool[float64](ctx, "math", "square", SquareArgs{X: x})
	}
	var s Summary
	for _, f := range futures {
		sq, err := f.Get(ctx)
		if err != nil {
			return s, err
		}
		s.Squares = append(s.Squares, sq)
		s.Sum += sq
	}
	prime, err := workflows.CallTool[bool](ctx, "math", "is_prime", map[string]any{"n": int(s.Sum)},
		workflows.CallOptions{StartToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	if err != nil {
		return s, err
	}
	s.SumIsPrime = prime
	if s.Slept, err = slow.Get(ctx); err != nil {
		return s, err
	}
	return s, nil
}

func main() {
	address := flag.String("address", "localhost:7233", "Temporal frontend host:port")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *address, []float64{1, 2, 4}); err != nil {
		fmt.Fprintln(os.Stderr, "go-workflow:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, address string, xs []float64) error {
	c, err := client.DialContext(ctx, client.Options{HostPort: address})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", address, err)
	}
	defer c.Close()
	w := sdkworker.New(c, TaskQueue, sdkworker.Options{})
	w.RegisterWorkflow(SquaresReport)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the worker: %w", err)
	}
	defer w.Stop()
	wf, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: TaskQueue}, SquaresReport, xs)
	if err != nil {
		return fmt.Errorf("start SquaresReport: %w", err)
	}
	var s Summary
	if err := wf.Get(ctx, &s); err != nil {
		return fmt.Errorf("SquaresReport failed: %w", err)
	}
	fmt.Fprintf(out, "squares %v, sum %g (prime: %t), io slept and returned %g\n", s.Squares, s.Sum, s.SumIsPrime, s.Slept)
	return nil
}
