package workflows_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/workflows"
)

// withBatchSize adds "batch_size": size to the map of every spec's first step.
func withBatchSize(spec string, size int) string {
	return strings.Replace(spec, `"map":{`, fmt.Sprintf(`"map":{"batch_size":%d,`, size), 1)
}

// outcome is what a pipeline ended with, in a comparable form: its result (every step's result,
// status and error) or its error's message, type and details.
func outcome(t *testing.T, result workflows.PipelineResult, err error) string {
	t.Helper()
	if err == nil {
		return resultJSON(t, result)
	}
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	var failure workflows.StepFailure
	require.NoError(t, appErr.Details(&failure))
	return fmt.Sprintf("%s (%s at item %d: %s: %s)", appErr.Message(), appErr.Type(), *failure.Item, failure.ErrorType, failure.Message)
}

// A batched map returns what the same map returns without batching, whatever the batch size,
// with every error policy, inline and in chunks; progress counts items the same way.
func TestBatchedMapsMatchUnbatched(t *testing.T) {
	over := `[0,1,2,3,4,5,6,7,8,9,10]`
	specs := []struct {
		name string
		spec string
	}{
		{"values", `{"steps":[{"name":"m","pool":"math","tool":"square","map":{"over":` + over + `,"as":"x","concurrency":3}}]}`},
		{"references to the item", `{"steps":[{"name":"e","pool":"io","tool":"echo","map":{"over":[{"a":1},{"a":[2]},{"a":null}]},"args":{"v":{"$ref":"item.a"},"k":"c"}}]}`},
		{"fail", `{"steps":[{"name":"m","pool":"math","tool":"fail_on","map":{"over":` + over + `,"as":"x","concurrency":1},"args":{"bad":6}}]}`},
		{"collect", `{"steps":[{"name":"m","pool":"math","tool":"fail_on","on_error":"collect","map":{"over":` + over + `,"as":"x"},"args":{"bad":6}}]}`},
		{"continue", `{"steps":[{"name":"m","pool":"math","tool":"fail_on","on_error":"continue","map":{"over":` + over + `,"as":"x"},"args":{"bad":6}},
			{"name":"after","pool":"io","tool":"echo","args":{"status":"went on"}}]}`},
		{"chunks", `{"steps":[{"name":"m","pool":"math","tool":"square","map":{"over":` + over + `,"as":"x","chunk_size":2,"concurrency":4}}]}`},
		{"collect in chunks", `{"steps":[{"name":"m","pool":"math","tool":"fail_on","on_error":"collect","map":{"over":` + over + `,"as":"x","chunk_size":2},"args":{"bad":6}}]}`},
		{"fail in chunks", `{"steps":[{"name":"m","pool":"math","tool":"fail_on","map":{"over":` + over + `,"as":"x","chunk_size":2,"concurrency":1},"args":{"bad":6}}]}`},
	}
	for _, sc := range specs {
		t.Run(sc.name, func(t *testing.T) {
			env, _ := newPipelineEnv(t)
			wantResult, wantErr := run(t, env, sc.spec)
			want := outcome(t, wantResult, wantErr)
			wantItems := progress(t, env).Steps[0].Items
			for _, size := range []int{1, 3, 4, 20} {
				t.Run(fmt.Sprintf("batch_size %d", size), func(t *testing.T) {
					env, rec := newPipelineEnv(t)
					result, err := run(t, env, withBatchSize(sc.spec, size))
					assert.Equal(t, want, outcome(t, result, err))
					step := progress(t, env).Steps[0]
					got := step.Items
					assert.Equal(t, wantItems.Total, got.Total)
					if step.Status == workflows.StatusDone { // a failed map's items in flight were cancelled
						assert.Equal(t, wantItems.Done, got.Done)
						assert.Equal(t, wantItems.Failed, got.Failed)
					}
					for _, info := range rec.infos {
						if strings.HasPrefix(info.ActivityID, "m/") || strings.HasPrefix(info.ActivityID, "e/") {
							assert.Equal(t, activities.BatchActivityName, info.ActivityType.Name, "every item runs in a batch")
						}
					}
				})
			}
		})
	}
}

