// Package worker assembles a snakepool worker from a Config: it starts the Python pools, then one
// Temporal worker per pool on the pool's task queue (each tool an activity, at most as many
// activities at once as the pool's capacity) and one Temporal worker that runs the Pipeline
// workflow. cmd/worker is a thin main around Run; tests use Start to run a worker in-process.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/workflows"
)

// ReadyMessage is logged (at Info) once every pool and Temporal worker has started.
const ReadyMessage = "snakepool worker ready"

// Options configures Start beyond the Config.
type Options struct {
	// Logger receives the worker's, the pools' and the Temporal SDK's logs.
	// Default: slog.Default().
	Logger *slog.Logger
	// Client is the Temporal client to use; Start neither dials nor closes it when set.
	// Default: nil (Start dials Config.Temporal.Address and Namespace, and Stop closes the client).
	Client client.Client
}

// PoolInfo describes a running pool.
type PoolInfo struct {
	// Name and TaskQueue are the pool's name and activity task queue.
	Name      string
	TaskQueue string
	// Tools are the names of the tools registered as activities, sorted.
	Tools []string
	// Capacity is how many activities the pool's Temporal worker runs at once.
	Capacity int
	// Interpreter describes the pool's Python interpreter.
	Interpreter pools.InterpreterInfo
}

// Worker is a running snakepool worker.
type Worker struct {
	cfg       Config
	logger    *slog.Logger
	client    client.Client
	ownClient bool
	pools     []*pools.Pool
	infos     []PoolInfo
	workers   []sdkworker.Worker

	stopOnce sync.Once
	stopErr  error
}

// Start starts the pools and the Temporal workers of cfg, and returns once all of them run. On
// error nothing is left running. ctx bounds the start only; call Stop to stop the worker.
func Start(ctx context.Context, cfg Config, opts Options) (*Worker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker: invalid config: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	w := &Worker{cfg: cfg, logger: logger, client: opts.Client}
	if w.client == nil {
		c, err := client.DialContext(ctx, client.Options{
			HostPort:  cfg.Temporal.Address,
			Namespace: cfg.Temporal.Namespace,
			Logger:    sdklog.NewStructuredLogger(logger.With("component", "temporal")),
		})
		if err != nil {
			return nil, fmt.Errorf("worker: connect to Temporal at %s (namespace %q): %w", cfg.Temporal.Address, cfg.Temporal.Namespace, err)
		}
		w.client, w.ownClient = c, true
	}
	if err := w.start(ctx); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return nil, errors.Join(err, w.Stop(stopCtx))
	}
	logger.Info(ReadyMessage,
		"address", cfg.Temporal.Address, "namespace", cfg.Temporal.Namespace,
		"workflow_task_queue", cfg.Temporal.TaskQueue, "pools", len(w.infos))
	return w, nil
}

func (w *Worker) start(ctx context.Context) error {
	started, err := startPools(ctx, w.cfg.Pools, w.logger)
	w.pools = started
	if err != nil {
		return err
	}
	for i, pool := range w.pools {
		pc := w.cfg.Pools[i]
		tw := sdkworker.New(w.client, pc.TaskQueue, sdkworker.Options{
			MaxConcurrentActivityExecutionSize: pool.Capacity(),
			WorkerStopTimeout:                  w.cfg.Temporal.WorkerStopTimeout,
		})
		tools := activities.Register(tw, pool)
		if err := tw.Start(); err != nil {
			return fmt.Errorf("worker: start the Temporal worker of pool %q on task queue %q: %w", pc.Name, pc.TaskQueue, err)
		}
		w.workers = append(w.workers, tw)
		info := PoolInfo{Name: pc.Name, TaskQueue: pc.TaskQueue, Tools: tools, Capacity: pool.Capacity(), Interpreter: pool.Interpreter()}
		w.infos = append(w.infos, info)
		if len(tools) == 0 {
			w.logger.Warn("Pool has no tools", "pool", pc.Name, "adapter", pc.Adapter)
		}
		w.logger.Info("Pool serving", "pool", pc.Name, "task_queue", pc.TaskQueue, "capacity", info.Capacity,
			"tools", tools, "python", info.Interpreter.Version, "gil_enabled", info.Interpreter.GILEnabled)
	}
	ww := sdkworker.New(w.client, w.cfg.Temporal.TaskQueue, sdkworker.Options{
		WorkerStopTimeout: w.cfg.Temporal.WorkerStopTimeout,
	})
	ww.RegisterWorkflowWithOptions(workflows.Pipeline, workflow.RegisterOptions{Name: workflows.PipelineName})
	if err := ww.Start(); err != nil {
		return fmt.Errorf("worker: start the workflow worker on task queue %q: %w", w.cfg.Temporal.TaskQueue, err)
	}
	w.workers = append(w.workers, ww)
	return nil
}

