package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/workflows"
)

// recorder records what the test environment ran.
type recorder struct {
	mu        sync.Mutex
	infos     []activity.Info
	args      map[string]json.RawMessage // by activity ID
	running   int
	peak      int
	cancelled int
	children  []string // child workflow IDs
}

func (r *recorder) activityIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, len(r.infos))
	for i, info := range r.infos {
		ids[i] = info.ActivityID
	}
	return ids
}

func newPipelineEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *recorder) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(time.Minute)
	env.RegisterWorkflowWithOptions(workflows.Pipeline, workflow.RegisterOptions{Name: workflows.PipelineName})
	rec := &recorder{args: map[string]json.RawMessage{}}
	// The worker's inspection: pools are served on their default queues, except "nobody".
	env.RegisterActivityWithOptions(func(_ context.Context, req workflows.InspectRequest) (workflows.InspectResult, error) {
		res := workflows.InspectResult{LocalPools: []string{"io", "math"}}
		for _, p := range req.Pools {
			queue := p.TaskQueue
			if queue == "" {
				queue = workflows.PoolTaskQueue(p.Pool)
			}
			res.Pools = append(res.Pools, workflows.PoolAnswer{TaskQueue: queue, Unserved: p.Check && p.Pool == "nobody"})
		}
		return res, nil
	}, activity.RegisterOptions{Name: workflows.InspectActivityName})
	fns := toolFuncs{}
	tool := func(name string, fn func(ctx context.Context, args map[string]any) (any, error)) {
		fns[name] = fn
		env.RegisterActivityWithOptions(rec.recording(func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			var args map[string]any
			if err := json.Unmarshal(raw, &args); err != nil {
				return nil, err
			}
			out, err := fn(ctx, args)
			if err != nil {
				return nil, err
			}
			return json.Marshal(out)
		}), activity.RegisterOptions{Name: name})
	}
	tool("square", func(_ context.Context, a map[string]any) (any, error) {
		x := a["x"].(float64)
		// Later items finish first, so that a map that collected results in completion order fails.
		time.Sleep(time.Duration(10-int(x)%10) * time.Millisecond)
		return x * x, nil
	})
	tool("is_prime", func(_ context.Context, a map[string]any) (any, error) { return a["n"].(float64) == 7919, nil })
	tool("noop", func(context.Context, map[string]any) (any, error) { return nil, nil })
	tool("echo", func(_ context.Context, a map[string]any) (any, error) { return a, nil })
	tool("fail", func(_ context.Context, a map[string]any) (any, error) {
		return nil, temporal.NewApplicationErrorWithOptions(a["message"].(string), "ValueError",
			temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{"Traceback ..."}})
	})
	tool("fail_on", func(_ context.Context, a map[string]any) (any, error) {
		if a["x"] == a["bad"] {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad x %v", a["x"]), "ValueError", nil)
		}
		return a["x"], nil
	})
	tool("flaky", func(context.Context, map[string]any) (any, error) {
		return nil, temporal.NewApplicationError("try again", "OSError")
	})
	// The test environment does not cancel an activity's context when the workflow cancels it (a
	// real worker does); it calls the canceled listener.
	testDone := make(chan struct{})
	t.Cleanup(func() { close(testDone) })
	tool("block", func(ctx context.Context, _ map[string]any) (any, error) {
		select {
		case <-ctx.Done():
		case <-testDone:
		}
		return nil, ctx.Err()
	})
	// The worker's batch activity, over the same tools.
	env.RegisterActivityWithOptions(rec.recording(activities.Batch(fns, "test", slices.Collect(maps.Keys(fns)), activities.Options{})),
		activity.RegisterOptions{Name: activities.BatchActivityName})
	env.SetOnActivityCanceledListener(func(*activity.Info) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.cancelled++
	})
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.infos = append(rec.infos, *info)
	})
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.children = append(rec.children, info.WorkflowExecution.ID)
	})
	return env, rec
}

// recording wraps an activity to record its input and how many activities run at once.
func (r *recorder) recording(fn func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error)) func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		r.mu.Lock()
		r.args[activity.GetInfo(ctx).ActivityID] = raw
		r.running++
		r.peak = max(r.peak, r.running)
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			r.running--
			r.mu.Unlock()
		}()
		return fn(ctx, raw)
	}
}

