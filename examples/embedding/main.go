// Command embedding is a Go program with its own Temporal worker, workflows and activities that
// also serves the tools of snakepool pools (docs/embedding.md):
//
//   - pool "math" is registered with worker.RegisterPool on the program's own Temporal worker,
//     task queue "my-app", beside its workflow Report, its activity FormatReport and its own
//     dynamic activity (which answers the activity types nobody registered: the pool's catch-all
//     is not registered there);
//   - pool "io" gets a Temporal worker of its own with worker.NewPoolWorker, on "snakepool.io",
//     whose activity slots follow the pool's live capacity;
//   - both workers take the SDK's options, here with an interceptor that counts the activities it
//     sees.
//
// Run it against a dev server (`bin/temporal server start-dev`):
//
//	go run ./examples/embedding              # serve until Ctrl-C
//	go run ./examples/embedding --once       # also run Report once, print its result, and stop
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/workflows"
)

// TaskQueue is the program's own task queue: its workflows, its activities and pool "math".
const TaskQueue = "my-app"

// Report squares xs on pool "math" (on this program's task queue), waits for the thread pool "io"
// (on its own task queue), formats the result with the program's own activity, and calls an
// activity type that nobody registered, which the program's own dynamic activity answers.
func Report(ctx workflow.Context, xs []float64) (string, error) {
	onMyQueue := workflows.CallOptions{TaskQueue: TaskQueue, StartToCloseTimeout: time.Minute}
	var sum float64
	for _, x := range xs {
		sq, err := workflows.CallTool[float64](ctx, "math", "square", map[string]any{"x": x}, onMyQueue)
		if err != nil {
			return "", err
		}
		sum += sq
	}
	// The default task queue of a pool's tools, snakepool.io, served by NewPoolWorker.
	waited, err := workflows.CallTool[float64](ctx, "io", "compute", map[string]any{"x": 0.5})
	if err != nil {
		return "", err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: TaskQueue, StartToCloseTimeout: time.Minute})
	var text string
	if err := workflow.ExecuteActivity(actx, FormatReport, sum, waited).Get(ctx, &text); err != nil {
		return "", err
	}
	var legacy string
	if err := workflow.ExecuteActivity(actx, "LegacyAudit", text).Get(ctx, &legacy); err != nil {
		return "", err
	}
	return text + "; " + legacy, nil
}

// FormatReport is one of the program's own activities.
func FormatReport(_ context.Context, sum, waited float64) (string, error) {
	return fmt.Sprintf("sum of squares %g, io computed %g", sum, waited), nil
}

// Fallback is the program's own dynamic activity: every activity type of "my-app" that is not
// registered. (Had the pool's catch-all been registered instead, such calls would fail with a
// non-retryable ToolNotFound.)
func Fallback(ctx context.Context, _ converter.EncodedValues) (string, error) {
	return "handled " + activity.GetInfo(ctx).ActivityType.Name + " by the program's dynamic activity", nil
}

// countingInterceptor counts the activities each worker runs, by type: the SDK's interceptors
// see the pools' tools like any other activity.
type countingInterceptor struct {
	interceptor.WorkerInterceptorBase
	mu     sync.Mutex
	counts map[string]int
}

func (c *countingInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &countingActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, parent: c}
}

type countingActivity struct {
	interceptor.ActivityInboundInterceptorBase
	parent *countingInterceptor
}

func (a *countingActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	a.parent.mu.Lock()
	a.parent.counts[activity.GetInfo(ctx).ActivityType.Name]++
	a.parent.mu.Unlock()
	return a.Next.ExecuteActivity(ctx, in)
}

func (c *countingInterceptor) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, name := range []string{"square", "compute", "FormatReport", "LegacyAudit"} {
		parts = append(parts, fmt.Sprintf("%s=%d", name, c.counts[name]))
	}
	return strings.Join(parts, " ")
}

func main() {
	address := flag.String("address", "localhost:7233", "Temporal frontend host:port")
	config := flag.String("config", defaultConfig(), "the YAML file whose pools to start")
	once := flag.Bool("once", false, "run Report once, print its result and stop")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *address, *config, *once); err != nil {
		fmt.Fprintln(os.Stderr, "embedding:", err)
		os.Exit(1)
	}
}

// defaultConfig is the snakepool.yaml beside this file.
func defaultConfig() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "snakepool.yaml")
}

func run(ctx context.Context, out io.Writer, address, configPath string, once bool) (err error) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := worker.LoadConfig(configPath)
	if err != nil {
		return err
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: address, Logger: sdklog.NewStructuredLogger(logger)})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", address, err)
	}
	defer c.Close()

	// The pools, from the config's pool entries. Each must be stopped: it owns Python processes.
	started := map[string]*pools.Pool{}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, p := range started {
			err = errors.Join(err, p.Stop(stopCtx))
		}
	}()
	activityOpts := map[string]worker.RegisterOptions{}
	for _, pc := range cfg.Pools {
		opts := pc.Options()
		opts.Logger = logger
		p, err := pools.Start(ctx, opts)
		if err != nil {
			return err
		}
		started[pc.Name] = p
		activityOpts[pc.Name] = worker.RegisterOptions{Activities: pc.ActivityOptions()}
	}

	counter := &countingInterceptor{counts: map[string]int{}}
	// The program's own worker: its workflow, its activities, its dynamic activity, and pool "math".
	mine := sdkworker.New(c, TaskQueue, sdkworker.Options{
		Interceptors:      []interceptor.WorkerInterceptor{counter},
		WorkerStopTimeout: 10 * time.Second,
	})
	mine.RegisterWorkflow(Report)
	mine.RegisterActivity(FormatReport)
	mine.RegisterDynamicActivity(Fallback, activity.DynamicRegisterOptions{})
	tools := worker.RegisterPool(mine, started["math"], activityOpts["math"])
	logger.Warn("pool math on the program's worker", "task_queue", TaskQueue, "tools", len(tools))

	// Pool "io" on a Temporal worker of its own, on the pool's task queue.
	ioWorker, err := worker.NewPoolWorker(c, workflows.PoolTaskQueue("io"), started["io"], sdkworker.Options{
		Interceptors:          []interceptor.WorkerInterceptor{counter},
		DisableWorkflowWorker: true,
	}, activityOpts["io"])
	if err != nil {
		return err
	}
	for _, w := range []sdkworker.Worker{mine, ioWorker} {
		if err := w.Start(); err != nil {
			return fmt.Errorf("start a Temporal worker: %w", err)
		}
		defer w.Stop()
	}

	if !once {
		fmt.Fprintln(out, "serving; Ctrl-C stops")
		<-ctx.Done()
		return nil
	}
	wf, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: TaskQueue}, Report, []float64{1, 2, 3})
	if err != nil {
		return fmt.Errorf("start Report: %w", err)
	}
	var result string
	if err := wf.Get(ctx, &result); err != nil {
		return fmt.Errorf("Report failed: %w", err)
	}
	fmt.Fprintln(out, result)
	fmt.Fprintln(out, "activities seen by the interceptor:", counter)
	return nil
}