func TestBatchActivityName(t *testing.T) {
	assert.Equal(t, activities.BatchActivityName, workflows.BatchActivityName)
}

// A batch's activity ID and summary name its items; concurrency bounds the batches in flight; the
// batch activity gets every item's args and the step's error policy.
func TestBatchedMapActivities(t *testing.T) {
	env, rec := newPipelineEnv(t)
	result, err := run(t, env, `{"steps":[{"name":"sq","pool":"math","tool":"square","on_error":"collect",
		"map":{"over":[0,1,2,3,4,5,6,7,8,9],"as":"x","batch_size":4,"concurrency":2},"args":{"k":1}}]}`)
	require.NoError(t, err)
	var entries []workflows.MapEntry
	require.NoError(t, json.Unmarshal(result.Results[0].Result, &entries))
	require.Len(t, entries, 10)
	assert.Equal(t, workflows.MapEntry{OK: true, Value: json.RawMessage(`81`)}, entries[9])

	assert.ElementsMatch(t, []string{"sq/0-3", "sq/4-7", "sq/8-9"}, rec.activityIDs())
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.LessOrEqual(t, rec.peak, 2, "at most concurrency batches at once")
	assert.JSONEq(t, `{"tool": "square", "items": [{"x": 8, "k": 1}, {"x": 9, "k": 1}], "on_error": "collect"}`, string(rec.args["sq/8-9"]))
	for _, info := range rec.infos {
		assert.Equal(t, "snakepool.math", info.TaskQueue)
		assert.Equal(t, workflows.DefaultHeartbeatTimeout, info.HeartbeatTimeout, "a batch has the step's options")
	}
}

// A batched map in chunks: each chunk holds chunk_size batches (whole batches, so that the items
// are grouped as without chunks), and the batches' IDs count from the start of the whole map.
func TestBatchedMapChunks(t *testing.T) {
	env, rec := newPipelineEnv(t)
	over := make([]int, 23)
	for i := range over {
		over[i] = i
	}
	overJSON, _ := json.Marshal(over)
	result, err := run(t, env, fmt.Sprintf(`{"steps":[{"name":"sq","pool":"math","tool":"square",
		"map":{"over":%s,"as":"x","batch_size":5,"chunk_size":2,"concurrency":3}}]}`, overJSON))
	require.NoError(t, err)
	var got []int
	require.NoError(t, json.Unmarshal(result.Results[0].Result, &got))
	for i, v := range got {
		assert.Equal(t, i*i, v)
	}
	ids := rec.activityIDs()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Len(t, rec.children, 3, "23 items in batches of 5: 5 batches, in chunks of 2 batches")
	var batches []string
	for _, id := range ids {
		if strings.HasPrefix(id, "sq/") {
			batches = append(batches, id)
		}
	}
	assert.ElementsMatch(t, []string{"sq/0-4", "sq/5-9", "sq/10-14", "sq/15-19", "sq/20-22"}, batches)
	assert.LessOrEqual(t, rec.peak, 3)
	p := progress(t, env)
	assert.Equal(t, workflows.MapProgress{Known: true, Total: 23, Done: 23, Chunks: 3, ChunksDone: 3}, *p.Steps[0].Items)
	assert.Equal(t, workflows.Counts{Total: 23, Done: 23}, p.Calls, "calls count items, batched or not")
}

// A batched map fits more items in one workflow: its calls are its batches.
func TestBatchedMapRunsInlineByBatches(t *testing.T) {
	env, rec := newPipelineEnv(t)
	over := make([]int, 3000)
	overJSON, _ := json.Marshal(over)
	_, err := run(t, env, fmt.Sprintf(`{"steps":[{"name":"sq","pool":"math","tool":"noop","map":{"over":%s,"as":"x","batch_size":100}}]}`, overJSON))
	require.NoError(t, err)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Empty(t, rec.children, "30 batches run in the pipeline's own workflow")
	assert.Len(t, rec.infos, 30)
}

