package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/pools"
)

// squareItem is a fake tool over one item {"x": ...}: x*x for a number, a non-retryable
// InvalidArguments for anything else, a retryable ValueError for x == 7, and a crash of the
// worker for x == 13.
func squareItem(index int, args json.RawMessage) (pools.ItemResult, error) {
	var in struct{ X any }
	if err := json.Unmarshal(args, &in); err != nil {
		return pools.ItemResult{}, err
	}
	x, ok := in.X.(float64)
	switch {
	case !ok:
		return pools.ItemResult{Index: index, Err: &pools.ToolError{Type: "InvalidArguments", Message: "x must be a number", NonRetryable: true}}, nil
	case x == 7:
		return pools.ItemResult{Index: index, Err: &pools.ToolError{Type: "ValueError", Message: "seven", Traceback: "Traceback ...\nValueError: seven"}}, nil
	case x == 13:
		return pools.ItemResult{}, &pools.WorkerCrashedError{Pool: "math", WorkerID: "math-1", PID: 42, ExitCode: -1, Signal: "segmentation fault",
			StderrTail: "Fatal Python error", BatchItem: index}
	}
	return pools.ItemResult{Index: index, Result: json.RawMessage(fmt.Sprint(x * x))}, nil
}

// itemsRunner is a fake CallBatch that runs item over the items from First, as the pool does:
// in order, stopping after a failed item unless ContinueOnError, and at an error.
func itemsRunner(item func(index int, args json.RawMessage) (pools.ItemResult, error)) func(context.Context, pools.BatchCall) error {
	return func(ctx context.Context, call pools.BatchCall) error {
		for i := call.First; i < len(call.Items); i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, err := item(i, call.Items[i])
			if err != nil {
				return err
			}
			call.OnItem(r)
			if r.Err != nil && !call.ContinueOnError {
				return nil
			}
		}
		return nil
	}
}

func batchInput(t *testing.T, onError string, xs ...any) json.RawMessage {
	t.Helper()
	items := make([]map[string]any, len(xs))
	for i, x := range xs {
		items[i] = map[string]any{"x": x}
	}
	raw, err := json.Marshal(map[string]any{"tool": "square", "items": items, "on_error": onError})
	require.NoError(t, err)
	return raw
}

func batchPool() *fakePool {
	return &fakePool{tools: []string{"square", "train"}, batch: itemsRunner(squareItem)}
}

// The batch activity runs every item in one CallBatch and returns the results in item order; with
// collect, every item's outcome is an entry (contract C3) and the batch goes on past a failure.
func TestBatchResults(t *testing.T) {
	tests := []struct {
		name      string
		input     json.RawMessage
		want      string
		continue_ bool
	}{
		{"fail: every item", batchInput(t, "fail", 1, 2, 3), `[1, 4, 9]`, false},
		{"default on_error is fail", json.RawMessage(`{"tool": "square", "items": [{"x": 4}]}`), `[16]`, false},
		{"no items", json.RawMessage(`{"tool": "square", "items": []}`), `[]`, false},
		{"collect", batchInput(t, "collect", 1, "two", 7, 3), `[
			{"ok": true, "value": 1},
			{"ok": false, "error": {"type": "InvalidArguments", "message": "x must be a number", "non_retryable": true}},
			{"ok": false, "error": {"type": "ValueError", "message": "seven", "non_retryable": false}},
			{"ok": true, "value": 9}]`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := batchPool()
			env := newEnv(t, pool)
			val, err := env.ExecuteActivity(activities.BatchActivityName, tt.input)
			require.NoError(t, err)
			var out json.RawMessage
			require.NoError(t, val.Get(&out))
			assert.JSONEq(t, tt.want, string(out))
			if tt.want == `[]` {
				assert.Empty(t, pool.batches, "nothing to run")
				return
			}
			require.Len(t, pool.batches, 1)
			call := pool.batches[0]
			assert.Equal(t, "square", call.Tool)
			assert.Equal(t, 0, call.First)
			assert.Equal(t, tt.continue_, call.ContinueOnError)
			assert.Equal(t, activities.BatchActivityName, call.Info.ActivityType)
		})
	}
}

