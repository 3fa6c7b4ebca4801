package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
)

// The subtests of TestIntegration that check the activities against real Python pools.

func testJSONPassThrough(t *testing.T, c client.Client, callQueue string) {
	tests := []struct {
		name string
		args string
	}{
		{"integers beyond float64", `{"big": 12345678901234567890, "neg": -9007199254740993}`},
		{"floats", `{"tenth": 0.1, "tiny": 5e-324, "exp": 1.5e300}`},
		{"unicode", `{"text": "héllo ☃ \u2028 \"quoted\" \\\\ back"}`},
		{"nesting, null, booleans", `{"a": {"b": [1, {"c": null}, true, false, []]}, "empty": {}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
				TaskQueue: "snakepool.math", Tool: "echo", Args: json.RawMessage(tt.args), MaximumAttempts: 1,
			})
			var out json.RawMessage
			require.NoError(t, run.Get(ctx, &out))
			// echo returns its keyword arguments: the values Python decoded from the caller's JSON.
			assert.JSONEq(t, tt.args, string(out))
			if strings.Contains(tt.args, "12345678901234567890") {
				assert.Contains(t, string(out), "12345678901234567890", "no float64 rounding")
				assert.Contains(t, string(out), "-9007199254740993", "no float64 rounding")
			}
		})
	}
}

func testNonRetryable(t *testing.T, c client.Client, callQueue string) {
	tests := []struct {
		name        string
		queue, tool string
		args        string
		wantType    string
		wantMessage string
		// wantTraceback: the details are the Python traceback; otherwise there are none.
		wantTraceback bool
	}{
		{"NonRetryableError", "snakepool.math", "fail_permanently", `{"message": "no way"}`, "NonRetryableError", "no way", true},
		{"invalid arguments", "snakepool.math", "square", `{"x": "two"}`, "InvalidArguments", "x", false},
		{"missing argument", "snakepool.math", "square", `{}`, "InvalidArguments", "x", false},
		{"unknown tool", "snakepool.math", "cube", `{"x": 3}`, activities.ErrTypeToolNotFound, `pool "math" has no tool "cube"`, false},
		{
			"payload over the pool's limit", "snakepool.small", "echo", `{"s": "` + strings.Repeat("x", 2000) + `"}`,
			activities.ErrTypePayloadTooLarge, "over the limit of 1024 bytes (0.00 MiB, the pool's max_payload_bytes)", false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
				TaskQueue: tt.queue, Tool: tt.tool, Args: json.RawMessage(tt.args),
				MaximumAttempts: 5, InitialInterval: 100 * time.Millisecond,
			})
			appErr := activityAppError(t, run.Get(ctx, nil))
			assert.Equal(t, tt.wantType, appErr.Type())
			assert.Contains(t, appErr.Message(), tt.wantMessage)
			assert.True(t, appErr.NonRetryable())
			if tt.wantTraceback {
				var traceback string
				require.NoError(t, appErr.Details(&traceback))
				assert.Contains(t, traceback, "Traceback (most recent call last)")
				assert.Contains(t, traceback, tt.wantType+": "+tt.wantMessage)
			} else {
				assert.False(t, appErr.HasDetails())
			}
			attempt, _ := started(ctx, t, c, run)
			assert.Equal(t, int32(1), attempt, "one attempt of the five allowed")
		})
	}
}

func testResume(t *testing.T, c client.Client, callQueue string, w *worker.Worker) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const epochs = 20
	run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
		TaskQueue: "snakepool.ml", Tool: "train", Args: json.RawMessage(`{"epochs": 20, "epoch_seconds": 0.3}`),
		HeartbeatTimeout: 2 * time.Second, StartToCloseTimeout: 2 * time.Minute, MaximumAttempts: 3,
	})

	// The tool's heartbeat details (epoch, accuracy, checkpoint) are the pending activity's.
	var observed struct {
		Epoch      int             `json:"epoch"`
		Accuracy   float64         `json:"accuracy"`
		Checkpoint json.RawMessage `json:"checkpoint"`
	}
	require.Eventually(t, func() bool {
		details := heartbeatJSON(t, pendingActivity(ctx, c, run))
		return details != nil && json.Unmarshal(details, &observed) == nil && observed.Epoch >= 2
	}, time.Minute, 50*time.Millisecond, "DescribeWorkflowExecution shows the running tool's heartbeat details")
	require.Less(t, observed.Epoch, epochs, "the training was still running")
	assert.Contains(t, string(observed.Checkpoint), `"coef"`)
	assert.Positive(t, observed.Accuracy)

	// Kill the Python process that runs it: the attempt fails with a retryable WorkerCrashed, and
	// the retry, on the replacement process, resumes from the last checkpoint.
	pid := onePythonPID(t, "ml")
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		pa := pendingActivity(ctx, c, run)
		return pa != nil && pa.GetAttempt() == 2 &&
			pa.GetLastFailure().GetApplicationFailureInfo().GetType() == activities.ErrTypeWorkerCrashed &&
			!pa.GetLastFailure().GetApplicationFailureInfo().GetNonRetryable()
	}, time.Minute, 50*time.Millisecond, "the first attempt failed with a retryable WorkerCrashed")

	var result struct {
		StartedFromEpoch int     `json:"started_from_epoch"`
		Epochs           int     `json:"epochs"`
		Accuracy         float64 `json:"accuracy"`
	}
	require.NoError(t, run.Get(ctx, &result))
	assert.GreaterOrEqual(t, result.StartedFromEpoch, observed.Epoch, "resumed from the last checkpoint, not epoch 0")
	assert.Less(t, result.StartedFromEpoch, epochs)
	assert.Equal(t, epochs, result.Epochs)
	assert.Greater(t, result.Accuracy, 0.8)
	attempt, identity := started(ctx, t, c, run)
	assert.Equal(t, int32(2), attempt)
	assert.Equal(t, "integration-worker", identity)
	assert.NotEqual(t, pid, onePythonPID(t, "ml"), "the pool replaced the killed process")
	assert.Equal(t, 1, poolStatus(t, w, "ml").Workers)
}

func testCancel(t *testing.T, c client.Client, callQueue string, w *worker.Worker) {
	const grace = time.Second // the cancel pool's cancel_grace; its heartbeat_interval is 500ms
	tests := []struct {
		name             string
		tool             string
		args             string
		heartbeatTimeout time.Duration
		// runFor is how long the tool runs before it is cancelled (at least).
		runFor time.Duration
		// killed: the tool ignores the cancellation, so its process is killed after the grace.
		killed bool
	}{
		{"a cooperative tool stops at once", "compute", `{"x": 600}`, 2 * time.Second, 0, false},
		// 2^61-1 is prime: trial division takes minutes in CPU-bound pure Python that never looks
		// at ctx.cancelled. It runs past its 2s heartbeat timeout first.
		{"a CPU-bound tool that ignores cancellation is killed after the grace", "is_prime", `{"n": 2305843009213693951}`, 2 * time.Second, 3 * time.Second, true},
		// Without a HeartbeatTimeout the SDK would throttle heartbeats to one per 30s; the pool's
		// heartbeat_interval is its throttle interval too, so the cancellation still comes quickly.
		{"without a heartbeat timeout", "compute", `{"x": 600}`, 0, time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			pid := onePythonPID(t, "cancel")
			run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
				TaskQueue: "snakepool.cancel", Tool: tt.tool, Args: json.RawMessage(tt.args),
				HeartbeatTimeout: tt.heartbeatTimeout, MaximumAttempts: 1, WaitForCancellation: true,
			})
			require.Eventually(t, func() bool {
				return activityRunning(ctx, c, run) && poolStatus(t, w, "cancel").InFlight == 1
			}, 30*time.Second, 20*time.Millisecond, "the tool runs in Python")
			// These tools never heartbeat: the worker does, for them, so that the attempt does not
			// time out on its HeartbeatTimeout (checked on the CPU-bound tool, that holds the GIL).
			require.Eventually(t, func() bool {
				pa := pendingActivity(ctx, c, run)
				return pa != nil && pa.GetLastHeartbeatTime() != nil &&
					time.Since(pa.GetLastStartedTime().AsTime()) > tt.runFor
			}, 30*time.Second, 20*time.Millisecond, "the worker heartbeats while the tool runs")
			pa := pendingActivity(ctx, c, run)
			require.NotNil(t, pa)
			assert.Equal(t, int32(1), pa.GetAttempt(), "no heartbeat timeout")
			assert.Equal(t, enumspb.PENDING_ACTIVITY_STATE_STARTED, pa.GetState())

			begin := time.Now()
			require.NoError(t, c.CancelWorkflow(ctx, run.GetID(), run.GetRunID()))
			err := run.Get(ctx, nil)
			took := time.Since(begin)
			require.Error(t, err)
			var canceled *temporal.CanceledError
			assert.True(t, errors.As(err, &canceled), "the workflow ends cancelled: %v", err)
			assert.True(t, hasEvent(ctx, t, c, run, enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED),
				"the activity ended as cancelled (WaitForCancellation waited for it)")
			// Delivery (the next heartbeat's response: within about a second here) + the grace + a
			// margin for a loaded machine; far below the SDK's default 30s heartbeat throttle.
			assert.Less(t, took, grace+10*time.Second)

			if tt.killed {
				assert.GreaterOrEqual(t, took, grace, "the tool had its grace before the kill")
				require.Eventually(t, func() bool {
					pids := pythonPIDs(t, "cancel")
					return len(pids) == 1 && pids[0] != pid
				}, 30*time.Second, 20*time.Millisecond, "the killed process is replaced")
			} else {
				assert.Equal(t, []int{pid}, pythonPIDs(t, "cancel"), "the process that stopped in time lives on")
			}
			// The pool recovers: a call on it succeeds.
			require.Eventually(t, func() bool { return poolStatus(t, w, "cancel").LiveCapacity == 1 },
				30*time.Second, 20*time.Millisecond)
			next := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
				TaskQueue: "snakepool.cancel", Tool: "square", Args: json.RawMessage(`{"x": 3}`), MaximumAttempts: 1,
			})
			var out float64
			require.NoError(t, next.Get(ctx, &out))
			assert.InDelta(t, 9.0, out, 1e-9)
		})
	}
}

func testMetrics(t *testing.T, metrics *worker.PrometheusMetrics) {
	// Every metric of the pools (after the crash and the cancel kill above), and the SDK's.
	want := []string{
		`snakepool_pool_capacity{pool="math"} 2`,
		`snakepool_pool_capacity{pool="io"} 3`,
		`snakepool_pool_available{pool="math"} 2`,
		`snakepool_pool_in_flight{pool="math"} 0`,
		`snakepool_pool_utilisation{pool="math"} 0`,
		`snakepool_pool_workers{pool="math"} 2`,
		`snakepool_pool_slot_wait_seconds_count{pool="math"}`,
		`snakepool_pool_call_latency_seconds_count{pool="math"}`,
		`snakepool_pool_worker_restarts_total{pool="ml",reason="crash"} 1`,
		`snakepool_pool_worker_restarts_total{pool="cancel",reason="cancel_timeout"} 1`,
		`snakepool_pool_missed_health_checks_total{pool="math"} 0`,
		`snakepool_pool_worker_memory_bytes{pool="math",slot="0"}`,
		`temporal_activity_execution_latency_seconds_count{activity_type="square"`,
		`temporal_activity_execution_failed_total{activity_type="train"`,
		`temporal_worker_task_slots_available{`,
		`temporal_request_total{`,
	}
	var body string
	missing := want
	require.Eventually(t, func() bool {
		rec := httptest.NewRecorder()
		metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		data, _ := io.ReadAll(rec.Result().Body)
		body = string(data)
		missing = nil
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = append(missing, w)
			}
		}
		return len(missing) == 0
	}, 15*time.Second, 100*time.Millisecond, "metrics missing: %v", &missing)
}

// testSlots shows that a snakepool worker whose pool has no live capacity (its only Python process
// was killed and is not restarted yet) does not poll its task queue, so another worker of the same
// task queue runs all the tasks, instead of some waiting in the short pool.
func testSlots(t *testing.T, srv *workertest.DevServer, c client.Client, callQueue, python string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const shared = "snakepool.shared"
	short := workertest.StartWorker(t, worker.Config{
		Temporal: worker.TemporalConfig{Address: srv.Address, TaskQueue: "slots-short", Identity: "short-worker", WorkerStopTimeout: time.Second},
		Pools: []worker.PoolConfig{{
			Name: "short", Size: 1, Adapter: showcase, Python: python, TaskQueue: shared,
			// Its process, once killed, is replaced only in 10 minutes.
			RestartBackoff: 10 * time.Minute, MaxRestartBackoff: 10 * time.Minute,
		}},
	})

	// A call on the short worker (the only worker of the queue yet); its process is killed.
	first := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
		TaskQueue: shared, Tool: "wait_for_cancel", MaximumAttempts: 1, HeartbeatTimeout: 10 * time.Second,
	})
	require.Eventually(t, func() bool { return poolStatus(t, short, "short").InFlight == 1 },
		30*time.Second, 20*time.Millisecond, "the call runs in the short pool")
	require.NoError(t, syscall.Kill(onePythonPID(t, "short"), syscall.SIGKILL))
	appErr := activityAppError(t, first.Get(ctx, nil))
	assert.Equal(t, activities.ErrTypeWorkerCrashed, appErr.Type())
	assert.False(t, appErr.NonRetryable(), "a crashed worker is retryable")
	require.Eventually(t, func() bool {
		s := poolStatus(t, short, "short")
		return s.LiveCapacity == 0 && s.SlotsIssued == 0 && s.Starting == 1
	}, 30*time.Second, 20*time.Millisecond, "the short pool has no live capacity and no slot issued")

	// A healthy worker joins the task queue; every call goes to it.
	healthy := workertest.StartWorker(t, worker.Config{
		Temporal: worker.TemporalConfig{Address: srv.Address, TaskQueue: "slots-healthy", Identity: "healthy-worker", WorkerStopTimeout: time.Second},
		Pools:    []worker.PoolConfig{{Name: "healthy", Size: 1, Adapter: showcase, Python: python, TaskQueue: shared}},
	})
	const calls = 6
	runs := make([]client.WorkflowRun, calls)
	for i := range runs {
		runs[i] = workertest.ExecuteCall(t, c, callQueue, workertest.Call{
			TaskQueue: shared, Tool: "compute", Args: json.RawMessage(`{"x": 0.1}`), MaximumAttempts: 1,
		})
	}
	var wg sync.WaitGroup
	for _, run := range runs {
		wg.Go(func() {
			// A task taken by the short worker would wait 10 minutes for its process.
			callCtx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			var out float64
			assert.NoError(t, run.Get(callCtx, &out))
			_, identity := started(callCtx, t, c, run)
			assert.Equal(t, "healthy-worker", identity)
		})
	}
	wg.Wait()
	assert.Equal(t, 0, poolStatus(t, short, "short").SlotsIssued, "the short worker never took a slot")
	assert.Equal(t, 1, poolStatus(t, healthy, "healthy").LiveCapacity)
}
