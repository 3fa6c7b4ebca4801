package workflows_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/workflows"
)

// Unit tests of the composition features in the SDK's test environment; features_integration_test.go
// runs them against a dev server and real pools.

func TestPipelineDAGStartsStepsWhenTheirDependenciesFinish(t *testing.T) {
	env, rec := newPipelineEnv(t)
	result, err := run(t, env, `{"steps": [{"name": "g", "dag": [
		{"name": "last", "depends_on": ["left", "right"], "pool": "io", "tool": "echo", "args": {"l": {"$ref": "steps.left.result"}, "r": {"$ref": "steps.right.result.x"}}},
		{"name": "left", "depends_on": ["root"], "pool": "math", "tool": "square", "args": {"x": 3}},
		{"name": "right", "depends_on": ["root"], "pool": "io", "tool": "echo", "args": {"x": {"$ref": "steps.root.result.v"}}},
		{"name": "root", "pool": "io", "tool": "echo", "args": {"v": 1}}
	]}]}`)
	require.NoError(t, err)
	assert.JSONEq(t, `[{"l": 9, "r": 1}, 9, {"x": 1}, {"v": 1}]`, string(result.Results[0].Result), "results in spec order")
	ids := rec.activityIDs()
	require.Len(t, ids, 4)
	assert.Equal(t, "root", ids[0])
	assert.ElementsMatch(t, []string{"left", "right"}, ids[1:3])
	assert.Equal(t, "last", ids[3])
}

func TestPipelineDAGFailureStopsTheSteps(t *testing.T) {
	env, rec := newPipelineEnv(t)
	_, err := run(t, env, `{"steps": [{"name": "g", "dag": [
		{"name": "a", "pool": "m", "tool": "fail", "args": {"message": "no"}},
		{"name": "b", "depends_on": ["a"], "pool": "m", "tool": "noop"}]}]}`)
	require.ErrorContains(t, err, `step a (tool "fail" on pool "m") failed: ValueError: no`)
	assert.Equal(t, []string{"a"}, rec.activityIDs(), "a step whose dependency failed does not start")
	assert.Equal(t, []string{"failed", "failed", "pending"}, statuses(progress(t, env)))
}

func TestPipelineConditions(t *testing.T) {
	env, rec := newPipelineEnv(t)
	result, err := run(t, env, `{"input": {"min": 100, "tags": ["a", "b"]}, "steps": [
		{"name": "sq", "pool": "math", "tool": "square", "args": {"x": 12}},
		{"name": "big", "when": "steps.sq.result >= input.min && 'b' in input.tags", "pool": "io", "tool": "echo", "args": {"big": true}},
		{"name": "small", "when": "steps.sq.result < input.min", "pool": "io", "tool": "echo", "args": {"small": true}},
		{"name": "after", "when": "steps.small.status == 'skipped' && steps.small.result == nil", "pool": "io", "tool": "echo", "args": {"s": {"$ref": "steps.small.result"}}}
	]}`)
	require.NoError(t, err)
	assert.Equal(t, workflows.StatusSkipped, result.Results[2].Status)
	assert.JSONEq(t, `null`, string(result.Results[2].Result))
	assert.JSONEq(t, `{"s": null}`, string(result.Results[3].Result), "a skipped step's result is null")
	assert.Equal(t, []string{"sq", "big", "after"}, rec.activityIDs())
	p := progress(t, env)
	assert.Equal(t, 1, p.Skipped)
	assert.Equal(t, workflows.Counts{Total: 3, Done: 3}, p.Calls, "a skipped step makes no call")
}

func TestPipelineConditionThatFailsToEvaluate(t *testing.T) {
	env, _ := newPipelineEnv(t)
	_, err := run(t, env, `{"steps": [{"name": "sq", "pool": "math", "tool": "square", "args": {"x": 2}},
		{"name": "next", "when": "steps.sq.result.score > 1", "pool": "m", "tool": "noop"}]}`)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, workflows.ErrTypeInvalidCondition, appErr.Type())
	assert.Contains(t, appErr.Message(), `step next: steps[1].when: condition "steps.sq.result.score > 1": `)
}

func TestPipelineOnErrorContinue(t *testing.T) {
	env, rec := newPipelineEnv(t)
	result, err := run(t, env, `{"steps": [
		{"name": "g", "parallel": [
			{"name": "bad", "pool": "m", "tool": "fail", "args": {"message": "x"}, "on_error": "continue"},
			{"name": "good", "pool": "m", "tool": "noop"}]},
		{"name": "whole", "on_error": "continue", "steps": [{"name": "inner", "pool": "m", "tool": "fail", "args": {"message": "y"}}]},
		{"name": "last", "when": "steps.bad.status == 'failed' && steps.bad.error.type == 'ValueError'", "pool": "io", "tool": "echo", "args": {"ok": true}}
	]}`)
	require.NoError(t, err)
	assert.JSONEq(t, `[null, null]`, string(result.Results[0].Result))
	assert.Equal(t, workflows.StatusFailed, result.Results[1].Status, "a group's on_error applies to its failure")
	assert.Equal(t, &workflows.ErrorInfo{Type: "ValueError", Message: "y", NonRetryable: true}, result.Results[1].Error)
	assert.JSONEq(t, `{"ok": true}`, string(result.Results[2].Result))
	assert.Len(t, rec.activityIDs(), 4)
}

