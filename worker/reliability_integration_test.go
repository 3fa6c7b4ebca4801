package worker_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
)

// reliabilityAdapter is pools/testdata/reliability_adapter.py.
const reliabilityAdapter = "reliability_adapter:ReliabilityAdapter"

// TestReliability runs a real dev server and a worker whose pools run tools that crash on a
// poison input, get stuck without heartbeats, or send oversized heartbeats.
func TestReliability(t *testing.T) {
	python := testenv.Python(t)
	testdata, err := filepath.Abs("../pools/testdata")
	require.NoError(t, err)
	env := map[string]string{"PYTHONPATH": testdata}
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	c := srv.Client(t)
	callQueue := workertest.StartCallWorker(t, c)
	cfg := worker.Config{
		Temporal: worker.TemporalConfig{Address: srv.Address, WorkerStopTimeout: 2 * time.Second},
		Pools: []worker.PoolConfig{
			// Two crashes within the window mark the pool degraded while it is short of workers.
			{Name: "poison", Size: 2, Adapter: reliabilityAdapter, Python: python, Env: env,
				CrashLoopThreshold: 2, RestartBackoff: 50 * time.Millisecond},
			{Name: "stuck", Size: 1, Adapter: reliabilityAdapter, Python: python, Env: env,
				ProgressTimeout: time.Second, CancelGrace: 2 * time.Second,
				Tools: map[string]worker.ToolConfig{"pid": {ProgressTimeout: -1}}},
			{Name: "small", Size: 1, Adapter: reliabilityAdapter, Python: python, Env: env, MaxPayloadBytes: 1024},
		},
	}
	w := workertest.StartWorker(t, cfg)

	t.Run("a poison input fails after 3 crashed attempts, and the pool is ready again", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// Unlimited attempts (Temporal's default retry policy).
		run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
			TaskQueue: "snakepool.poison", Tool: "crash_on", Args: json.RawMessage(`{"x": 13, "poison": 13}`),
			InitialInterval: 100 * time.Millisecond,
		})
		appErr := activityAppError(t, run.Get(ctx, nil))
		assert.Equal(t, activities.ErrTypeWorkerCrashed, appErr.Type())
		assert.True(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Message(), `pool "poison" tool "crash_on": the python worker crashed in 3 attempts of this activity `+
			`(the last: signal segmentation fault (SIGSEGV)); not retrying, as the pool's max_crashed_attempts is 3`)
		attempt, _ := started(ctx, t, c, run)
		assert.Equal(t, int32(3), attempt, "three attempts, then no more")

		require.Eventually(t, func() bool {
			s := poolStatus(t, w, "poison")
			return s.Workers == 2 && s.Healthy && !s.Degraded
		}, time.Minute, 20*time.Millisecond, "the pool back at full size is healthy")
		h := w.Health()
		assert.True(t, h.Ready, "the worker is ready: %+v", h)
		assert.True(t, h.Live)
		assert.Contains(t, poolStatus(t, w, "poison").LastError, "segmentation fault", "the last crash is still reported")

		run = workertest.ExecuteCall(t, c, callQueue, workertest.Call{
			TaskQueue: "snakepool.poison", Tool: "crash_on", Args: json.RawMessage(`{"x": 21, "poison": 13}`), MaximumAttempts: 1,
		})
		var out int
		require.NoError(t, run.Get(ctx, &out), "other inputs still run")
		assert.Equal(t, 42, out)
	})

	t.Run("a stuck tool fails its attempts with ProgressTimeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		pid := onePythonPID(t, "stuck")
		begin := time.Now()
		run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
			TaskQueue: "snakepool.stuck", Tool: "stuck", Args: json.RawMessage(`{"seconds": 60, "beats": 1}`),
			MaximumAttempts: 2, StartToCloseTimeout: 30 * time.Second,
		})
		appErr := activityAppError(t, run.Get(ctx, nil))
		assert.Equal(t, activities.ErrTypeProgressTimeout, appErr.Type())
		assert.False(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Message(), `pool "stuck" tool "stuck": no heartbeat from the tool for 1s`)
		attempt, _ := started(ctx, t, c, run)
		assert.Equal(t, int32(2), attempt, "retried")
		assert.Less(t, time.Since(begin), 20*time.Second, "well before start_to_close_timeout")
		assert.Equal(t, pid, onePythonPID(t, "stuck"), "the tool stopped when cancelled: its process lives on")

		// A tool whose progress timeout is turned off is not cut short.
		run = workertest.ExecuteCall(t, c, callQueue, workertest.Call{TaskQueue: "snakepool.stuck", Tool: "pid", MaximumAttempts: 1})
		var got int
		require.NoError(t, run.Get(ctx, &got))
		assert.Equal(t, pid, got)
	})

	t.Run("heartbeat details over the payload limit fail naming the limit", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
			TaskQueue: "snakepool.small", Tool: "big_heartbeat", Args: json.RawMessage(`{"size": 5000}`), MaximumAttempts: 3,
		})
		appErr := activityAppError(t, run.Get(ctx, nil))
		assert.Equal(t, activities.ErrTypePayloadTooLarge, appErr.Type())
		assert.True(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Message(), `pool "small" tool "big_heartbeat": the heartbeat details are 5011 bytes (0.00 MiB), `+
			`over the limit of 1024 bytes (0.00 MiB, the pool's max_payload_bytes)`)
		attempt, _ := started(ctx, t, c, run)
		assert.Equal(t, int32(1), attempt)
	})

	t.Run("a per-tool setting for a tool the adapter does not have fails the start", func(t *testing.T) {
		bad := worker.Config{
			Temporal: worker.TemporalConfig{Address: srv.Address, TaskQueue: "reliability-bad"},
			Pools: []worker.PoolConfig{{Name: "typo", Size: 1, Adapter: reliabilityAdapter, Python: python, Env: env,
				Tools: map[string]worker.ToolConfig{"stcuk": {ProgressTimeout: time.Minute}}}},
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := worker.Start(ctx, bad, worker.Options{Logger: quietLogger(), Client: c})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `pool "typo": tools.stcuk: the adapter reliability_adapter:ReliabilityAdapter has no such tool (its tools: `)
		assert.Empty(t, pythonPIDs(t, "typo"), "nothing is left running")
	})
}