// toolFuncs are the test environment's tools by name; as an activities.BatchRunner, it runs a
// batch's items one after the other as the pool does, a tool's ApplicationError being the item's
// error.
type toolFuncs map[string]func(ctx context.Context, args map[string]any) (any, error)

func (f toolFuncs) CallBatch(ctx context.Context, call pools.BatchCall) error {
	fn := f[call.Tool]
	for i := call.First; i < len(call.Items); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var args map[string]any
		if err := json.Unmarshal(call.Items[i], &args); err != nil {
			return err
		}
		item := pools.ItemResult{Index: i}
		out, err := fn(ctx, args)
		var appErr *temporal.ApplicationError
		switch {
		case errors.As(err, &appErr):
			item.Err = &pools.ToolError{Type: appErr.Type(), Message: appErr.Message(), NonRetryable: appErr.NonRetryable()}
		case err != nil:
			return err
		default:
			if item.Result, err = json.Marshal(out); err != nil {
				return err
			}
		}
		call.OnItem(item)
		if item.Err != nil && !call.ContinueOnError {
			return nil
		}
	}
	return nil
}

func mustSpec(t *testing.T, s string) workflows.PipelineSpec {
	t.Helper()
	spec, err := workflows.ParseSpec([]byte(s))
	require.NoError(t, err)
	return spec
}

// run executes a spec given as JSON; the spec reaches the workflow through the data converter, as
// it does from the Temporal CLI.
func run(t *testing.T, env *testsuite.TestWorkflowEnvironment, spec string) (workflows.PipelineResult, error) {
	t.Helper()
	env.ExecuteWorkflow(workflows.PipelineName, json.RawMessage(spec))
	require.True(t, env.IsWorkflowCompleted())
	if err := env.GetWorkflowError(); err != nil {
		return workflows.PipelineResult{}, err
	}
	var result workflows.PipelineResult
	require.NoError(t, env.GetWorkflowResult(&result))
	return result, nil
}

func resultJSON(t *testing.T, result workflows.PipelineResult) string {
	t.Helper()
	out, err := json.Marshal(result)
	require.NoError(t, err)
	return string(out)
}

func progress(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.Progress {
	t.Helper()
	value, err := env.QueryWorkflow(workflows.ProgressQuery)
	require.NoError(t, err)
	var p workflows.Progress
	require.NoError(t, value.Get(&p))
	return p
}

func TestPipelineRunsStepsInOrder(t *testing.T) {
	env, rec := newPipelineEnv(t)
	result, err := run(t, env, `{
		"defaults": {"start_to_close_timeout": "2m", "retry": {"maximum_attempts": 3}},
		"steps": [
			{"name": "sq", "pool": "math", "tool": "square", "args": {"x": 12}},
			{"pool": "math", "tool": "is_prime", "args": {"n": 7919}, "task_queue": "custom",
			 "start_to_close_timeout": "30s", "heartbeat_timeout": "5s", "retry": {"maximum_attempts": 1}},
			{"pool": "other", "tool": "noop"}
		]}`)
	require.NoError(t, err)
	assert.JSONEq(t, `{"results":[
		{"step":0,"name":"sq","pool":"math","tool":"square","result":144},
		{"step":1,"pool":"math","tool":"is_prime","result":true},
		{"step":2,"pool":"other","tool":"noop","result":null}
	]}`, resultJSON(t, result))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.infos, 3)
	tests := []struct {
		tool         string
		activityID   string
		taskQueue    string
		startToClose time.Duration
		heartbeat    time.Duration
	}{
		{"square", "sq", "snakepool.math", 2 * time.Minute, workflows.DefaultHeartbeatTimeout},
		{"is_prime", "steps[1]", "custom", 30 * time.Second, 5 * time.Second},
		{"noop", "steps[2]", "snakepool.other", 2 * time.Minute, workflows.DefaultHeartbeatTimeout},
	}
	for i, want := range tests {
		info := rec.infos[i]
		assert.Equal(t, want.tool, info.ActivityType.Name, "step %d", i)
		assert.Equal(t, want.activityID, info.ActivityID, "step %d", i)
		assert.Equal(t, want.taskQueue, info.TaskQueue, "step %d", i)
		assert.Equal(t, want.startToClose, info.StartToCloseTimeout, "step %d", i)
		assert.Equal(t, want.heartbeat, info.HeartbeatTimeout, "step %d", i)
	}
	assert.JSONEq(t, `{}`, string(rec.args["steps[2]"]), "a step without args gets {}")
}

