// Package worker assembles a snakepool worker from a Config: it starts the Python pools, then one
// Temporal worker per pool on the pool's task queue (each tool an activity; a PoolSlotSupplier
// lets it take only as many activity tasks as the pool can start now) and one Temporal worker that
// runs the Pipeline workflow. It also provides the pieces of cmd/worker's HTTP endpoint
// (PrometheusMetrics, NewHealthHandler). cmd/worker is a thin main around Start and Stop; tests
// use Start (or workertest.StartWorker) to run a worker in-process.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uber-go/tally/v4"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

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
	// Default: nil (Start dials Config.Temporal with its TLS and API key, and Stop closes the
	// client).
	Client client.Client
	// Metrics receives the pools' metrics on its sub-scope PoolMetricsPrefix (e.g.
	// snakepool_pool_capacity) and, when Start dials the client, the Temporal SDK's metrics
	// (temporal_*). NewPrometheusMetrics makes one served in the Prometheus format. Default: nil
	// (no metrics).
	Metrics tally.Scope
}

// PoolInfo describes a running pool.
type PoolInfo struct {
	// Name and TaskQueue are the pool's name and activity task queue.
	Name      string
	TaskQueue string
	// Tools are the names of the tools registered as activities, sorted.
	Tools []string
	// Capacity is how many activities the pool's Temporal worker runs at once with all the pool's
	// Python processes up (fewer while one is being replaced).
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
	slots     []*PoolSlotSupplier
	infos     []PoolInfo
	// activityWorkers are the pools' Temporal workers; workflowWorker runs the Pipeline.
	activityWorkers []sdkworker.Worker
	workflowWorker  sdkworker.Worker

	stopping atomic.Bool
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
		clientOpts, err := cfg.Temporal.ClientOptions()
		if err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
		clientOpts.Logger = sdklog.NewStructuredLogger(logger.With("component", "temporal"))
		if opts.Metrics != nil {
			clientOpts.MetricsHandler = sdktally.NewMetricsHandler(opts.Metrics)
		}
		c, err := client.DialContext(ctx, clientOpts)
		if err != nil {
			return nil, fmt.Errorf("worker: connect to Temporal at %s (namespace %q, tls %t): %w",
				cfg.Temporal.Address, cfg.Temporal.Namespace, clientOpts.ConnectionOptions.TLS != nil || clientOpts.Credentials != nil, err)
		}
		w.client, w.ownClient = c, true
	}
	var poolMetrics tally.Scope
	if opts.Metrics != nil {
		poolMetrics = opts.Metrics.SubScope(PoolMetricsPrefix)
	}
	if err := w.start(ctx, poolMetrics); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return nil, errors.Join(err, w.Stop(stopCtx))
	}
	logger.Info(ReadyMessage,
		"address", cfg.Temporal.Address, "namespace", cfg.Temporal.Namespace,
		"workflow_task_queue", cfg.Temporal.TaskQueue, "pools", len(w.infos))
	return w, nil
}

func (w *Worker) start(ctx context.Context, metrics tally.Scope) error {
	started, err := startPools(ctx, w.cfg.Pools, w.logger, metrics)
	w.pools = started
	if err != nil {
		return err
	}
	for i, pool := range w.pools {
		pc := w.cfg.Pools[i]
		if err := pc.checkTools(pool); err != nil {
			return err
		}
		tw, slots, tools, err := newPoolWorker(w.client, pc.TaskQueue, pool, sdkworker.Options{
			DisableWorkflowWorker:            true, // activities only
			WorkerStopTimeout:                w.cfg.Temporal.WorkerStopTimeout,
			Identity:                         w.cfg.Temporal.Identity,
			DefaultHeartbeatThrottleInterval: pc.HeartbeatInterval,
		}, RegisterOptions{Activities: pc.ActivityOptions(), CatchUnknownTools: true}) // the pool's own task queue
		if err != nil {
			return err
		}
		if err := tw.Start(); err != nil {
			return fmt.Errorf("worker: start the Temporal worker of pool %q on task queue %q: %w", pc.Name, pc.TaskQueue, err)
		}
		w.activityWorkers = append(w.activityWorkers, tw)
		w.slots = append(w.slots, slots)
		info := PoolInfo{Name: pc.Name, TaskQueue: pc.TaskQueue, Tools: tools, Capacity: pool.Capacity(), Interpreter: pool.Interpreter()}
		w.infos = append(w.infos, info)
		if len(tools) == 0 {
			w.logger.Warn("Pool has no tools", "pool", pc.Name, "adapter", pc.Adapter)
		}
		w.logger.Info("Pool serving", "pool", pc.Name, "task_queue", pc.TaskQueue, "capacity", info.Capacity,
			"tools", tools, "python", info.Interpreter.Version, "gil_enabled", info.Interpreter.GILEnabled)
	}
	ww := sdkworker.New(w.client, w.cfg.Temporal.TaskQueue, sdkworker.Options{
		LocalActivityWorkerOnly: true, // workflows only: the activities are on the pools' task queues
		WorkerStopTimeout:       w.cfg.Temporal.WorkerStopTimeout,
		Identity:                w.cfg.Temporal.Identity,
	})
	queues := make(map[string]string, len(w.cfg.Pools))
	for _, pc := range w.cfg.Pools {
		queues[pc.Name] = pc.TaskQueue
	}
	workflows.Register(ww, &workflows.Inspector{Client: w.client, Namespace: w.cfg.Temporal.Namespace, PoolQueues: queues})
	if err := ww.Start(); err != nil {
		return fmt.Errorf("worker: start the workflow worker on task queue %q: %w", w.cfg.Temporal.TaskQueue, err)
	}
	w.workflowWorker = ww
	return nil
}