// startPools starts the pools concurrently. It returns the pools that started (in config order,
// nil for the others) and the errors of the others.
func startPools(ctx context.Context, configs []PoolConfig, logger *slog.Logger) ([]*pools.Pool, error) {
	started := make([]*pools.Pool, len(configs))
	errs := make([]error, len(configs))
	var wg sync.WaitGroup
	for i, pc := range configs {
		wg.Go(func() {
			opts := pc.Options()
			opts.Logger = logger // the pool adds pool=<name> itself
			logger.Info("Starting pool", "pool", pc.Name, "profile", pc.Profile, "size", pc.Size,
				"adapter", pc.Adapter, "python", pc.Python)
			p, err := pools.Start(ctx, opts)
			if err != nil {
				if strings.Contains(err.Error(), fmt.Sprintf("pool %q", pc.Name)) {
					errs[i] = fmt.Errorf("worker: %w", err)
				} else {
					errs[i] = fmt.Errorf("worker: pool %q: %w", pc.Name, err)
				}
				return
			}
			started[i] = p
		})
	}
	wg.Wait()
	return started, errors.Join(errs...)
}

// Pools describes the running pools, in config order.
func (w *Worker) Pools() []PoolInfo { return append([]PoolInfo(nil), w.infos...) }

// Client is the worker's Temporal client.
func (w *Worker) Client() client.Client { return w.client }

// Stop stops the Temporal workers (running activities get Config.Temporal.WorkerStopTimeout to
// finish), then the pools (bounded by ctx), then closes the Temporal client if Start dialed it.
// It is safe to call more than once; later calls return the first call's result.
func (w *Worker) Stop(ctx context.Context) error {
	w.stopOnce.Do(func() {
		// Concurrently: each Temporal worker may wait WorkerStopTimeout for its running activities.
		var wg sync.WaitGroup
		for _, tw := range w.workers {
			wg.Go(tw.Stop)
		}
		wg.Wait()
		errs := make([]error, len(w.pools))
		for i, p := range w.pools {
			if p == nil {
				continue
			}
			wg.Go(func() {
				if err := p.Stop(ctx); err != nil {
					errs[i] = fmt.Errorf("worker: stop pool %q: %w", p.Name(), err)
				}
			})
		}
		wg.Wait()
		if w.ownClient {
			w.client.Close()
		}
		w.stopErr = errors.Join(errs...)
		w.logger.Info("snakepool worker stopped")
	})
	return w.stopErr
}

// Run starts the worker, runs it until ctx is done, then stops it within stopTimeout
// (0 means DefaultShutdownTimeout).
func Run(ctx context.Context, cfg Config, opts Options, stopTimeout time.Duration) error {
	w, err := Start(ctx, cfg, opts)
	if err != nil {
		return err
	}
	<-ctx.Done()
	if stopTimeout <= 0 {
		stopTimeout = DefaultShutdownTimeout
	}
	w.logger.Info("Stopping snakepool worker", "reason", context.Cause(ctx))
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	return w.Stop(stopCtx)
}

// DefaultShutdownTimeout bounds Run's Stop by default.
const DefaultShutdownTimeout = time.Minute
