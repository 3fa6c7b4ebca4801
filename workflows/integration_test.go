package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
	"github.com/snakepool/snakepool/workflows"
)

// stack is a dev server and a worker with the pools of examples/snakepool.yaml (math: process x2,
// io: thread 1x4), running the showcase adapter in real Python processes, plus the pool "tests"
// (process x1) with the tools of testdata/pytools on its own task queue (testsQueue), which steps
// reach by the pool's name alone (contract C6).
type stack struct {
	srv    *workertest.DevServer
	client client.Client
}

// testsQueue is the task queue of the pool "tests", not the default "snakepool.tests".
const testsQueue = "pipeline-tests"

func startStack(t *testing.T) stack {
	t.Helper()
	python := testenv.Python(t)
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	cfg, err := worker.LoadConfig(filepath.Join(testenv.RepoRoot(t), "examples", "snakepool.yaml"))
	require.NoError(t, err)
	cfg.Temporal.Address = srv.Address
	cfg.Temporal.WorkerStopTimeout = 2 * time.Second
	cfg.Pools = append(cfg.Pools, worker.PoolConfig{Name: "tests", Size: 1, Adapter: "pipeline_tools:PipelineTools", TaskQueue: testsQueue,
		Dir: filepath.Join(testenv.RepoRoot(t), "workflows", "testdata", "pytools")})
	for i := range cfg.Pools {
		cfg.Pools[i].Python = python
	}
	workertest.StartWorker(t, cfg)
	return stack{srv: srv, client: srv.Client(t)}
}

func (s stack) start(t *testing.T, spec string) client.WorkflowRun {
	t.Helper()
	parsed, err := workflows.ParseSpec([]byte(spec))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		TaskQueue:                workflows.TaskQueue,
		WorkflowExecutionTimeout: 3 * time.Minute,
	}, workflows.PipelineName, parsed)
	require.NoError(t, err)
	return run
}

func wait(t *testing.T, run client.WorkflowRun) (workflows.PipelineResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var result workflows.PipelineResult
	err := run.Get(ctx, &result)
	return result, err
}

func historyLength(t *testing.T, c client.Client, workflowID string) int64 {
	t.Helper()
	desc, err := c.DescribeWorkflowExecution(context.Background(), workflowID, "")
	require.NoError(t, err)
	return desc.GetWorkflowExecutionInfo().GetHistoryLength()
}

