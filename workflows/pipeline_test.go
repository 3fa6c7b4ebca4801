package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/workflows"
)

// started records the activity info and arguments of every activity the test environment ran.
type started struct {
	mu    sync.Mutex
	infos []activity.Info
}

func newPipelineEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *started) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.Pipeline, workflow.RegisterOptions{Name: workflows.PipelineName})
	tool := func(name string, fn func(args map[string]any) (any, error)) {
		env.RegisterActivityWithOptions(func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			var args map[string]any
			if err := json.Unmarshal(raw, &args); err != nil {
				return nil, err
			}
			out, err := fn(args)
			if err != nil {
				return nil, err
			}
			return json.Marshal(out)
		}, activity.RegisterOptions{Name: name})
	}
	tool("square", func(a map[string]any) (any, error) { x := a["x"].(float64); return x * x, nil })
	tool("is_prime", func(a map[string]any) (any, error) { return a["n"].(float64) == 7919, nil })
	tool("noop", func(map[string]any) (any, error) { return nil, nil })
	tool("fail", func(a map[string]any) (any, error) {
		return nil, temporal.NewApplicationErrorWithOptions(a["message"].(string), "ValueError",
			temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{"Traceback ..."}})
	})
	tool("flaky", func(map[string]any) (any, error) { return nil, temporal.NewApplicationError("try again", "OSError") })
	rec := &started{}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.infos = append(rec.infos, *info)
	})
	return env, rec
}

func mustSpec(t *testing.T, s string) workflows.PipelineSpec {
	t.Helper()
	spec, err := workflows.ParseSpec([]byte(s))
	require.NoError(t, err)
	return spec
}

func TestPipelineRunsStepsInOrder(t *testing.T) {
	env, rec := newPipelineEnv(t)
	spec := mustSpec(t, `{
		"defaults": {"start_to_close_timeout": "2m", "retry": {"maximum_attempts": 3}},
		"steps": [
			{"name": "sq", "pool": "math", "tool": "square", "args": {"x": 12}},
			{"pool": "math", "tool": "is_prime", "args": {"n": 7919}, "task_queue": "custom",
			 "start_to_close_timeout": "30s", "heartbeat_timeout": "5s", "retry": {"maximum_attempts": 1}},
			{"pool": "other", "tool": "noop"}
		]}`)

	env.ExecuteWorkflow(workflows.PipelineName, spec)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var result workflows.PipelineResult
	require.NoError(t, env.GetWorkflowResult(&result))

	got, err := json.Marshal(result)
	require.NoError(t, err)
	assert.JSONEq(t, `{"results":[
		{"step":0,"name":"sq","pool":"math","tool":"square","result":144},
		{"step":1,"pool":"math","tool":"is_prime","result":true},
		{"step":2,"pool":"other","tool":"noop","result":null}
	]}`, string(got))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.infos, 3)
	tests := []struct {
		tool         string
		taskQueue    string
		startToClose time.Duration
		heartbeat    time.Duration
	}{
		{"square", "snakepool.math", 2 * time.Minute, 0},
		{"is_prime", "custom", 30 * time.Second, 5 * time.Second},
		{"noop", "snakepool.other", 2 * time.Minute, 0},
	}
	for i, want := range tests {
		info := rec.infos[i]
		assert.Equal(t, want.tool, info.ActivityType.Name, "step %d", i)
		assert.Equal(t, want.taskQueue, info.TaskQueue, "step %d", i)
		assert.Equal(t, want.startToClose, info.StartToCloseTimeout, "step %d", i)
		assert.Equal(t, want.heartbeat, info.HeartbeatTimeout, "step %d", i)
	}
}

func TestPipelineRetryPolicy(t *testing.T) {
	tests := []struct {
		name         string
		spec         string
		wantAttempts int
	}{
		{"from defaults", `{"defaults":{"retry":{"maximum_attempts":3,"initial_interval":"1s"}},"steps":[{"pool":"m","tool":"flaky"}]}`, 3},
		{"step overrides defaults", `{"defaults":{"retry":{"maximum_attempts":3}},"steps":[{"pool":"m","tool":"flaky","retry":{"maximum_attempts":2}}]}`, 2},
		{"non-retryable type", `{"steps":[{"pool":"m","tool":"flaky","retry":{"non_retryable_error_types":["OSError"]}}]}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, rec := newPipelineEnv(t)
			env.ExecuteWorkflow(workflows.PipelineName, mustSpec(t, tt.spec))
			require.True(t, env.IsWorkflowCompleted())
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, env.GetWorkflowError(), &appErr)
			assert.Contains(t, appErr.Message(), "failed: OSError: try again")
			assert.Len(t, rec.infos, tt.wantAttempts)
		})
	}
}

func TestPipelineDefaultTimeout(t *testing.T) {
	env, rec := newPipelineEnv(t)
	env.ExecuteWorkflow(workflows.PipelineName, mustSpec(t, `{"steps":[{"pool":"math","tool":"noop"}]}`))
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, rec.infos, 1)
	assert.Equal(t, workflows.DefaultStartToCloseTimeout, rec.infos[0].StartToCloseTimeout)
}

func TestPipelineStepFailure(t *testing.T) {
	env, rec := newPipelineEnv(t)
	env.ExecuteWorkflow(workflows.PipelineName, mustSpec(t, `{"steps":[
		{"pool":"math","tool":"square","args":{"x":2}},
		{"name":"explode","pool":"math","tool":"fail","args":{"message":"boom"}},
		{"pool":"math","tool":"noop"}
	]}`))
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)

	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, workflows.ErrTypeStepFailed, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, `step explode (tool "fail" on pool "math") failed: ValueError: boom`, appErr.Message())

	var actErr *temporal.ActivityError
	require.ErrorAs(t, err, &actErr, "the activity error is the cause")
	var pyErr *temporal.ApplicationError
	require.ErrorAs(t, actErr, &pyErr)
	assert.Equal(t, "ValueError", pyErr.Type())
	assert.Equal(t, "boom", pyErr.Message())

	assert.Len(t, rec.infos, 2, "the step after the failed one does not run")
}

func TestPipelineRejectsInvalidSpec(t *testing.T) {
	env, rec := newPipelineEnv(t)
	// Built in Go, so that ParseSpec does not catch it first.
	spec := workflows.PipelineSpec{Steps: []workflows.Step{{Pool: "math", Tool: "noop"}, {Name: "b", Pool: "math"}}}
	env.ExecuteWorkflow(workflows.PipelineName, spec)
	require.True(t, env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	assert.Equal(t, workflows.ErrTypeInvalidPipeline, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, `invalid pipeline: step 1 ("b"): steps[1].tool: required`, appErr.Message())
	assert.Empty(t, rec.infos, "no step runs when the spec is invalid")
}

func TestRootCause(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"application error", temporal.NewApplicationError("boom", "ValueError"), "ValueError: boom"},
		{"untyped application error", temporal.NewApplicationError("boom", ""), "boom"},
		{
			"innermost application error",
			fmt.Errorf("wrapped: %w", temporal.NewApplicationErrorWithCause("outer", "Outer", temporal.NewApplicationError("inner", "KeyError"))),
			"KeyError: inner",
		},
		{"plain error", fmt.Errorf("a: %w", errors.New("b")), "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, workflows.RootCause(tt.err))
		})
	}
}
