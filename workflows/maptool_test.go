package workflows_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/workflows"
)

// MapTool returns typed results in item order, batched or not; a failed item is a MapError naming
// it, whose cause is the activity's error.
func TestMapTool(t *testing.T) {
	tests := []struct {
		name      string
		opts      workflows.MapOptions
		xs        []any
		want      []float64
		wantErr   string
		wantItem  int
		wantIDs   []string
		batchType bool
	}{
		{name: "one activity per item", opts: workflows.MapOptions{Concurrency: 2, CallOptions: workflows.CallOptions{ActivityID: "sq"}},
			xs: []any{1, 2, 3}, want: []float64{1, 4, 9}, wantIDs: []string{"sq/0", "sq/1", "sq/2"}},
		{name: "batches", opts: workflows.MapOptions{BatchSize: 2, CallOptions: workflows.CallOptions{ActivityID: "sq"}},
			xs: []any{1, 2, 3, 4, 5}, want: []float64{1, 4, 9, 16, 25}, wantIDs: []string{"sq/0-1", "sq/2-3", "sq/4-4"}, batchType: true},
		{name: "a failed item", opts: workflows.MapOptions{Concurrency: 1}, xs: []any{1, 2, 3, 4},
			wantErr: `tool "fail_on" on pool "math": item 2: ValueError: bad x 3`, wantItem: 2},
		{name: "a failed item in a batch", opts: workflows.MapOptions{BatchSize: 3, Concurrency: 1}, xs: []any{1, 2, 3, 4},
			wantErr: `tool "fail_on" on pool "math": item 2: ValueError: bad x 3`, wantItem: 2, batchType: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, rec := newPipelineEnv(t)
			tool := "square"
			if tt.wantErr != "" {
				tool = "fail_on"
			}
			// The workflow returns the results, or what the error says, as a workflow sees it.
			type outcome struct {
				Results []float64
				Error   string
				Item    int
				Type    string
			}
			env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (outcome, error) {
				items := make([]map[string]any, len(tt.xs))
				for i, x := range tt.xs {
					items[i] = map[string]any{"x": x, "bad": 3}
				}
				out, err := workflows.MapTool[float64](ctx, "math", tool, items, tt.opts)
				var mapErr *workflows.MapError
				var appErr *temporal.ApplicationError
				if errors.As(err, &mapErr) && errors.As(err, &appErr) {
					return outcome{Error: err.Error(), Item: mapErr.Item, Type: appErr.Type()}, nil
				}
				return outcome{Results: out}, err
			}, workflow.RegisterOptions{Name: "MapToolTest"})
			env.ExecuteWorkflow("MapToolTest")
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			var got outcome
			require.NoError(t, env.GetWorkflowResult(&got))
			if tt.wantErr != "" {
				assert.Equal(t, outcome{Error: tt.wantErr, Item: tt.wantItem, Type: "ValueError"}, got)
				return
			}
			assert.Equal(t, tt.want, got.Results)
			assert.ElementsMatch(t, tt.wantIDs, rec.activityIDs())
			for _, info := range rec.infos {
				if tt.batchType {
					assert.Equal(t, activities.BatchActivityName, info.ActivityType.Name)
				} else {
					assert.Equal(t, "square", info.ActivityType.Name)
				}
			}
		})
	}
}

// A MapError says which item failed and unwraps to the activity's error.
func TestMapErrorNamesTheItem(t *testing.T) {
	cause := temporal.NewApplicationError("boom", "ValueError")
	err := error(&workflows.MapError{Pool: "math", Tool: "square", Item: 4, First: 3, Last: 5, Err: cause})
	assert.Equal(t, `tool "square" on pool "math": item 4: ValueError: boom`, err.Error())
	assert.True(t, errors.Is(err, cause))
	whole := &workflows.MapError{Pool: "math", Tool: "square", Item: -1, First: 3, Last: 5, Err: cause}
	assert.Equal(t, `tool "square" on pool "math": items 3-5: ValueError: boom`, whole.Error())
}

// Options that cannot mean anything are an error naming the option, before any activity starts.
func TestMapToolRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    workflows.MapOptions
		wantErr string
	}{
		{"negative batch size", workflows.MapOptions{BatchSize: -2},
			`map tool "square" on pool "math": MapOptions.BatchSize must be at least 1 (or 0: one activity per item), not -2`},
		{"negative concurrency", workflows.MapOptions{BatchSize: 5, Concurrency: -1},
			`map tool "square" on pool "math": MapOptions.Concurrency must be at least 1 (or 0: the default), not -1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, rec := newPipelineEnv(t)
			env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (string, error) {
				_, err := workflows.MapTool[float64](ctx, "math", "square", []map[string]any{{"x": 1}}, tt.opts)
				if err == nil {
					return "", nil
				}
				return err.Error(), nil
			}, workflow.RegisterOptions{Name: "MapToolTest"})
			env.ExecuteWorkflow("MapToolTest")
			require.NoError(t, env.GetWorkflowError())
			var got string
			require.NoError(t, env.GetWorkflowResult(&got))
			assert.Equal(t, tt.wantErr, got)
			assert.Empty(t, rec.activityIDs(), "no activity started")
		})
	}
}
