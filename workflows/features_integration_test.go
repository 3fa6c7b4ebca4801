package workflows_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/workflows"
)

// featureTests runs the composition, reliability and visibility features against the stack.
func featureTests(t *testing.T, s stack) {
	t.Run("a typo'd pool fails at once with NoWorker naming the pool and the task queue", func(t *testing.T) {
		start := time.Now()
		run := s.start(t, `{"steps": [{"name": "first", "pool": "math", "tool": "noop"}, {"name": "sq", "pool": "mtah", "tool": "square", "args": {"x": 2}}]}`)
		_, err := wait(t, run)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, workflows.ErrTypeNoWorker, appErr.Type())
		assert.True(t, appErr.NonRetryable())
		assert.Equal(t, `step sq (tool "square" on pool "mtah"): no worker serves pool "mtah": no worker has polled task queue "snakepool.mtah" in the last few minutes (this worker runs the pools [io math tests]; is the pool's name right? set the step's task_queue if the pool's workers use another queue, or require_worker false to wait for a worker)`, appErr.Message())
		assert.Less(t, time.Since(start), 20*time.Second)
		assert.Equal(t, 0, countEvents(t, s.client, run.GetID(), enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), "no step ran")
		p := queryProgress(t, s.client, run.GetID())
		assert.Equal(t, workflows.StatusFailed, p.Status)
		assert.Contains(t, p.Error, "no worker serves pool")
	})

	t.Run("a pool's own task queue from the worker config is reached by the pool's name", func(t *testing.T) {
		run := s.start(t, `{"steps": [{"name": "f", "pool": "tests", "tool": "flaky", "args": {"value": 7}, "retry": {"initial_interval": "100ms"}}]}`)
		result, err := wait(t, run)
		require.NoError(t, err)
		assert.JSONEq(t, `7`, string(result.Results[0].Result))
		assert.Equal(t, []string{testsQueue}, scheduledQueues(t, s.client, run.GetID()))
	})

	t.Run("steps get the default heartbeat timeout", func(t *testing.T) {
		run := s.start(t, `{"steps": [{"name": "a", "pool": "math", "tool": "noop"}, {"name": "b", "pool": "math", "tool": "noop", "heartbeat_timeout": "0s"}]}`)
		_, err := wait(t, run)
		require.NoError(t, err)
		got := map[string]time.Duration{}
		for _, e := range events(t, s.client, run.GetID()) {
			if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
				got[a.GetActivityId()] = a.GetHeartbeatTimeout().AsDuration()
			}
		}
		assert.Equal(t, map[string]time.Duration{"a": workflows.DefaultHeartbeatTimeout, "b": 0}, got)
	})

	t.Run("a wait step takes a signal sent with the temporal CLI and passes its payload on", func(t *testing.T) {
		run := s.start(t, `{"steps": [
			{"name": "train", "pool": "math", "tool": "square", "args": {"x": 12}},
			{"name": "approval", "wait": {"signal": "approve", "timeout": "5m"}},
			{"name": "deploy", "when": "steps.approval.result.ok", "pool": "io", "tool": "echo",
			 "args": {"model": {"$ref": "steps.train.result"}, "by": {"$ref": "steps.approval.result.by"}}}]}`)
		require.Eventually(t, func() bool { return waitingFor(t, s, run.GetID(), "approve") }, time.Minute, 50*time.Millisecond)
		p := queryProgress(t, s.client, run.GetID())
		assert.Equal(t, "approve", p.Steps[1].Signal)
		temporalCLI(t, s.srv, "workflow", "signal", "--workflow-id", run.GetID(), "--name", "approve", "--input", `{"ok": true, "by": "ada"}`)
		result, err := wait(t, run)
		require.NoError(t, err)
		assert.JSONEq(t, `{"ok": true, "by": "ada"}`, string(result.Results[1].Result))
		assert.JSONEq(t, `{"model": 144, "by": "ada"}`, string(result.Results[2].Result))
	})

	t.Run("a wait step's timeout fails it with WaitTimedOut", func(t *testing.T) {
		_, err := wait(t, s.start(t, `{"steps": [{"name": "approval", "wait": {"signal": "never", "timeout": "1s"}}]}`))
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, `step approval: no signal "never" came within 1s`, appErr.Message())
		assert.Equal(t, workflows.ErrTypeWaitTimedOut, appErr.Type())
	})

	t.Run("finally steps run when the pipeline fails, and when it is cancelled", func(t *testing.T) {
		const finally = `"finally": [
			{"name": "release", "when": "steps.reserve.status == 'done'", "pool": "io", "tool": "echo", "args": {"gpu": {"$ref": "steps.reserve.result.gpu"}}},
			{"name": "report", "when": "pipeline.status != 'done'", "pool": "io", "tool": "echo", "args": {"status": "x"}}]`
		failedRun := s.start(t, `{"steps": [
			{"name": "reserve", "pool": "io", "tool": "echo", "args": {"gpu": 0}},
			{"name": "train", "pool": "math", "tool": "fail", "args": {"message": "diverged"}, "retry": {"maximum_attempts": 1}}], `+finally+`}`)
		_, err := wait(t, failedRun)
		require.ErrorContains(t, err, "ValueError: diverged", "the pipeline fails with its step's error")
		p := queryProgress(t, s.client, failedRun.GetID())
		assert.Equal(t, []string{"done", "failed", "done", "done"}, statuses(p))

		cancelled := s.start(t, `{"steps": [
			{"name": "reserve", "pool": "io", "tool": "echo", "args": {"gpu": 1}},
			{"name": "train", "pool": "io", "tool": "wait_for_cancel"}], `+finally+`}`)
		require.Eventually(t, func() bool {
			p := queryProgress(t, s.client, cancelled.GetID())
			return p.Steps[1].Status == workflows.StatusRunning
		}, time.Minute, 50*time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.client.CancelWorkflow(ctx, cancelled.GetID(), ""))
		_, err = wait(t, cancelled)
		var canceledErr *temporal.CanceledError
		require.ErrorAs(t, err, &canceledErr, "the pipeline ends cancelled")
		p = queryProgress(t, s.client, cancelled.GetID())
		assert.Equal(t, []string{"done", "cancelled", "done", "done"}, statuses(p), "the finally steps ran after the cancellation")
	})

	t.Run("a long pipeline continues as new and keeps its results, references and signals", func(t *testing.T) {
		run := s.start(t, `{"max_history_events": 12, "input": {"x": 3}, "steps": [
			{"name": "a", "pool": "math", "tool": "square", "args": {"x": {"$ref": "input.x"}}},
			{"name": "b", "pool": "io", "tool": "echo", "args": {"a": {"$ref": "steps.a.result"}}},
			{"name": "c", "wait": {"signal": "go"}},
			{"name": "d", "pool": "io", "tool": "echo", "args": {"a": {"$ref": "steps.a.result"}, "b": {"$ref": "steps.b.result"}, "c": {"$ref": "steps.c.result"}}}]}`)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.client.SignalWorkflow(ctx, run.GetID(), "", "go", "early"), "a signal sent before the step is kept across runs")
		result, err := wait(t, run)
		require.NoError(t, err)
		require.Len(t, result.Results, 4)
		assert.JSONEq(t, `{"a": 9, "b": {"a": 9}, "c": "early"}`, string(result.Results[3].Result))
		assert.Greater(t, countRuns(t, s.client, run.GetID()), 1, "the pipeline ran in more than one run")
		p := queryProgress(t, s.client, run.GetID())
		assert.Equal(t, workflows.StatusDone, p.Status)
		assert.Equal(t, 4, p.Done, "the progress covers every run")
	})

	t.Run("the memo, and the search attributes once the namespace has them, name the pipeline and count its steps", func(t *testing.T) {
		spec := `{"name": "visible", "steps": [
			{"name": "a", "pool": "math", "tool": "noop"},
			{"name": "b", "when": "false", "pool": "math", "tool": "noop"},
			{"name": "c", "pool": "math", "tool": "fail", "retry": {"maximum_attempts": 1}, "on_error": "continue"}]}`
		before := s.start(t, spec)
		_, err := wait(t, before)
		require.NoError(t, err)
		assert.Equal(t, workflows.PipelineMemo{Pipeline: "visible", Steps: workflows.StepCounts{Total: 3, Done: 1, Failed: 1, Skipped: 1}},
			memo(t, s.client, before.GetID()))

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		attrs := map[string]enumspb.IndexedValueType{}
		for key := range workflows.SearchAttributes().GetUntypedValues() {
			attrs[key.GetName()] = key.GetValueType()
		}
		_, err = s.client.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: s.srv.Namespace, SearchAttributes: attrs})
		require.NoError(t, err)
		after := s.start(t, spec)
		_, err = wait(t, after)
		require.NoError(t, err)
		query := `SnakepoolPipeline="visible" AND SnakepoolSteps=3 AND SnakepoolStepsDone=1 AND SnakepoolStepsFailed=1`
		var out string
		require.Eventually(t, func() bool {
			out = temporalCLI(t, s.srv, "workflow", "list", "--query", query, "--output", "json")
			return strings.Contains(out, after.GetID())
		}, 30*time.Second, 200*time.Millisecond, "temporal workflow list --query finds the run: %s", out)
		assert.NotContains(t, out, before.GetID(), "a run that started before the attributes existed has the memo only")
	})

	t.Run("a spec and its input as two JSON files from the temporal CLI", func(t *testing.T) {
		dir := t.TempDir()
		spec, input := filepath.Join(dir, "spec.json"), filepath.Join(dir, "input.json")
		require.NoError(t, os.WriteFile(spec, []byte(`{"input": {"xs": [0]}, "steps": [
			{"name": "squares", "pool": "math", "tool": "square", "on_error": "collect", "retry": {"maximum_attempts": 1}, "map": {"over": {"$ref": "input.xs"}, "as": "x"}},
			{"name": "flow", "dag": [
				{"name": "nap", "sleep": "100ms"},
				{"name": "big", "depends_on": ["nap"], "when": "len(input.xs) > 2", "pool": "io", "tool": "echo", "args": {"n": {"$ref": "input.xs"}}}]}],
			"output": {"squares": {"$ref": "steps.squares.result"}, "big": {"$ref": "steps.big.result"}}}`), 0o600))
		require.NoError(t, os.WriteFile(input, []byte(`{"xs": [2, "x", 4]}`), 0o600))
		temporalCLI(t, s.srv, "workflow", "start", "--type", workflows.PipelineName, "--task-queue", workflows.TaskQueue,
			"--input-file", spec, "--input-file", input, "--workflow-id", "cli-features")
		out := temporalCLI(t, s.srv, "workflow", "result", "--workflow-id", "cli-features", "--output", "json")
		var res struct {
			Status string                   `json:"status"`
			Result workflows.PipelineResult `json:"result"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		assert.Equal(t, "COMPLETED", res.Status, out)
		assert.JSONEq(t, `{"squares": [{"ok": true, "value": 4}, {"ok": false, "error": {"type": "InvalidArguments", "message": "tool 'square': argument 'x': expected number, got string \"x\". It accepts: x: number", "non_retryable": true}}, {"ok": true, "value": 16}],
			"big": {"n": [2, "x", 4]}}`, string(res.Result.Output))
	})
}

func queryProgress(t *testing.T, c client.Client, workflowID string) workflows.Progress {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := workflows.DescribeProgress(ctx, c, workflowID, "")
	require.NoError(t, err)
	return p
}

func statuses(p workflows.Progress) []string {
	out := make([]string, len(p.Steps))
	for i, sp := range p.Steps {
		out[i] = sp.Status
	}
	return out
}

func events(t *testing.T, c client.Client, workflowID string) []*historypb.HistoryEvent {
	t.Helper()
	return fetchHistory(t, c, workflowID, "").GetEvents()
}

func countEvents(t *testing.T, c client.Client, workflowID string, typ enumspb.EventType) int {
	t.Helper()
	n := 0
	for _, e := range events(t, c, workflowID) {
		if e.GetEventType() == typ {
			n++
		}
	}
	return n
}

// scheduledQueues lists the task queues of the activities a workflow scheduled.
func scheduledQueues(t *testing.T, c client.Client, workflowID string) []string {
	t.Helper()
	var queues []string
	for _, e := range events(t, c, workflowID) {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			queues = append(queues, a.GetTaskQueue().GetName())
		}
	}
	return queues
}

// countRuns counts the runs of a workflow ID's chain, from its latest run back to its first.
func countRuns(t *testing.T, c client.Client, workflowID string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	require.NoError(t, err)
	runs := 1
	first := desc.GetWorkflowExecutionInfo().GetFirstRunId()
	for runID := first; runID != desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(); runs++ {
		next := ""
		for _, e := range fetchHistory(t, c, workflowID, runID).GetEvents() {
			if a := e.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		require.NotEmpty(t, next, "run %s continued as new", runID)
		runID = next
	}
	return runs
}

func fetchHistory(t *testing.T, c client.Client, workflowID, runID string) *historypb.History {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	history := &historypb.History{}
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		history.Events = append(history.Events, e)
	}
	return history
}

func memo(t *testing.T, c client.Client, workflowID string) workflows.PipelineMemo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	require.NoError(t, err)
	var m workflows.PipelineMemo
	payload := desc.GetWorkflowExecutionInfo().GetMemo().GetFields()[workflows.MemoKey]
	require.NotNil(t, payload, "the run has a %q memo", workflows.MemoKey)
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(payload, &m))
	return m
}

// waitingFor reports whether a step of the workflow's latest run waits for the signal.
func waitingFor(t *testing.T, s stack, workflowID, signal string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	value, err := s.client.QueryWorkflow(ctx, workflowID, "", workflows.ProgressQuery)
	if err != nil {
		return false
	}
	var p map[string]any
	if value.Get(&p) != nil {
		return false
	}
	steps, _ := p["steps"].([]any)
	for _, st := range steps {
		m, _ := st.(map[string]any)
		if m["signal"] == signal && m["status"] == workflows.StatusRunning {
			return true
		}
	}
	return false
}