// TestPipelineIntegration runs pipelines on a real dev server with real Python pools.
func TestPipelineIntegration(t *testing.T) {
	s := startStack(t)

	t.Run("sequence, parallel and map return the right values", func(t *testing.T) {
		result, err := wait(t, s.start(t, `{"steps": [
			{"name": "numbers", "pool": "io", "tool": "echo", "args": {"values": [1, 2, 3, 4, 5, 6, 7, 8], "label": "n"}},
			{"name": "squares", "pool": "math", "tool": "square",
			 "map": {"over": {"$ref": "steps.numbers.result.values"}, "as": "x", "concurrency": 4}},
			{"name": "checks", "parallel": [
				{"name": "prime", "pool": "math", "tool": "is_prime", "args": {"n": {"$ref": "steps.squares.result.6"}}},
				{"name": "primes", "pool": "math", "tool": "is_prime", "map": {"over": [2, 7919, 7917]}, "args": {"n": {"$ref": "item"}}},
				{"name": "slow", "steps": [
					{"name": "wait", "pool": "io", "tool": "compute", "args": {"x": 0.2}},
					{"name": "summary", "pool": "io", "tool": "echo",
					 "args": {"waited": {"$ref": "steps.wait.result"}, "label": {"$ref": "steps.numbers.result.label"}}}
				]}
			]},
			{"name": "report", "pool": "io", "tool": "echo",
			 "args": {"squares": {"$ref": "steps.squares.result"}, "primes": {"$ref": "steps.primes.result"}, "slow": {"$ref": "steps.checks.result.2.1"}}}
		]}`))
		require.NoError(t, err)
		require.Len(t, result.Results, 4)
		assert.JSONEq(t, `[1, 4, 9, 16, 25, 36, 49, 64]`, string(result.Results[1].Result))
		assert.JSONEq(t, `[false, [true, true, false], [0.04000000000000001, {"waited": 0.04000000000000001, "label": "n"}]]`,
			string(result.Results[2].Result))
		assert.JSONEq(t, `{"squares": [1, 4, 9, 16, 25, 36, 49, 64], "primes": [true, true, false],
			"slow": {"waited": 0.04000000000000001, "label": "n"}}`, string(result.Results[3].Result))
	})

	t.Run("the examples of docs/pipelines.md return the documented results", func(t *testing.T) {
		runDocExamples(t, s)
	})

	featureTests(t, s)
	batchTests(t, s)

	t.Run("a pipeline started with the temporal CLI from a JSON file completes", func(t *testing.T) {
		spec := filepath.Join(t.TempDir(), "pipeline.json")
		require.NoError(t, os.WriteFile(spec, []byte(`{
			"defaults": {"start_to_close_timeout": "1m", "retry": {"maximum_attempts": 2}},
			"steps": [
				{"name": "base", "pool": "io", "tool": "echo", "args": {"xs": [3, 4]}},
				{"name": "squares", "pool": "math", "tool": "square", "map": {"over": {"$ref": "steps.base.result.xs"}, "as": "x"}},
				{"name": "both", "parallel": [
					{"pool": "math", "tool": "is_prime", "args": {"n": 7919}},
					{"pool": "io", "tool": "echo", "args": {"sum_of": {"$ref": "steps.squares.result"}}}
				]}
			]}`), 0o600))
		out := temporalCLI(t, s.srv, "workflow", "start", "--type", workflows.PipelineName, "--task-queue", workflows.TaskQueue,
			"--input-file", spec, "--workflow-id", "cli-pipeline")
		assert.Contains(t, out, "cli-pipeline")
		out = temporalCLI(t, s.srv, "workflow", "result", "--workflow-id", "cli-pipeline", "--output", "json")
		var res struct {
			Status string                   `json:"status"`
			Result workflows.PipelineResult `json:"result"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		assert.Equal(t, "COMPLETED", res.Status, out)
		require.Len(t, res.Result.Results, 3, out)
		assert.JSONEq(t, `[9, 16]`, string(res.Result.Results[1].Result))
		assert.JSONEq(t, `[true, {"sum_of": [9, 16]}]`, string(res.Result.Results[2].Result))

		// The progress query also works from the CLI.
		out = temporalCLI(t, s.srv, "workflow", "query", "--workflow-id", "cli-pipeline", "--type", workflows.ProgressQuery, "--output", "json")
		var q struct {
			QueryResult []workflows.Progress `json:"queryResult"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &q), out)
		require.Len(t, q.QueryResult, 1, out)
		assert.Equal(t, workflows.StatusDone, q.QueryResult[0].Status)
		assert.Equal(t, workflows.Counts{Total: 5, Done: 5}, q.QueryResult[0].Calls)
	})

	t.Run("an invalid spec from the temporal CLI fails at once naming the step and field", func(t *testing.T) {
		spec := filepath.Join(t.TempDir(), "typo.json")
		require.NoError(t, os.WriteFile(spec, []byte(`{"steps": [{"name": "sq", "pool": "math", "tool": "square",
			"map": {"over": [1], "as": "x", "concurency": 2}}]}`), 0o600))
		temporalCLI(t, s.srv, "workflow", "start", "--type", workflows.PipelineName, "--task-queue", workflows.TaskQueue,
			"--input-file", spec, "--workflow-id", "cli-typo")
		_, err := wait(t, s.client.GetWorkflow(context.Background(), "cli-typo", ""))
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, workflows.ErrTypeInvalidPipeline, appErr.Type())
		assert.Equal(t, `invalid pipeline: step 0 ("sq"): steps[0].map.concurency: unknown field (known: over, as, concurrency, batch_size, chunk_size, offset)`, appErr.Message())
		assert.LessOrEqual(t, historyLength(t, s.client, "cli-typo"), int64(5), "no step was scheduled")
	})

	t.Run("a failed map item names the item and the Python exception", func(t *testing.T) {
		_, err := wait(t, s.start(t, `{"steps": [{"name": "shout", "pool": "io", "tool": "fail", "retry": {"maximum_attempts": 1},
			"map": {"over": ["a", "b", "c"], "as": "message", "concurrency": 1}}]}`))
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, `step shout item 0 (tool "fail" on pool "io") failed: ValueError: a`, appErr.Message())
		var failure workflows.StepFailure
		require.NoError(t, appErr.Details(&failure))
		assert.Equal(t, "ValueError", failure.ErrorType)
	})

	t.Run("a big map runs in child workflows and keeps each history small", func(t *testing.T) {
		const items, chunk = 1000, 250
		over := make([]int, items)
		for i := range over {
			over[i] = i
		}
		overJSON, err := json.Marshal(over)
		require.NoError(t, err)
		run := s.start(t, fmt.Sprintf(`{"steps": [{"name": "squares", "pool": "math", "tool": "square",
			"map": {"over": %s, "as": "x", "concurrency": 8, "chunk_size": %d}}]}`, overJSON, chunk))

		// While it runs, the progress shows the chunks; DescribeProgress adds the children's items.
		sawChildren := false
		for range 600 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			p, err := workflows.DescribeProgress(ctx, s.client, run.GetID(), run.GetRunID())
			cancel()
			require.NoError(t, err)
			if p.Status != workflows.StatusRunning {
				break
			}
			if mp := p.Steps[0].Items; len(mp.Children) > 0 {
				sawChildren = true
				assert.Equal(t, items/chunk, mp.Chunks)
				assert.LessOrEqual(t, p.Calls.Done+p.Calls.Running, items)
				if mp.Done > 0 && mp.Done%chunk != 0 {
					break // counted items inside a running chunk
				}
			}
			time.Sleep(100 * time.Millisecond) // polling interval of an observer, not synchronisation
		}
		assert.True(t, sawChildren, "the progress listed the running chunks")

		result, err := wait(t, run)
		require.NoError(t, err)
		var got []float64
		require.NoError(t, json.Unmarshal(result.Results[0].Result, &got))
		require.Len(t, got, items)
		for i, v := range got {
			require.InDelta(t, float64(i*i), v, 0, "item %d", i)
		}
		parent := historyLength(t, s.client, run.GetID())
		assert.Less(t, parent, int64(100), "the parent's history holds the chunks, not the items")
		for k := range items / chunk {
			id := fmt.Sprintf("%s/steps[0]/chunk-%d", run.GetID(), k)
			n := historyLength(t, s.client, id)
			t.Logf("chunk %d: %d events (%.1f per item)", k, n, float64(n)/chunk)
			assert.Less(t, n, int64(chunk*8), "chunk %d", k)
		}
		t.Logf("parent: %d events", parent)
	})

	t.Run("DescribeProgress shows the latest heartbeat and attempt of a running call", func(t *testing.T) {
		run := s.start(t, `{"steps": [
			{"name": "first", "pool": "math", "tool": "noop"},
			{"name": "train", "pool": "io", "tool": "progress", "args": {"steps": 30, "interval": 0.1}, "heartbeat_timeout": "10s"}]}`)
		var seen workflows.Progress
		require.Eventually(t, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			p, err := workflows.DescribeProgress(ctx, s.client, run.GetID(), run.GetRunID())
			if err != nil || len(p.Steps) != 2 || p.Steps[1].Heartbeat == nil {
				return false
			}
			seen = p
			return true
		}, 30*time.Second, 50*time.Millisecond, "a heartbeat of the running call appeared")
		assert.Equal(t, workflows.StatusRunning, seen.Status)
		assert.Equal(t, 2, seen.Total)
		assert.Equal(t, 1, seen.Done)
		assert.Equal(t, 1, seen.Running)
		train := seen.Steps[1]
		assert.Equal(t, workflows.StatusRunning, train.Status)
		assert.Equal(t, int32(1), train.Attempt)
		var hb struct {
			Step int `json:"step"`
		}
		require.NoError(t, json.Unmarshal(train.Heartbeat, &hb), string(train.Heartbeat))
		assert.Positive(t, hb.Step)
		require.NotNil(t, train.HeartbeatProgress)
		assert.InDelta(t, float64(hb.Step)/30, *train.HeartbeatProgress, 1e-9)

		_, err := wait(t, run)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		final, err := workflows.DescribeProgress(ctx, s.client, run.GetID(), run.GetRunID())
		require.NoError(t, err)
		assert.Equal(t, workflows.StatusDone, final.Status)
		assert.Equal(t, 2, final.Done)
		assert.Nil(t, final.Steps[1].Heartbeat, "no call is pending any more")
	})

	t.Run("a failing branch cancels the running calls of the other branches", func(t *testing.T) {
		start := time.Now()
		_, err := wait(t, s.start(t, `{"steps": [{"parallel": [
			{"name": "waits", "pool": "io", "tool": "wait_for_cancel", "heartbeat_timeout": "2s"},
			{"name": "breaks", "pool": "math", "tool": "fail_permanently", "args": {"message": "stop"}}]}]}`))
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, `step breaks (tool "fail_permanently" on pool "math") failed: NonRetryableError: stop`, appErr.Message())
		assert.Less(t, time.Since(start), 30*time.Second)
	})

	t.Run("CallTool calls real pools from a Go workflow", func(t *testing.T) {
		const queue = "calltool-test"
		w := sdkworker.New(s.client, queue, sdkworker.Options{})
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context, x float64) (map[string]any, error) {
			sq, err := workflows.CallTool[float64](ctx, "math", "square", squareArgs{X: x})
			if err != nil {
				return nil, err
			}
			echo, err := workflows.CallTool[echoed](ctx, "io", "echo", echoed{Message: "sq", N: int(sq)},
				workflows.CallOptions{StartToCloseTimeout: 30 * time.Second})
			if err != nil {
				return nil, err
			}
			_, failErr := workflows.CallTool[any](ctx, "math", "fail", map[string]string{"message": "boom"},
				workflows.CallOptions{RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
			var pyErr *temporal.ApplicationError
			if !errors.As(failErr, &pyErr) {
				return nil, fmt.Errorf("expected a Python error, got %w", failErr)
			}
			return map[string]any{"square": sq, "echo": echo, "error_type": pyErr.Type(), "error": pyErr.Message()}, nil
		}, workflow.RegisterOptions{Name: "CallToolTest"})
		require.NoError(t, w.Start())
		defer w.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, "CallToolTest", 12.0)
		require.NoError(t, err)
		var out json.RawMessage
		require.NoError(t, run.Get(ctx, &out))
		assert.JSONEq(t, `{"square": 144, "echo": {"message": "sq", "n": 144}, "error_type": "ValueError", "error": "boom"}`, string(out))
	})
}

// temporalCLI runs the Temporal CLI against the dev server and returns its standard output.
func temporalCLI(t *testing.T, srv *workertest.DevServer, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append(args, "--address", srv.Address, "--namespace", srv.Namespace)
	cmd := exec.CommandContext(ctx, testenv.Temporal(t), args...)
	out, err := cmd.Output()
	var stderr []byte
	if exitErr := (*exec.ExitError)(nil); errors.As(err, &exitErr) {
		stderr = exitErr.Stderr
	}
	require.NoError(t, err, "temporal %v\nstdout: %s\nstderr: %s", args, out, stderr)
	return string(out)
}
