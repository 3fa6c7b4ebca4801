package workflows_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/workflows"
)

// batchTests runs batched maps (map.batch_size) on the real pools.
func batchTests(t *testing.T, s stack) {
	t.Run("batched and unbatched maps give identical results", func(t *testing.T) {
		over := make([]int, 40)
		for i := range over {
			over[i] = i
		}
		overJSON, err := json.Marshal(over)
		require.NoError(t, err)
		specs := []struct {
			name, spec string
		}{
			{"process pool", `{"steps":[{"name":"m","pool":"math","tool":"square","map":{"over":` + string(overJSON) + `,"as":"x","concurrency":4}}]}`},
			{"thread pool", `{"steps":[{"name":"m","pool":"io","tool":"echo","map":{"over":[{"a":1},{"a":"b"},{"a":[3]},{"a":null},{"a":{"c":5}}],"concurrency":3},
				"args":{"v":{"$ref":"item.a"},"k":12345678901234567890}}]}`},
			{"items with heartbeats", `{"steps":[{"name":"m","pool":"io","tool":"progress","map":{"over":[1,2,3,4,5,6,7],"as":"steps"},"args":{"interval":0.001}}]}`},
			{"fail", `{"steps":[{"name":"m","pool":"math","tool":"square","retry":{"maximum_attempts":1},"map":{"over":[1,2,"three",4,5],"as":"x","concurrency":1}}]}`},
			{"collect", `{"steps":[{"name":"m","pool":"math","tool":"square","on_error":"collect","retry":{"maximum_attempts":1},"map":{"over":[1,"two",3,null,5],"as":"x"}}]}`},
			{"continue", `{"steps":[{"name":"m","pool":"io","tool":"fail_permanently","on_error":"continue","map":{"over":["a","b"],"as":"message"}},
				{"name":"after","pool":"io","tool":"echo","args":{"went":"on"}}]}`},
			{"chunked", `{"steps":[{"name":"m","pool":"math","tool":"square","map":{"over":` + string(overJSON) + `,"as":"x","chunk_size":3,"concurrency":4}}]}`},
		}
		for _, sc := range specs {
			t.Run(sc.name, func(t *testing.T) {
				want := pipelineOutcome(t, s, sc.spec)
				got := pipelineOutcome(t, s, withBatchSize(sc.spec, 3))
				assert.Equal(t, want, got)
			})
		}
	})

	t.Run("MapTool maps a tool over real pools from a Go workflow, batched or not", func(t *testing.T) {
		const queue = "maptool-test"
		w := sdkworker.New(s.client, queue, sdkworker.Options{})
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context, n int) (map[string][]float64, error) {
			xs := make([]squareArgs, n)
			for i := range xs {
				xs[i] = squareArgs{X: float64(i)}
			}
			one, err := workflows.MapTool[float64](ctx, "math", "square", xs, workflows.MapOptions{Concurrency: 4})
			if err != nil {
				return nil, err
			}
			batched, err := workflows.MapTool[float64](ctx, "math", "square", xs, workflows.MapOptions{BatchSize: 7, Concurrency: 2})
			if err != nil {
				return nil, err
			}
			return map[string][]float64{"one": one, "batched": batched}, nil
		}, workflow.RegisterOptions{Name: "MapToolTest"})
		require.NoError(t, w.Start())
		defer w.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, "MapToolTest", 30)
		require.NoError(t, err)
		var out map[string][]float64
		require.NoError(t, run.Get(ctx, &out))
		require.Len(t, out["one"], 30)
		for i, v := range out["one"] {
			assert.InDelta(t, float64(i*i), v, 0)
		}
		assert.Equal(t, out["one"], out["batched"])
	})

	t.Run("a batch's activity heartbeats its progress with the item's details", func(t *testing.T) {
		run := s.start(t, `{"steps":[{"name":"m","pool":"io","tool":"progress","heartbeat_timeout":"3s","map":{"over":[40,40,40],"as":"steps","batch_size":3},"args":{"interval":0.02}}]}`)
		var seen workflows.StepProgress
		require.Eventually(t, func() bool {
			p := describeProgress(t, s, run.GetID())
			seen = p.Steps[0]
			return seen.HeartbeatProgress != nil && *seen.HeartbeatProgress > 1.0/3 // the second item is running
		}, time.Minute, 20*time.Millisecond, "the batch's progress was heartbeated")
		var details struct {
			Step int `json:"step"`
		}
		require.NoError(t, json.Unmarshal(seen.Heartbeat, &details), string(seen.Heartbeat))
		assert.Positive(t, details.Step, "the details are the running item's")
		_, err := wait(t, run)
		require.NoError(t, err)
	})

	t.Run("a worker killed mid-batch: the retry resumes after the last completed item", func(t *testing.T) {
		log := filepath.Join(t.TempDir(), "executions.jsonl")
		const items, stallAt = 10, 6
		spec := fmt.Sprintf(`{"steps":[{"name":"rec","pool":"tests","tool":"record","retry":{"initial_interval":"100ms"},
			"map":{"over":%s,"as":"x","batch_size":%d},"args":{"log":%q,"stall_at":%d}}]}`, intsJSON(t, items), items, log, stallAt)
		run := s.start(t, spec)
		var stalled execution
		require.Eventually(t, func() bool {
			for _, e := range executions(t, log) {
				if e.X == stallAt {
					stalled = e
					return true
				}
			}
			return false
		}, time.Minute, 20*time.Millisecond, "item %d runs", stallAt)
		require.NoError(t, syscall.Kill(stalled.PID, syscall.SIGKILL))
		result, err := wait(t, run)
		require.NoError(t, err)

		want := make([]int, items)
		for i := range want {
			want[i] = i * 10
		}
		var got []int
		require.NoError(t, json.Unmarshal(result.Results[0].Result, &got))
		assert.Equal(t, want, got, "the results of the items before the kill were kept")

		runs := map[int][]execution{}
		for _, e := range executions(t, log) {
			runs[e.X] = append(runs[e.X], e)
		}
		for x := range items {
			switch {
			case x < stallAt:
				require.Len(t, runs[x], 1, "item %d ran once: before the kill, never again", x)
				assert.Equal(t, 1, runs[x][0].Attempt)
			case x == stallAt:
				require.Len(t, runs[x], 2, "the item that was running when the worker died ran again")
				assert.Equal(t, []int{1, 2}, []int{runs[x][0].Attempt, runs[x][1].Attempt})
				assert.JSONEq(t, fmt.Sprintf(`{"at": %d}`, stallAt), string(runs[x][1].Resume), "it resumed from its own heartbeat")
			default:
				require.Len(t, runs[x], 1, "item %d ran once, in the retry", x)
				assert.Equal(t, 2, runs[x][0].Attempt)
				assert.JSONEq(t, `null`, string(runs[x][0].Resume))
			}
		}
		attempt, failure := lastAttempt(t, s, run.GetID())
		assert.Equal(t, int32(2), attempt)
		assert.Equal(t, activities.ErrTypeWorkerCrashed, failure.GetApplicationFailureInfo().GetType())
		assert.Contains(t, failure.GetMessage(), fmt.Sprintf("batch item %d: ", stallAt), "the crash names the item that was running")
	})

	t.Run("a poison item in a batch", func(t *testing.T) {
		spec := `{"steps":[{"name":"p","pool":"tests","tool":"crash_on","retry":{"initial_interval":"100ms"},
			"map":{"over":[1,2,3,4],"as":"x","batch_size":4},"args":{"poison":3}}]}`
		t.Run("collect: its entry is WorkerCrashed, the other items run", func(t *testing.T) {
			collect := strings.Replace(spec, `"name":"p",`, `"name":"p","on_error":"collect",`, 1)
			result, err := wait(t, s.start(t, collect))
			require.NoError(t, err)
			var entries []workflows.MapEntry
			require.NoError(t, json.Unmarshal(result.Results[0].Result, &entries))
			require.Len(t, entries, 4)
			for i, want := range []string{"2", "4", "", "8"} {
				if want == "" {
					require.NotNil(t, entries[i].Error)
					assert.Equal(t, activities.ErrTypeWorkerCrashed, entries[i].Error.Type)
					assert.True(t, entries[i].Error.NonRetryable)
					assert.Contains(t, entries[i].Error.Message, `the python worker crashed in 3 attempts of this activity (the last: signal segmentation fault (SIGSEGV))`)
					continue
				}
				assert.Equal(t, workflows.MapEntry{OK: true, Value: json.RawMessage(want)}, entries[i], "item %d", i)
			}
		})
		t.Run("fail: the map fails naming the item, after max_crashed_attempts", func(t *testing.T) {
			run := s.start(t, spec)
			_, err := wait(t, run)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, workflows.ErrTypeStepFailed, appErr.Type())
			assert.Contains(t, appErr.Message(), `step p item 2 (tool "crash_on" on pool "tests") failed: WorkerCrashed: pool "tests" tool "crash_on": `+
				`the python worker crashed in 3 attempts of this activity (the last: signal segmentation fault (SIGSEGV)); not retrying`)
			var failure workflows.StepFailure
			require.NoError(t, appErr.Details(&failure))
			require.NotNil(t, failure.Item)
			assert.Equal(t, 2, *failure.Item)
			attempt, _ := lastAttempt(t, s, run.GetID())
			assert.Equal(t, int32(3), attempt, "three attempts, then no more")
		})
	})
}