func TestPipelineMapCollect(t *testing.T) {
	for _, chunk := range []int{0, 2} { // inline, and in chunks
		env, rec := newPipelineEnv(t)
		chunkField := ""
		if chunk > 0 {
			chunkField = `, "chunk_size": 2`
		}
		result, err := run(t, env, `{"steps": [{"name": "m", "pool": "m", "tool": "fail_on", "on_error": "collect", "args": {"bad": 2},
			"map": {"over": [1, 2, 3]`+chunkField+`, "as": "x"}}]}`)
		require.NoError(t, err)
		assert.JSONEq(t, `[{"ok": true, "value": 1}, {"ok": false, "error": {"type": "ValueError", "message": "bad x 2", "non_retryable": true}}, {"ok": true, "value": 3}]`,
			string(result.Results[0].Result), "chunk size %d", chunk)
		assert.Equal(t, chunk > 0, len(rec.children) > 0)
		items := progress(t, env).Steps[0].Items
		assert.Equal(t, 1, items.Failed)
	}
}

func TestPipelineInputOutput(t *testing.T) {
	env, _ := newPipelineEnv(t)
	env.ExecuteWorkflow(workflows.PipelineName, json.RawMessage(`{"input": {"x": 1}, "steps": [
		{"name": "sq", "pool": "math", "tool": "square", "args": {"x": {"$ref": "input.x"}}}],
		"output": {"in": {"$ref": "input"}, "sq": {"$ref": "steps.sq.result"}}}`), json.RawMessage(`{"x": 5}`))
	require.NoError(t, env.GetWorkflowError())
	var result workflows.PipelineResult
	require.NoError(t, env.GetWorkflowResult(&result))
	assert.JSONEq(t, `{"in": {"x": 5}, "sq": 25}`, string(result.Output), "the second argument replaces the spec's input")
	assert.Nil(t, result.Results[0].Result, "with an output, the results carry no values")
}

func TestPipelineWait(t *testing.T) {
	t.Run("signal", func(t *testing.T) {
		env, _ := newPipelineEnv(t)
		env.RegisterDelayedCallback(func() { env.SignalWorkflow("approve", map[string]any{"ok": true}) }, time.Hour)
		result, err := run(t, env, `{"steps": [{"name": "a", "wait": {"signal": "approve", "timeout": "2h"}}, {"name": "n", "sleep": "1m"}]}`)
		require.NoError(t, err)
		assert.JSONEq(t, `{"ok": true}`, string(result.Results[0].Result))
		assert.JSONEq(t, `null`, string(result.Results[1].Result))
	})
	t.Run("timeout", func(t *testing.T) {
		env, _ := newPipelineEnv(t)
		_, err := run(t, env, `{"steps": [{"name": "a", "wait": {"signal": "approve", "timeout": "2h"}}]}`)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, workflows.ErrTypeWaitTimedOut, appErr.Type())
	})
	t.Run("timeout, continue", func(t *testing.T) {
		env, _ := newPipelineEnv(t)
		result, err := run(t, env, `{"steps": [{"name": "a", "wait": {"signal": "approve", "timeout": "2h"}, "on_error": "continue"}]}`)
		require.NoError(t, err)
		assert.Equal(t, workflows.ErrTypeWaitTimedOut, result.Results[0].Error.Type)
	})
}

func TestPipelineFinally(t *testing.T) {
	env, rec := newPipelineEnv(t)
	_, err := run(t, env, `{"steps": [{"name": "a", "pool": "io", "tool": "echo", "args": {"gpu": 3}}, {"name": "b", "pool": "m", "tool": "fail", "args": {"message": "no"}}],
		"finally": [{"name": "release", "when": "pipeline.status == 'failed' && pipeline.error != ''", "pool": "io", "tool": "echo", "args": {"gpu": {"$ref": "steps.a.result.gpu"}}},
		            {"name": "never", "when": "pipeline.status == 'done'", "pool": "io", "tool": "echo"}]}`)
	require.ErrorContains(t, err, "ValueError: no", "the pipeline's error is its step's")
	assert.Equal(t, []string{"a", "b", "release"}, rec.activityIDs())
	assert.JSONEq(t, `{"gpu": 3}`, string(rec.args["release"]))
	assert.Equal(t, []string{"done", "failed", "done", "skipped"}, statuses(progress(t, env)))

	t.Run("a failing finally step fails a pipeline that succeeded", func(t *testing.T) {
		env, _ := newPipelineEnv(t)
		_, err := run(t, env, `{"steps": [{"pool": "m", "tool": "noop"}], "finally": [{"name": "f", "pool": "m", "tool": "fail", "args": {"message": "cleanup"}}]}`)
		require.ErrorContains(t, err, `step f (tool "fail" on pool "m") failed: ValueError: cleanup`)
	})
}

func TestPipelineNoWorker(t *testing.T) {
	env, rec := newPipelineEnv(t)
	_, err := run(t, env, `{"steps": [{"pool": "m", "tool": "noop"}, {"name": "x", "pool": "nobody", "tool": "noop"}]}`)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, workflows.ErrTypeNoWorker, appErr.Type())
	assert.Contains(t, appErr.Message(), `step x (tool "noop" on pool "nobody"): no worker serves pool "nobody": no worker has polled task queue "snakepool.nobody"`)
	assert.Empty(t, rec.activityIDs(), "no step runs")

	env, rec = newPipelineEnv(t)
	_, err = run(t, env, `{"steps": [{"name": "x", "pool": "nobody", "tool": "noop", "require_worker": false}]}`)
	require.NoError(t, err, "require_worker false skips the check")
	assert.Equal(t, []string{"x"}, rec.activityIDs())
}
