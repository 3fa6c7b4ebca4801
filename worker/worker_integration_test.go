package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
	"github.com/snakepool/snakepool/workflows"
)

const (
	showcase = "snakepool.examples.showcase:ShowcaseAdapter"
	digits   = "snakepool.examples.ml:DigitsAdapter"
)

// TestIntegration runs a real Temporal dev server, a real worker in-process with real Python pools
// of the showcase and ML adapters, and real workflows (Pipeline, and workertest.CallWorkflow for
// one tool call with chosen activity options).
func TestIntegration(t *testing.T) {
	python := testenv.Python(t)
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	c := srv.Client(t)
	callQueue := workertest.StartCallWorker(t, c)
	cfg := worker.Config{
		Temporal: worker.TemporalConfig{Address: srv.Address, WorkerStopTimeout: 2 * time.Second, Identity: "integration-worker"},
		Pools: []worker.PoolConfig{
			{Name: "math", Size: 2, Adapter: showcase, Python: python},
			{Name: "io", Profile: "thread", Size: 1, ThreadsPerWorker: 3, Adapter: showcase, Python: python},
			{Name: "ml", Size: 1, Adapter: digits, Python: python},
			{Name: "cancel", Size: 1, Adapter: showcase, Python: python, CancelGrace: time.Second, HeartbeatInterval: 500 * time.Millisecond},
			{Name: "small", Size: 1, Adapter: showcase, Python: python, MaxPayloadBytes: 1024},
		},
	}
	metrics := worker.NewPrometheusMetrics(quietLogger())
	t.Cleanup(func() { _ = metrics.Close() })
	w := workertest.StartWorkerWithOptions(t, cfg, worker.Options{Metrics: metrics.Scope()})

	t.Run("pools are registered with their capacity", func(t *testing.T) {
		infos := w.Pools()
		require.Len(t, infos, 5)
		assert.Equal(t, "math", infos[0].Name)
		assert.Equal(t, "snakepool.math", infos[0].TaskQueue)
		assert.Equal(t, 2, infos[0].Capacity)
		assert.Subset(t, infos[0].Tools, []string{"square", "is_prime", "compute", "fail", "noop"})
		assert.Equal(t, "snakepool.io", infos[1].TaskQueue)
		assert.Equal(t, 3, infos[1].Capacity)
	})

	t.Run("pipeline returns each step's value", func(t *testing.T) {
		result, err := runPipeline(t, c, `{"steps": [
			{"name": "sq", "pool": "math", "tool": "square", "args": {"x": 12}},
			{"pool": "math", "tool": "is_prime", "args": {"n": 7919}},
			{"pool": "math", "tool": "is_prime", "args": {"n": 7917}},
			{"pool": "io", "tool": "compute", "args": {"x": 0.1}}
		]}`)
		require.NoError(t, err)
		require.Len(t, result.Results, 4)
		assert.Equal(t, "sq", result.Results[0].Name)
		assert.JSONEq(t, `144`, string(result.Results[0].Result))
		assert.JSONEq(t, `true`, string(result.Results[1].Result))
		assert.JSONEq(t, `false`, string(result.Results[2].Result))
		var computed float64
		require.NoError(t, json.Unmarshal(result.Results[3].Result, &computed))
		assert.InDelta(t, 0.01, computed, 1e-9)
	})

	t.Run("heartbeats reach Temporal", func(t *testing.T) {
		// 2s of work with a 1s heartbeat timeout: it only succeeds if the tool's heartbeats are relayed.
		result, err := runPipeline(t, c, `{"steps": [{"pool": "math", "tool": "progress", "args": {"steps": 4, "interval": 0.5},
			"heartbeat_timeout": "1s", "retry": {"maximum_attempts": 1}}]}`)
		require.NoError(t, err)
		require.Len(t, result.Results, 1)
		assert.JSONEq(t, `4`, string(result.Results[0].Result))
	})

	t.Run("a tool that does not exist fails at once naming the tool", func(t *testing.T) {
		_, err := runPipeline(t, c, `{"steps": [{"pool": "math", "tool": "cube", "args": {"x": 3}}]}`)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `no tool "cube"`)
		stepErr := outerAppError(t, err)
		assert.Equal(t, workflows.ErrTypeStepFailed, stepErr.Type())
		assert.Contains(t, stepErr.Message(), `step #0 cube (tool "cube" on pool "math") failed: ToolNotFound: pool "math" has no tool "cube"`)
		cause := innerAppError(t, err)
		assert.Equal(t, activities.ErrTypeToolNotFound, cause.Type())
		assert.True(t, cause.NonRetryable())
	})

	t.Run("a python exception gives its type, message and traceback", func(t *testing.T) {
		start := time.Now()
		run, err := startPipeline(t, c, `{"steps": [
			{"pool": "math", "tool": "square", "args": {"x": 2}},
			{"name": "explode", "pool": "math", "tool": "fail", "args": {"message": "boom"},
			 "retry": {"maximum_attempts": 2, "initial_interval": "100ms"}}
		]}`)
		require.NoError(t, err)
		err = run.Get(context.Background(), nil)
		require.Error(t, err)
		stepErr := outerAppError(t, err)
		assert.Equal(t, `step explode (tool "fail" on pool "math") failed: ValueError: boom`, stepErr.Message())
		pyErr := innerAppError(t, err)
		assert.Equal(t, "ValueError", pyErr.Type())
		assert.Equal(t, "boom", pyErr.Message())
		var traceback string
		require.NoError(t, pyErr.Details(&traceback))
		assert.Contains(t, traceback, "Traceback")
		assert.Contains(t, traceback, "ValueError: boom")
		assert.Equal(t, int32(2), lastAttempt(t, c, run, "fail"), "ValueError is retried up to maximum_attempts")
		assert.Less(t, time.Since(start), 30*time.Second)
	})

	t.Run("invalid spec fails the workflow naming the field", func(t *testing.T) {
		spec := workflows.PipelineSpec{Steps: []workflows.Step{{Name: "first", Pool: "math"}}}
		run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue},
			workflows.PipelineName, spec)
		require.NoError(t, err)
		err = run.Get(context.Background(), nil)
		appErr := outerAppError(t, err)
		assert.Equal(t, workflows.ErrTypeInvalidPipeline, appErr.Type())
		assert.Equal(t, `invalid pipeline: step 0 ("first"): steps[0].tool: required`, appErr.Message())
	})

	t.Run("JSON arguments reach Python unchanged", func(t *testing.T) {
		testJSONPassThrough(t, c, callQueue)
	})
	t.Run("non-retryable errors fail the workflow after one attempt", func(t *testing.T) {
		testNonRetryable(t, c, callQueue)
	})
	t.Run("heartbeat details are visible, and a killed worker's retry resumes from them", func(t *testing.T) {
		testResume(t, c, callQueue, w)
	})
	t.Run("cancelling a workflow stops the tool", func(t *testing.T) {
		testCancel(t, c, callQueue, w)
	})
	t.Run("the SDK's and the pools' metrics reach the scope", func(t *testing.T) {
		testMetrics(t, metrics)
	})
	t.Run("a pool short of workers leaves its tasks to the other workers", func(t *testing.T) {
		testSlots(t, srv, c, callQueue, python)
	})

	t.Run("stop cancels running activities after the stop timeout", func(t *testing.T) {
		stopCfg := worker.Config{
			Temporal: worker.TemporalConfig{Address: srv.Address, TaskQueue: "snakepool-stop", WorkerStopTimeout: time.Second},
			Pools:    []worker.PoolConfig{{Name: "stopper", Size: 1, Adapter: showcase, Python: python}},
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sw := workertest.StartWorker(t, stopCfg) // logs the worker's logs if the test fails
		spec, err := workflows.ParseSpec([]byte(`{"steps":[{"pool":"stopper","tool":"compute","args":{"x":60}}]}`))
		require.NoError(t, err)
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "snakepool-stop"}, workflows.PipelineName, spec)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "test done") })
		require.Eventually(t, func() bool {
			desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
			return err == nil && len(desc.GetPendingActivities()) == 1 &&
				desc.GetPendingActivities()[0].GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED
		}, 20*time.Second, 50*time.Millisecond, "the compute activity did not start")

		start := time.Now()
		require.NoError(t, sw.Stop(ctx))
		took := time.Since(start)
		assert.GreaterOrEqual(t, took, 900*time.Millisecond, "Stop lets running activities finish for worker_stop_timeout")
		assert.Less(t, took, 10*time.Second, "Stop waits the 1s stop timeout, then cancels the 60s call")
	})

	t.Run("a missing adapter module fails the start naming the module", func(t *testing.T) {
		bad := worker.Config{
			Temporal: worker.TemporalConfig{Address: srv.Address, TaskQueue: "snakepool-bad"},
			Pools:    []worker.PoolConfig{{Name: "broken", Size: 1, Adapter: "no_such_module_xyz:Adapter", Python: python}},
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		w, err := worker.Start(ctx, bad, worker.Options{Logger: quietLogger()})
		if w != nil {
			_ = w.Stop(ctx)
		}
		require.Error(t, err)
		assert.Contains(t, err.Error(), `pool "broken"`)
		assert.Contains(t, err.Error(), "ModuleNotFoundError")
		assert.Contains(t, err.Error(), "no_such_module_xyz")
	})
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startPipeline(t *testing.T, c client.Client, spec string) (client.WorkflowRun, error) {
	t.Helper()
	parsed, err := workflows.ParseSpec([]byte(spec))
	require.NoError(t, err)
	return c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		TaskQueue:                workflows.TaskQueue,
		WorkflowExecutionTimeout: time.Minute,
	}, workflows.PipelineName, parsed)
}