// describeProgress is workflows.DescribeProgress of a running pipeline.
func describeProgress(t *testing.T, s stack, workflowID string) workflows.Progress {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := workflows.DescribeProgress(ctx, s.client, workflowID, "")
	require.NoError(t, err)
	return p
}

// lastAttempt returns the attempt of the last activity started in a workflow's history, and the
// failure of its previous attempt.
func lastAttempt(t *testing.T, s stack, workflowID string) (int32, *failurepb.Failure) {
	t.Helper()
	var attempt int32
	var failure *failurepb.Failure
	for _, e := range events(t, s.client, workflowID) {
		if a := e.GetActivityTaskStartedEventAttributes(); a != nil {
			attempt, failure = a.GetAttempt(), a.GetLastFailure()
		}
	}
	return attempt, failure
}

// pipelineOutcome runs a spec and returns its result as JSON, or its error's message.
func pipelineOutcome(t *testing.T, s stack, spec string) string {
	t.Helper()
	result, err := wait(t, s.start(t, spec))
	if err != nil {
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		return appErr.Type() + ": " + appErr.Message()
	}
	return resultJSON(t, result)
}

func intsJSON(t *testing.T, n int) string {
	t.Helper()
	xs := make([]int, n)
	for i := range xs {
		xs[i] = i
	}
	raw, err := json.Marshal(xs)
	require.NoError(t, err)
	return string(raw)
}

// execution is a line of the record tool's log.
type execution struct {
	X       int             `json:"x"`
	PID     int             `json:"pid"`
	Attempt int             `json:"attempt"`
	Resume  json.RawMessage `json:"resume"`
}

func executions(t *testing.T, path string) []execution {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []execution
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var e execution
		if json.Unmarshal(sc.Bytes(), &e) == nil { // a line being written is read again next time
			out = append(out, e)
		}
	}
	return out
}