// TestPipelineSequenceParallelMapAndReferences checks the values a pipeline with every kind of
// step and reference computes.
func TestPipelineSequenceParallelMapAndReferences(t *testing.T) {
	env, rec := newPipelineEnv(t)
	result, err := run(t, env, `{"steps": [
		{"name": "nums", "pool": "io", "tool": "echo", "args": {"values": [1, 2, 3, 4, 5, 6, 7, 8, 9], "meta": {"k": "v"}}},
		{"name": "squares", "pool": "math", "tool": "square",
		 "map": {"over": {"$ref": "steps.nums.result.values"}, "as": "x", "concurrency": 3}},
		{"name": "fan", "parallel": [
			{"name": "prime", "pool": "math", "tool": "is_prime", "args": {"n": 7919}},
			{"name": "branch", "steps": [
				{"name": "first", "pool": "io", "tool": "echo", "args": {"v": {"$ref": "steps.squares.result.0"}}},
				{"name": "both", "pool": "io", "tool": "echo",
				 "args": {"first": {"$ref": "steps.first.result.v"}, "k": {"$ref": "steps.nums.result.meta.k"}}}
			]},
			{"name": "pairs", "pool": "io", "tool": "echo",
			 "map": {"over": [{"a": 1}, {"a": {"$ref": "steps.squares.result.2"}}]},
			 "args": {"value": {"$ref": "item.a"}, "whole": {"$ref": "item"}, "lit": {"$literal": {"$ref": "item"}}}}
		]},
		{"name": "last", "pool": "io", "tool": "echo",
		 "args": {"prime": {"$ref": "steps.prime.result"}, "fan": {"$ref": "steps.fan.result.1.1"}, "all": {"$ref": "steps.squares.result"}}}
	]}`)
	require.NoError(t, err)
	require.Len(t, result.Results, 4)
	assert.JSONEq(t, `[1,4,9,16,25,36,49,64,81]`, string(result.Results[1].Result), "map results are in input order")
	assert.JSONEq(t, `[true, [{"v":1}, {"first":1,"k":"v"}],
		[{"value":1,"whole":{"a":1},"lit":{"$ref":"item"}}, {"value":9,"whole":{"a":9},"lit":{"$ref":"item"}}]]`,
		string(result.Results[2].Result), "a group's result is its steps' results in order")
	assert.JSONEq(t, `{"prime":true,"fan":{"first":1,"k":"v"},"all":[1,4,9,16,25,36,49,64,81]}`, string(result.Results[3].Result))
	assert.Empty(t, result.Results[2].Pool)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.LessOrEqual(t, rec.peak, 3, "at most concurrency items run at once")
	assert.JSONEq(t, `{"x":7}`, string(rec.args["squares/6"]), "a map item's activity ID is <name>/<index>")
	assert.Contains(t, rec.args, "both", "a tool step's activity ID is its name")

	p := progress(t, env)
	assert.Equal(t, workflows.StatusDone, p.Status)
	assert.Equal(t, 7, p.Total, "tool and map steps")
	assert.Equal(t, 7, p.Done)
	assert.Equal(t, workflows.Counts{Total: 16, Done: 16}, p.Calls, "5 tool steps + 9 + 2 items")
}

func TestPipelineMapConcurrencyAndOrder(t *testing.T) {
	tests := []struct {
		name        string
		concurrency string
		wantPeak    int
	}{
		{"one at a time", `,"concurrency": 1`, 1},
		{"four", `,"concurrency": 4`, 4},
		{"default", ``, workflows.DefaultMapConcurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, rec := newPipelineEnv(t)
			over := make([]int, 30)
			want := make([]int, 30)
			for i := range over {
				over[i] = i
				want[i] = i * i
			}
			overJSON, _ := json.Marshal(over)
			result, err := run(t, env, fmt.Sprintf(`{"steps":[{"pool":"math","tool":"square","map":{"over":%s,"as":"x"%s}}]}`, overJSON, tt.concurrency))
			require.NoError(t, err)
			wantJSON, _ := json.Marshal(want)
			assert.JSONEq(t, string(wantJSON), string(result.Results[0].Result))
			assert.LessOrEqual(t, rec.peak, tt.wantPeak)
			assert.GreaterOrEqual(t, rec.peak, min(tt.wantPeak, 2), "items do run at the same time")
		})
	}
}