// startPools starts the pools concurrently. It returns the pools that started (in config order,
// nil for the others) and the errors of the others.
func startPools(ctx context.Context, configs []PoolConfig, logger *slog.Logger, metrics tally.Scope) ([]*pools.Pool, error) {
	started := make([]*pools.Pool, len(configs))
	errs := make([]error, len(configs))
	var wg sync.WaitGroup
	for i, pc := range configs {
		wg.Go(func() {
			opts := pc.Options()
			opts.Logger = logger   // the pool adds pool=<name> itself
			opts.Metrics = metrics // the pool tags its metrics pool=<name> itself
			attrs := []any{"pool", pc.Name, "profile", pc.Profile, "size", pc.Size, "adapter", pc.Adapter, "python", pc.Python}
			if devices, env := slotDevices(opts); len(devices) > 0 {
				attrs = append(attrs, "devices", devices, "device_env", env)
			}
			logger.Info("Starting pool", attrs...)
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

// slotDevices returns the device of each worker slot of a pool and the variable that carries
// it, or nothing when the pool has no devices.
func slotDevices(o pools.Options) ([]string, string) {
	if len(o.Devices) == 0 {
		return nil, ""
	}
	devices := make([]string, o.Size)
	for slot := range devices {
		devices[slot], _ = o.Device(slot)
	}
	return devices, cmp.Or(o.DeviceEnv, pools.DefaultDeviceEnv)
}

// Pools describes the running pools, in config order.
func (w *Worker) Pools() []PoolInfo { return append([]PoolInfo(nil), w.infos...) }

// Client is the worker's Temporal client.
func (w *Worker) Client() client.Client { return w.client }

// Health returns the worker's health, as /healthz shows it.
func (w *Worker) Health() Health {
	state := StateRunning
	if w.stopping.Load() {
		state = StateStopping
	}
	return NewHealth(state, w.Status())
}

// Status describes the state of each pool, in config order.
func (w *Worker) Status() []PoolStatus {
	out := make([]PoolStatus, 0, len(w.infos))
	for i, info := range w.infos {
		pool := w.pools[i]
		h, st := pool.Health(), pool.Stats()
		s := PoolStatus{
			Name:         info.Name,
			TaskQueue:    info.TaskQueue,
			Healthy:      !h.Degraded && !h.Closed,
			Degraded:     h.Degraded,
			Closed:       h.Closed,
			Workers:      h.Workers,
			Size:         h.Size,
			Starting:     h.Starting,
			Capacity:     st.Capacity,
			LiveCapacity: LiveCapacity(st),
			InFlight:     st.InFlight,
			Available:    st.Available,
			SlotsIssued:  w.slots[i].Issued(),
		}
		if h.LastError != nil {
			s.LastError = h.LastError.Error()
		}
		s.Devices, s.DeviceEnv = slotDevices(w.cfg.Pools[i].Options())
		out = append(out, s)
	}
	return out
}

// Stop stops the worker gracefully: the pools' Temporal workers stop polling and their running
// activities get Config.Temporal.WorkerStopTimeout to finish (then their contexts are cancelled),
// then the workflow worker stops, then the pools (bounded by ctx), then the Temporal client is
// closed if Start dialed it. It is safe to call more than once; later calls return the first
// call's result.
func (w *Worker) Stop(ctx context.Context) error {
	w.stopOnce.Do(func() {
		w.stopping.Store(true)
		// Concurrently: each Temporal worker may wait WorkerStopTimeout for its running activities.
		// The workflow worker stops last, so that it can still take the workflow tasks of the
		// activities that finish meanwhile.
		var wg sync.WaitGroup
		for _, tw := range w.activityWorkers {
			wg.Go(tw.Stop)
		}
		wg.Wait()
		if w.workflowWorker != nil {
			w.workflowWorker.Stop()
		}
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

// DefaultShutdownTimeout is cmd/worker's default bound on Stop after a signal.
const DefaultShutdownTimeout = time.Minute