// With fail, the first failing item fails the batch with the item's error, its message naming the
// item within the batch and details[0] {"item": index}; the outcomes before it are recorded in the
// last heartbeat, for the retry to start at the failed item.
func TestBatchFailsAtTheFailingItem(t *testing.T) {
	tests := []struct {
		name         string
		xs           []any
		wantType     string
		wantMessage  string
		nonRetryable bool
		wantItem     int
		wantDetails  string // details[1]
		wantBeat     string
	}{
		{
			name: "a retryable Python error", xs: []any{1, 2, 7, 3},
			wantType: "ValueError", wantMessage: "batch item 2: seven", wantItem: 2, wantDetails: "Traceback ...\nValueError: seven",
			wantBeat: `[null, 0.5, {"snakepool": {"batch": {"next": 2, "reached": 2, "results": [1, 4]}}}]`,
		},
		{
			name: "a non-retryable one", xs: []any{"one"},
			wantType: "InvalidArguments", wantMessage: "batch item 0: x must be a number", nonRetryable: true, wantItem: 0,
			wantBeat: `[null, 0, {"snakepool": {"batch": {"next": 0, "reached": 0, "results": []}}}]`,
		},
		{
			name: "a crash of the worker", xs: []any{1, 13, 2},
			wantType: activities.ErrTypeWorkerCrashed, wantItem: 1, wantDetails: "Fatal Python error",
			wantMessage: `batch item 1: pool "math": python worker math-1 (pid 42) crashed: signal segmentation fault (crashed attempts of this activity: 1 of at most 3)`,
			wantBeat: `[null, 0.3333333333333333, {"snakepool": {"crashed_attempts": 1, "last_crash": "signal segmentation fault (SIGSEGV)",
				"batch": {"next": 1, "reached": 1, "results": [1], "crashed_item": 1}}}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, batchPool())
			var hb heartbeats
			env.SetOnActivityHeartbeatListener(hb.listen(t))
			_, err := env.ExecuteActivity(activities.BatchActivityName, batchInput(t, "fail", tt.xs...))
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, tt.wantType, appErr.Type())
			assert.Equal(t, tt.wantMessage, appErr.Message())
			assert.Equal(t, tt.nonRetryable, appErr.NonRetryable())
			var item activities.BatchItemFailure
			var details string
			require.NoError(t, appErr.Details(&item, &details))
			assert.Equal(t, tt.wantItem, item.Item)
			assert.Equal(t, tt.wantDetails, details)
			assert.JSONEq(t, tt.wantBeat, hb.last())
		})
	}
}

// A collected batch goes on past an item that crashes its worker for the last time allowed: its
// entry is the WorkerCrashed error (non-retryable), and the rest run in a new CallBatch.
func TestBatchCollectsAPoisonItem(t *testing.T) {
	pool := batchPool()
	env := newEnvWithOptions(t, pool, activities.Options{MaxCrashedAttempts: 1})
	val, err := env.ExecuteActivity(activities.BatchActivityName, batchInput(t, "collect", 1, 13, 2))
	require.NoError(t, err)
	var out []activities.BatchEntry
	require.NoError(t, val.Get(&out))
	require.Len(t, out, 3)
	assert.Equal(t, activities.BatchEntry{OK: true, Value: json.RawMessage(`1`)}, out[0])
	assert.Equal(t, activities.BatchEntry{OK: true, Value: json.RawMessage(`4`)}, out[2])
	require.NotNil(t, out[1].Error)
	assert.Equal(t, activities.ErrTypeWorkerCrashed, out[1].Error.Type)
	assert.True(t, out[1].Error.NonRetryable)
	assert.Contains(t, out[1].Error.Message, `the python worker crashed in 1 attempts of this activity`)
	require.Len(t, pool.batches, 2)
	assert.Equal(t, 2, pool.batches[1].First, "the batch goes on after the poison item")

	// Under the limit, the attempt fails (retryable), for the retry to run the item again.
	env = newEnv(t, batchPool())
	_, err = env.ExecuteActivity(activities.BatchActivityName, batchInput(t, "collect", 1, 13, 2))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, activities.ErrTypeWorkerCrashed, appErr.Type())
	assert.False(t, appErr.NonRetryable())
}

// Errors of the batch as a whole name what is wrong and are not retried.
func TestBatchInputErrors(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		limit    int
		wantType string
		wantMsg  string
	}{
		{"not an object", `[1]`, 0, activities.ErrTypeInvalidBatch,
			`pool "math": the input of activity snakepool.batch is not a batch: want {"tool": "<tool>", "items": [{...}, ...], "on_error": "fail" | "collect"}: json: cannot unmarshal array into Go value of type activities.BatchInput`},
		{"unknown field", `{"tool": "square", "items": [], "onerror": "collect"}`, 0, activities.ErrTypeInvalidBatch, `json: unknown field "onerror"`},
		{"no tool", `{"items": [{}]}`, 0, activities.ErrTypeInvalidBatch, `"tool" is required`},
		{"bad on_error", `{"tool": "square", "items": [{}], "on_error": "skip"}`, 0, activities.ErrTypeInvalidBatch, `"on_error" must be "fail" or "collect", not "skip"`},
		{"an item that is not an object", `{"tool": "square", "items": [{}, 3]}`, 0, activities.ErrTypeInvalidBatch, `items[1] must be a JSON object`},
		{"unknown tool", `{"tool": "cube", "items": [{}]}`, 0, activities.ErrTypeToolNotFound, `pool "math" has no tool "cube" (its tools: square, train)`},
		{"arguments over the limit", `{"tool": "square", "items": [{"x": 1}, {"x": 2}, {"x": 3}]}`, 40, activities.ErrTypePayloadTooLarge,
			`pool "math" tool "square": the batch's arguments are 51 bytes (0.00 MiB), over the limit of 40 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := batchPool()
			env := newEnvWithOptions(t, pool, activities.Options{MaxPayloadBytes: tt.limit})
			_, err := env.ExecuteActivity(activities.BatchActivityName, json.RawMessage(tt.input))
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, tt.wantType, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Contains(t, appErr.Message(), tt.wantMsg)
			assert.Empty(t, pool.batches, "nothing ran")
		})
	}
}