// TestPipelineMapChunks runs maps bigger than chunk_size, which run in child workflows.
func TestPipelineMapChunks(t *testing.T) {
	tests := []struct {
		name        string
		items       int
		chunkSize   int
		concurrency int
		wantPeak    int
		wantChunks  int
	}{
		{"uneven chunks", 11, 3, 2, 2, 4},
		{"concurrency above the chunk size runs chunks at once", 20, 4, 12, 12, 5},
		{"fits in one chunk: no child", 5, 5, 3, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, rec := newPipelineEnv(t)
			over := make([]int, tt.items)
			want := make([]int, tt.items)
			for i := range over {
				over[i] = i
				want[i] = i * i
			}
			overJSON, _ := json.Marshal(over)
			spec := fmt.Sprintf(`{"steps":[
				{"name":"base","pool":"io","tool":"echo","args":{"offset":100}},
				{"name":"sq","pool":"math","tool":"square","start_to_close_timeout":"42s",
				 "map":{"over":%s,"as":"x","chunk_size":%d,"concurrency":%d},
				 "args":{"base":{"$ref":"steps.base.result.offset"},"tricky":{"$literal":{"$ref":"item"}}}}]}`,
				overJSON, tt.chunkSize, tt.concurrency)
			result, err := run(t, env, spec)
			require.NoError(t, err)
			wantJSON, _ := json.Marshal(want)
			assert.JSONEq(t, string(wantJSON), string(result.Results[1].Result), "results in input order")

			rec.mu.Lock()
			defer rec.mu.Unlock()
			assert.LessOrEqual(t, rec.peak, tt.wantPeak, "concurrency holds across chunks")
			wantChildren := make([]string, tt.wantChunks)
			for k := range wantChildren {
				wantChildren[k] = fmt.Sprintf("default-test-workflow-id/steps[1]/chunk-%d", k)
			}
			assert.ElementsMatch(t, wantChildren, rec.children)
			for i := range tt.items {
				args, ok := rec.args[fmt.Sprintf("sq/%d", i)]
				require.True(t, ok, "item %d's activity ID counts from the start of the whole map", i)
				assert.JSONEq(t, fmt.Sprintf(`{"x":%d,"base":100,"tricky":{"$ref":"item"}}`, i), string(args),
					"references are resolved once, literals are kept literal through the child")
			}
			for _, info := range rec.infos {
				if info.ActivityType.Name == "square" {
					assert.Equal(t, 42*time.Second, info.StartToCloseTimeout, "the step's options reach the chunks")
				}
			}

			p := progress(t, env)
			items := p.Steps[1].Items
			require.NotNil(t, items)
			assert.Equal(t, workflows.MapProgress{Known: true, Total: tt.items, Done: tt.items, Chunks: tt.wantChunks, ChunksDone: tt.wantChunks}, *items)
		})
	}
}

