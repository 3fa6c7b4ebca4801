package workflows_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/workflows"
)

type squareArgs struct {
	X float64 `json:"x"`
}

type echoed struct {
	Message string `json:"message"`
	N       int    `json:"n"`
}

func TestCallTool(t *testing.T) {
	tests := []struct {
		name string
		// call runs in a workflow and returns what the workflow returns.
		call        func(ctx workflow.Context) (any, error)
		wantResult  string // JSON
		wantArgs    string // JSON of the first call's input, when set
		wantErr     string
		wantCalls   int
		taskQueue   string
		timeout     time.Duration
		heartbeat   time.Duration
		maxAttempts int
	}{
		{
			name: "typed input and output with the default options",
			call: func(ctx workflow.Context) (any, error) {
				return workflows.CallTool[float64](ctx, "math", "square", squareArgs{X: 12})
			},
			wantResult: `144`, wantArgs: `{"x":12}`, wantCalls: 1, taskQueue: "snakepool.math", timeout: workflows.DefaultStartToCloseTimeout,
			heartbeat: workflows.DefaultHeartbeatTimeout,
		},
		{
			name: "heartbeat timeout off",
			call: func(ctx workflow.Context) (any, error) {
				return workflows.CallTool[float64](ctx, "math", "square", squareArgs{X: 2}, workflows.CallOptions{HeartbeatTimeout: -1})
			},
			wantResult: `4`, wantCalls: 1, taskQueue: "snakepool.math", timeout: workflows.DefaultStartToCloseTimeout,
		},
		{
			name: "a struct result",
			call: func(ctx workflow.Context) (any, error) {
				return workflows.CallTool[echoed](ctx, "io", "echo", map[string]any{"message": "hi", "n": 3})
			},
			wantResult: `{"message":"hi","n":3}`, wantCalls: 1, taskQueue: "snakepool.io", timeout: workflows.DefaultStartToCloseTimeout,
			heartbeat: workflows.DefaultHeartbeatTimeout,
		},
		{
			name: "options, merged in order",
			call: func(ctx workflow.Context) (any, error) {
				return workflows.CallTool[json.RawMessage](ctx, "math", "noop", map[string]any(nil),
					workflows.CallOptions{TaskQueue: "custom", StartToCloseTimeout: time.Minute},
					workflows.CallOptions{HeartbeatTimeout: 5 * time.Second, StartToCloseTimeout: 2 * time.Minute})
			},
			wantResult: `null`, wantArgs: `{}`, wantCalls: 1, taskQueue: "custom", timeout: 2 * time.Minute, heartbeat: 5 * time.Second,
		},
		{
			name: "retry policy",
			call: func(ctx workflow.Context) (any, error) {
				return workflows.CallTool[any](ctx, "math", "flaky", struct{}{},
					workflows.CallOptions{RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3, InitialInterval: time.Second}})
			},
			wantErr: `tool "flaky" on pool "math": activity error`, wantCalls: 3,
		},
		{
			name: "input that is not an object",
			call: func(ctx workflow.Context) (any, error) {
				return workflows.CallTool[float64](ctx, "math", "square", []int{1, 2})
			},
			wantErr: `tool "square" on pool "math": the input must encode to a JSON object (the tool's arguments by name), not [1,2]`,
		},
		{
			name: "result that does not decode",
			call: func(ctx workflow.Context) (any, error) {
				return workflows.CallTool[string](ctx, "math", "square", squareArgs{X: 3})
			},
			wantErr: `tool "square" on pool "math": decode the result 9 into string`, wantCalls: 1,
		},
		{
			name: "calls at the same time",
			call: func(ctx workflow.Context) (any, error) {
				futures := make([]*workflows.ToolFuture[float64], 4)
				for i := range futures {
					futures[i] = workflows.StartTool[float64](ctx, "math", "square", squareArgs{X: float64(i)})
				}
				var sum float64
				for _, f := range futures {
					v, err := f.Get(ctx)
					if err != nil {
						return nil, err
					}
					sum += v
				}
				return sum, nil
			},
			wantResult: `14`, wantCalls: 4, taskQueue: "snakepool.math", timeout: workflows.DefaultStartToCloseTimeout,
			heartbeat: workflows.DefaultHeartbeatTimeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, rec := newPipelineEnv(t)
			env.RegisterWorkflowWithOptions(tt.call, workflow.RegisterOptions{Name: "call"})
			env.ExecuteWorkflow("call")
			require.True(t, env.IsWorkflowCompleted())
			rec.mu.Lock()
			defer rec.mu.Unlock()
			assert.Len(t, rec.infos, tt.wantCalls)
			if tt.wantErr != "" {
				require.Error(t, env.GetWorkflowError())
				assert.Contains(t, env.GetWorkflowError().Error(), tt.wantErr)
				return
			}
			require.NoError(t, env.GetWorkflowError())
			var result json.RawMessage
			require.NoError(t, env.GetWorkflowResult(&result))
			assert.JSONEq(t, tt.wantResult, string(result))
			info := rec.infos[0]
			assert.Equal(t, tt.taskQueue, info.TaskQueue)
			assert.Equal(t, tt.timeout, info.StartToCloseTimeout)
			assert.Equal(t, tt.heartbeat, info.HeartbeatTimeout)
			if tt.wantArgs != "" {
				assert.JSONEq(t, tt.wantArgs, string(rec.args[info.ActivityID]))
			}
		})
	}
}

// A failed call's error wraps the activity error, whose cause is the Python exception.
func TestCallToolError(t *testing.T) {
	env, _ := newPipelineEnv(t)
	var got error
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		_, got = workflows.CallTool[any](ctx, "math", "fail", map[string]string{"message": "boom"})
		return nil
	}, workflow.RegisterOptions{Name: "call"})
	env.ExecuteWorkflow("call")
	require.NoError(t, env.GetWorkflowError())
	require.Error(t, got)
	var actErr *temporal.ActivityError
	require.ErrorAs(t, got, &actErr)
	var pyErr *temporal.ApplicationError
	require.ErrorAs(t, got, &pyErr)
	assert.Equal(t, "ValueError", pyErr.Type())
	assert.Equal(t, "boom", pyErr.Message())
	assert.Contains(t, got.Error(), `tool "fail" on pool "math"`)
	assert.False(t, errors.Is(got, workflow.ErrCanceled))
}