// A batch that fails as a whole (not at one of its items) fails the map naming its items; with
// collect, every item of it is an entry of the error.
func TestBatchFailedAsAWhole(t *testing.T) {
	env, _ := newPipelineEnv(t)
	_, err := run(t, env, `{"steps":[{"name":"m","pool":"math","tool":"cube","map":{"over":[1,2,3],"as":"x","batch_size":2}}]}`)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, workflows.ErrTypeStepFailed, appErr.Type())
	assert.Regexp(t, `^step m items [02]-[12] \(tool "cube" on pool "math"\) failed: ToolNotFound: pool "test" has no tool "cube"`, appErr.Message())

	env, _ = newPipelineEnv(t)
	result, err := run(t, env, `{"steps":[{"name":"m","pool":"math","tool":"cube","on_error":"collect","map":{"over":[1,2,3],"as":"x","batch_size":2}}]}`)
	require.NoError(t, err)
	var entries []workflows.MapEntry
	require.NoError(t, json.Unmarshal(result.Results[0].Result, &entries))
	require.Len(t, entries, 3)
	for _, e := range entries {
		require.NotNil(t, e.Error)
		assert.Equal(t, "ToolNotFound", e.Error.Type)
		assert.True(t, e.Error.NonRetryable)
	}
}

// A batched map's spec errors fail the workflow at once as InvalidPipeline naming the field, and
// a list that is not a list at run time fails it as InvalidReference, as without batching.
func TestBatchedMapBadInput(t *testing.T) {
	tests := []struct {
		name     string
		spec     string
		wantType string
		wantMsg  string
	}{
		{"batch_size 0", `{"steps":[{"name":"m","pool":"math","tool":"square","map":{"over":[1],"as":"x","batch_size":0}}]}`,
			workflows.ErrTypeInvalidPipeline, `invalid pipeline: step 0 ("m"): steps[0].map.batch_size: must be at least 1, not 0`},
		{"batch_size not an integer", `{"steps":[{"name":"m","pool":"math","tool":"square","map":{"over":[1],"as":"x","batch_size":"all"}}]}`,
			workflows.ErrTypeInvalidPipeline, `invalid pipeline: step 0 ("m"): steps[0].map.batch_size: must be an integer of at least 1, not a string ("all")`},
		{"over is not a list at run time", `{"steps":[{"name":"a","pool":"io","tool":"echo","args":{"v":3}},
			{"name":"m","pool":"math","tool":"square","map":{"over":{"$ref":"steps.a.result.v"},"as":"x","batch_size":2}}]}`,
			workflows.ErrTypeInvalidReference, `step m: steps[1].map.over: must be a list, not a number (3)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, rec := newPipelineEnv(t)
			_, err := run(t, env, tt.spec)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, tt.wantType, appErr.Type())
			assert.Equal(t, tt.wantMsg, appErr.Message())
			assert.True(t, appErr.NonRetryable())
			assert.NotContains(t, rec.activityIDs(), "m/0-0")
		})
	}
}

// A batch_size bigger than any list (up to the largest integer the spec accepts) makes one batch,
// which counts as one call of the workflow's inline budget: the next map, which then no longer
// fits, runs in a child workflow.
func TestBatchedMapHugeBatchSize(t *testing.T) {
	env, rec := newPipelineEnv(t)
	over := strings.TrimSuffix(strings.Repeat("1,", workflows.MaxInlineCalls), ",")
	result, err := run(t, env, fmt.Sprintf(`{"steps":[
		{"name":"a","pool":"m","tool":"square","map":{"over":[1,2,3],"as":"x","batch_size":%d}},
		{"name":"b","pool":"m","tool":"noop","map":{"over":[%s],"as":"x","concurrency":50,"chunk_size":2000}}]}`, math.MaxInt64, over))
	require.NoError(t, err)
	assert.JSONEq(t, `[1, 4, 9]`, string(result.Results[0].Result))
	assert.Contains(t, rec.activityIDs(), "a/0-2", "one batch of every item")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Equal(t, []string{"default-test-workflow-id/steps[1]/chunk-0"}, rec.children, "1 + 2000 calls do not fit in one workflow")
}