func TestPipelineMapItemFailure(t *testing.T) {
	tests := []struct {
		name  string
		chunk string
	}{
		{"in the workflow", ``},
		{"in a chunk", `,"chunk_size":3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, rec := newPipelineEnv(t)
			_, err := run(t, env, `{"steps":[{"name":"m","pool":"math","tool":"fail_on",
				"map":{"over":[0,1,2,3,4,5,6,7,8,9],"as":"x","concurrency":1`+tt.chunk+`},"args":{"bad":4}}]}`)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, workflows.ErrTypeStepFailed, appErr.Type())
			assert.Equal(t, `step m item 4 (tool "fail_on" on pool "math") failed: ValueError: bad x 4`, appErr.Message())
			var failure workflows.StepFailure
			require.NoError(t, appErr.Details(&failure))
			require.NotNil(t, failure.Item)
			assert.Equal(t, workflows.StepFailure{Step: "m", Path: "steps[0]", Item: failure.Item, Pool: "math", Tool: "fail_on",
				ErrorType: "ValueError", Message: "bad x 4"}, failure)
			assert.Equal(t, 4, *failure.Item)
			assert.NotContains(t, rec.activityIDs(), "m/5", "no item starts after one failed")

			p := progress(t, env)
			assert.Equal(t, workflows.StatusFailed, p.Status)
			assert.Equal(t, workflows.StatusFailed, p.Steps[0].Status)
			assert.Equal(t, 1, p.Failed)
			assert.Contains(t, p.Error, "item 4")
		})
	}
}

func TestPipelineParallelFailureCancelsSiblings(t *testing.T) {
	env, rec := newPipelineEnv(t)
	_, err := run(t, env, `{"steps":[
		{"name":"group","parallel":[
			{"name":"waits","pool":"io","tool":"block","heartbeat_timeout":"1h"},
			{"name":"breaks","steps":[{"pool":"math","tool":"noop"},{"name":"boom","pool":"math","tool":"fail","args":{"message":"no"}}]}
		]},
		{"name":"never","pool":"math","tool":"noop"}]}`)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, `step boom (tool "fail" on pool "math") failed: ValueError: no`, appErr.Message())
	var actErr *temporal.ActivityError
	require.ErrorAs(t, err, &actErr, "the activity error is the cause")

	require.Eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.cancelled == 1
	}, 10*time.Second, 10*time.Millisecond, "the sibling's call is cancelled")
	assert.NotContains(t, rec.activityIDs(), "never")

	p := progress(t, env)
	statuses := map[string]string{}
	for _, s := range p.Steps {
		statuses[s.Path] = s.Status
	}
	assert.Equal(t, map[string]string{
		"steps[0]":                      workflows.StatusFailed,
		"steps[0].parallel[0]":          workflows.StatusCancelled,
		"steps[0].parallel[1]":          workflows.StatusFailed,
		"steps[0].parallel[1].steps[0]": workflows.StatusDone,
		"steps[0].parallel[1].steps[1]": workflows.StatusFailed,
		"steps[1]":                      workflows.StatusPending,
	}, statuses)
}

func TestPipelineOptionsInheritance(t *testing.T) {
	env, rec := newPipelineEnv(t)
	_, err := run(t, env, `{"defaults":{"start_to_close_timeout":"1m","heartbeat_timeout":"7s"},"steps":[
		{"pool":"m","tool":"noop"},
		{"start_to_close_timeout":"2m","parallel":[
			{"pool":"m","tool":"noop"},
			{"pool":"m","tool":"noop","start_to_close_timeout":"3m","heartbeat_timeout":"9s"},
			{"schedule_to_start_timeout":"11s","steps":[{"pool":"m","tool":"noop"}]}
		]}]}`)
	require.NoError(t, err)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	got := map[string][2]time.Duration{} // unnamed steps: the activity ID is the path
	for _, info := range rec.infos {
		got[info.ActivityID] = [2]time.Duration{info.StartToCloseTimeout, info.HeartbeatTimeout}
	}
	assert.Equal(t, map[string][2]time.Duration{
		"steps[0]":                      {time.Minute, 7 * time.Second},
		"steps[1].parallel[0]":          {2 * time.Minute, 7 * time.Second},
		"steps[1].parallel[1]":          {3 * time.Minute, 9 * time.Second},
		"steps[1].parallel[2].steps[0]": {2 * time.Minute, 7 * time.Second},
	}, got)
}

func TestPipelineRetryPolicy(t *testing.T) {
	tests := []struct {
		name         string
		spec         string
		wantAttempts int
	}{
		{"from defaults", `{"defaults":{"retry":{"maximum_attempts":3,"initial_interval":"1s"}},"steps":[{"pool":"m","tool":"flaky"}]}`, 3},
		{"step overrides defaults", `{"defaults":{"retry":{"maximum_attempts":3}},"steps":[{"pool":"m","tool":"flaky","retry":{"maximum_attempts":2}}]}`, 2},
		{"group overrides defaults", `{"defaults":{"retry":{"maximum_attempts":3}},"steps":[{"retry":{"maximum_attempts":2},"steps":[{"pool":"m","tool":"flaky"}]}]}`, 2},
		{"non-retryable type", `{"steps":[{"pool":"m","tool":"flaky","retry":{"non_retryable_error_types":["OSError"]}}]}`, 1},
		{"map item", `{"steps":[{"pool":"m","tool":"flaky","map":{"over":[1],"as":"x"},"retry":{"maximum_attempts":2}}]}`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, rec := newPipelineEnv(t)
			_, err := run(t, env, tt.spec)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Contains(t, appErr.Message(), "failed: OSError: try again")
			assert.Len(t, rec.infos, tt.wantAttempts)
		})
	}
}

func TestPipelineDefaultTimeout(t *testing.T) {
	env, rec := newPipelineEnv(t)
	_, err := run(t, env, `{"steps":[{"pool":"math","tool":"noop"}]}`)
	require.NoError(t, err)
	require.Len(t, rec.infos, 1)
	assert.Equal(t, workflows.DefaultStartToCloseTimeout, rec.infos[0].StartToCloseTimeout)
}

func TestPipelineStepFailure(t *testing.T) {
	env, rec := newPipelineEnv(t)
	_, err := run(t, env, `{"steps":[
		{"pool":"math","tool":"square","args":{"x":2}},
		{"name":"explode","pool":"math","tool":"fail","args":{"message":"boom"}},
		{"pool":"math","tool":"noop"}
	]}`)
	require.Error(t, err)

	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, workflows.ErrTypeStepFailed, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, `step explode (tool "fail" on pool "math") failed: ValueError: boom`, appErr.Message())
	var failure workflows.StepFailure
	require.NoError(t, appErr.Details(&failure))
	assert.Equal(t, workflows.StepFailure{Step: "explode", Path: "steps[1]", Pool: "math", Tool: "fail", ErrorType: "ValueError", Message: "boom"}, failure)

	var actErr *temporal.ActivityError
	require.ErrorAs(t, err, &actErr, "the activity error is the cause")
	var pyErr *temporal.ApplicationError
	require.ErrorAs(t, actErr, &pyErr)
	assert.Equal(t, "ValueError", pyErr.Type())
	assert.Equal(t, "boom", pyErr.Message())

	assert.Len(t, rec.infos, 2, "the step after the failed one does not run")
}

func TestPipelineRejectsInvalidSpec(t *testing.T) {
	tests := []struct {
		name string
		spec any
		want string
	}{
		{
			"built in Go",
			workflows.PipelineSpec{Steps: []workflows.Step{{Pool: "math", Tool: "noop"}, {Name: "b", Pool: "math"}}},
			`invalid pipeline: step 1 ("b"): steps[1].tool: required`,
		},
		{
			"unknown field sent as JSON (as from the Temporal CLI)",
			json.RawMessage(`{"steps":[{"pool":"math","tool":"noop"},{"name":"m","parallel":[{"pool":"math","tool":"square","map":{"over":[1],"as":"x","concurency":2}}]}]}`),
			`invalid pipeline: step steps[1].parallel[0]: steps[1].parallel[0].map.concurency: unknown field (known: over, as, concurrency, batch_size, chunk_size, offset)`,
		},
		{
			"wrong type sent as JSON",
			json.RawMessage(`{"steps":[{"name":"a","pool":"math","tool":"noop","start_to_close_timeout":30}]}`),
			`invalid pipeline: step 0 ("a"): steps[0].start_to_close_timeout: must be a string, not a number (30)`,
		},
		{
			"reference to a later step",
			json.RawMessage(`{"steps":[{"name":"a","pool":"m","tool":"echo","args":{"v":{"$ref":"steps.b.result"}}},{"name":"b","pool":"m","tool":"noop"}]}`),
			`invalid pipeline: step 0 ("a"): steps[0].args.v: reference "steps.b.result": step steps[1] ("b") has not finished when this step starts`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, rec := newPipelineEnv(t)
			env.ExecuteWorkflow(workflows.PipelineName, tt.spec)
			require.True(t, env.IsWorkflowCompleted())
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, env.GetWorkflowError(), &appErr)
			assert.Equal(t, workflows.ErrTypeInvalidPipeline, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Contains(t, appErr.Message(), tt.want)
			assert.Empty(t, rec.infos, "no step runs when the spec is invalid")
			p := progress(t, env)
			assert.Equal(t, workflows.StatusFailed, p.Status)
			assert.Contains(t, p.Error, tt.want)
		})
	}
}

func TestPipelineInvalidReferenceAtRunTime(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want string
	}{
		{
			"missing key",
			`{"steps":[{"name":"a","pool":"m","tool":"echo","args":{"k":1}},{"name":"b","pool":"m","tool":"echo","args":{"v":{"$ref":"steps.a.result.nope"}}}]}`,
			`step b: steps[1].args.v: reference "steps.a.result.nope": the value has no key "nope" (its keys: k)`,
		},
		{
			"index out of range",
			`{"steps":[{"name":"a","pool":"m","tool":"echo","args":{"k":[1,2]}},{"name":"b","pool":"m","tool":"echo","args":{"v":{"$ref":"steps.a.result.k.5"}}}]}`,
			`step b: steps[1].args.v: reference "steps.a.result.k.5": "k" is a list of 2: index 5 is out of range`,
		},
		{
			"map over a non-list",
			`{"steps":[{"name":"a","pool":"m","tool":"echo","args":{"k":1}},{"name":"b","pool":"m","tool":"square","map":{"over":{"$ref":"steps.a.result.k"},"as":"x"}}]}`,
			`step b: steps[1].map.over: must be a list, not a number (1)`,
		},
		{
			"item path",
			`{"steps":[{"name":"b","pool":"m","tool":"echo","map":{"over":[{"a":1},{"b":2}]},"args":{"v":{"$ref":"item.a"}}}]}`,
			`step b item 1: steps[0].args.v: reference "item.a": the value has no key "a" (its keys: b)`,
		},
		{
			"item path in a chunk",
			`{"steps":[{"name":"b","pool":"m","tool":"echo","map":{"over":[{"a":1},{"a":2},{"b":2}],"chunk_size":2},"args":{"v":{"$ref":"item.a"}}}]}`,
			`step b item 2: steps[0].args.v: reference "item.a": the value has no key "a" (its keys: b)`,
		},
		{
			"args replaced by a non-object",
			`{"steps":[{"name":"a","pool":"m","tool":"echo","args":{"k":1}},{"name":"b","pool":"m","tool":"echo","args":{"$ref":"steps.a.result.k"}}]}`,
			`step b: steps[1].args: args must be an object, not a number (1)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := newPipelineEnv(t)
			_, err := run(t, env, tt.spec)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, workflows.ErrTypeInvalidReference, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Equal(t, tt.want, appErr.Message())
		})
	}
}