func runPipeline(t *testing.T, c client.Client, spec string) (workflows.PipelineResult, error) {
	t.Helper()
	run, err := startPipeline(t, c, spec)
	require.NoError(t, err)
	var result workflows.PipelineResult
	err = run.Get(context.Background(), &result)
	return result, err
}

func outerAppError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	return appErr
}

func innerAppError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var inner *temporal.ApplicationError
	for e := err; e != nil; e = errors.Unwrap(e) {
		if app, ok := e.(*temporal.ApplicationError); ok {
			inner = app
		}
	}
	require.NotNil(t, inner, "no ApplicationError in %v", err)
	return inner
}

// lastAttempt returns the attempt number of the last attempt of the activity of type tool. (A
// retried activity has one started event in the history, recorded with its last attempt.)
func lastAttempt(t *testing.T, c client.Client, run client.WorkflowRun, tool string) int32 {
	t.Helper()
	iter := c.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	scheduled := map[int64]string{}
	var attempt int32
	for iter.HasNext() {
		event, err := iter.Next()
		require.NoError(t, err)
		switch event.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			scheduled[event.GetEventId()] = event.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			attrs := event.GetActivityTaskStartedEventAttributes()
			if scheduled[attrs.GetScheduledEventId()] == tool {
				attempt = attrs.GetAttempt()
			}
		}
	}
	return attempt
}