// A result that grows over the payload limit ends the batch at once (no use running the rest)
// with a non-retryable PayloadTooLarge that names the limit and suggests a smaller batch_size.
func TestBatchResultOverTheLimit(t *testing.T) {
	ran := 0
	pool := &fakePool{tools: []string{"train"}, batch: itemsRunner(func(index int, _ json.RawMessage) (pools.ItemResult, error) {
		ran++
		return pools.ItemResult{Index: index, Result: json.RawMessage(`"` + strings.Repeat("x", 98) + `"`)}, nil
	})}
	env := newEnvWithOptions(t, pool, activities.Options{MaxPayloadBytes: 1000})
	_, err := env.ExecuteActivity(activities.BatchActivityName, json.RawMessage(`{"tool": "train", "items": [`+strings.Repeat(`{},`, 19)+`{}]}`))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, activities.ErrTypePayloadTooLarge, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, `pool "math" tool "train": the batch's result is 1011 bytes (0.00 MiB) after 10 of its 20 items, over the limit of 1000 bytes `+
		`(0.00 MiB, the pool's max_payload_bytes): use a smaller batch_size, or have the tool return less (a path or an id, not the data)`, appErr.Message())
	assert.Equal(t, 10, ran, "the batch stopped once the result was over the limit")
}

// A batch item that stops heartbeating for the progress timeout is cut short: with fail, the batch
// fails with a retryable ProgressTimeout naming the item; with collect, the item's entry is the
// error and the batch goes on. Items that end restart the timeout, as heartbeats do.
func TestBatchProgressTimeout(t *testing.T) {
	stuckAt := func(stuck int) func(context.Context, pools.BatchCall) error {
		return func(ctx context.Context, call pools.BatchCall) error {
			for i := call.First; i < len(call.Items); i++ {
				if i == stuck {
					<-ctx.Done() // the pool returns once it has cancelled the item in Python
					return ctx.Err()
				}
				time.Sleep(30 * time.Millisecond) // the items take a while: 5 of them take more than the timeout
				call.OnItem(pools.ItemResult{Index: i, Result: json.RawMessage(`0`)})
			}
			return nil
		}
	}
	input := json.RawMessage(`{"tool": "train", "items": [{}, {}, {}, {}, {}, {}], "on_error": "%s"}`)
	t.Run("fail", func(t *testing.T) {
		pool := &fakePool{tools: []string{"train"}, batch: stuckAt(5)}
		env := newEnvWithOptions(t, pool, activities.Options{ProgressTimeout: 100 * time.Millisecond})
		_, err := env.ExecuteActivity(activities.BatchActivityName, json.RawMessage(fmt.Sprintf(string(input), "fail")))
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, activities.ErrTypeProgressTimeout, appErr.Type())
		assert.False(t, appErr.NonRetryable())
		assert.Equal(t, `batch item 5: pool "math" tool "train": no heartbeat from the tool for 100ms (the progress_timeout of the tool); `+
			`the call was cancelled: is the tool stuck? It must call ctx.heartbeat at least every 100ms`, appErr.Message())
		var item activities.BatchItemFailure
		require.NoError(t, appErr.Details(&item))
		assert.Equal(t, 5, item.Item)
	})
	t.Run("collect", func(t *testing.T) {
		calls := 0
		pool := &fakePool{tools: []string{"train"}}
		pool.batch = func(ctx context.Context, call pools.BatchCall) error {
			calls++
			if calls == 1 {
				return stuckAt(2)(ctx, call)
			}
			return stuckAt(-1)(ctx, call)
		}
		env := newEnvWithOptions(t, pool, activities.Options{ProgressTimeout: 100 * time.Millisecond})
		val, err := env.ExecuteActivity(activities.BatchActivityName, json.RawMessage(fmt.Sprintf(string(input), "collect")))
		require.NoError(t, err)
		var out []activities.BatchEntry
		require.NoError(t, val.Get(&out))
		require.Len(t, out, 6)
		for i, e := range out {
			if i == 2 {
				require.NotNil(t, e.Error)
				assert.Equal(t, activities.ErrTypeProgressTimeout, e.Error.Type)
				assert.True(t, strings.HasPrefix(e.Error.Message, `pool "math" tool "train": no heartbeat from the tool for 100ms`), e.Error.Message)
				continue
			}
			assert.True(t, e.OK, "item %d", i)
		}
	})
}