func TestPipelineCancelled(t *testing.T) {
	env, rec := newPipelineEnv(t)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Second)
	_, err := run(t, env, `{"steps":[{"name":"w","pool":"io","tool":"block","heartbeat_timeout":"1h"}]}`)
	require.Error(t, err)
	assert.True(t, temporal.IsCanceledError(err), "a cancelled pipeline ends as cancelled: %v", err)
	assert.Eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.cancelled == 1
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, workflows.StatusCancelled, progress(t, env).Status)
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

// TestPipelineInlineBudget checks the inline budget: a second map that would take the
// workflow's own calls over MaxInlineCalls runs in a child, even though it fits in one chunk.
func TestPipelineInlineBudget(t *testing.T) {
	env, rec := newPipelineEnv(t)
	n := workflows.MaxInlineCalls/2 + 1
	over := strings.TrimSuffix(strings.Repeat("1,", n), ",")
	_, err := run(t, env, fmt.Sprintf(`{"steps":[
		{"name":"a","pool":"m","tool":"noop","map":{"over":[%s],"as":"x","concurrency":50,"chunk_size":2000}},
		{"name":"b","pool":"m","tool":"noop","map":{"over":[%s],"as":"x","concurrency":50,"chunk_size":2000}}]}`, over, over))
	require.NoError(t, err)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Equal(t, []string{"default-test-workflow-id/steps[1]/chunk-0"}, rec.children)
	_, ok := rec.args[fmt.Sprintf("b/%d", n-1)]
	assert.True(t, ok, "the second map's last item ran")
}
