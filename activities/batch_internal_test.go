package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/snakepool/snakepool/pools"
)

// previousOf reads heartbeat values as the next attempt does (through their payloads).
func previousOf(t *testing.T, values []any) previous {
	t.Helper()
	raws := make([]converter.RawValue, len(values))
	for i, v := range values {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		require.NoError(t, err)
		raws[i] = converter.NewRawValue(p)
	}
	prev, err := parsePrevious(raws)
	require.NoError(t, err)
	return prev
}

// recordingRunner is a BatchRunner of the square of {"x": n}, crashing at x == 13.
type recordingRunner struct {
	mu    sync.Mutex
	calls []pools.BatchCall
}

func (r *recordingRunner) CallBatch(_ context.Context, call pools.BatchCall) error {
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
	for i := call.First; i < len(call.Items); i++ {
		var in struct{ X int }
		if err := json.Unmarshal(call.Items[i], &in); err != nil {
			return err
		}
		if in.X == 13 {
			return &pools.WorkerCrashedError{Pool: "math", WorkerID: "math-1", PID: 7, ExitCode: -1, Signal: "killed", BatchItem: i}
		}
		call.OnItem(pools.ItemResult{Index: i, Result: json.RawMessage(fmt.Sprint(in.X * in.X))})
	}
	return nil
}

// runAttempt runs one attempt of a batch over xs whose previous attempt's last heartbeat was
// prevValues, and returns its result or error, what it asked the runner, and its last heartbeat.
func runAttempt(t *testing.T, opts Options, prevValues []any, onError string, xs ...int) (json.RawMessage, error, []pools.BatchCall, []any) {
	t.Helper()
	items := make([]json.RawMessage, len(xs))
	for i, x := range xs {
		items[i] = json.RawMessage(fmt.Sprintf(`{"x": %d}`, x))
	}
	runner := &recordingRunner{}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	var last []any
	var mu sync.Mutex
	env.RegisterActivityWithOptions(func(ctx context.Context) (json.RawMessage, error) {
		r := &batchRun{runner: runner, pool: "math", in: BatchInput{Tool: "square", Items: items, OnError: onError},
			collect: onError == BatchOnErrorCollect, opts: opts.withDefaults()}
		var prev previous
		if prevValues != nil {
			prev = previousOf(t, prevValues)
		}
		out, err := r.run(ctx, prev)
		mu.Lock()
		defer mu.Unlock()
		r.hb.mu.Lock()
		last = r.hb.valuesLocked()
		r.hb.mu.Unlock()
		return out, err
	}, activity.RegisterOptions{Name: "attempt"})
	val, err := env.ExecuteActivity("attempt")
	var out json.RawMessage
	if err == nil {
		require.NoError(t, val.Get(&out))
	}
	mu.Lock()
	defer mu.Unlock()
	return out, err, runner.calls, last
}

func trailerOf(t *testing.T, book string) json.RawMessage {
	t.Helper()
	return json.RawMessage(`{"snakepool": ` + book + `}`)
}

// A retried attempt starts after the last item the previous one recorded and keeps the recorded
// outcomes; the tool's details reach the item they belong to as ctx.resume, and no other item.
func TestBatchResumes(t *testing.T) {
	tests := []struct {
		name       string
		prev       []any
		wantFirst  int
		wantResume string
	}{
		{"first attempt", nil, 0, ""},
		{"after two items", []any{json.RawMessage(`null`), 0.5, trailerOf(t, `{"batch": {"next": 2, "reached": 2, "results": [1, 4]}}`)}, 2, ""},
		{"with the running item's details", []any{json.RawMessage(`{"epoch": 3}`), 0.6,
			trailerOf(t, `{"batch": {"next": 2, "reached": 2, "results": [1, 4], "details_item": 2}}`)}, 2, `{"epoch": 3}`},
		{"details of an item past the recorded ones are not its", []any{json.RawMessage(`{"epoch": 3}`), 0.8,
			trailerOf(t, `{"batch": {"next": 1, "reached": 3, "results": [1], "details_item": 3}}`)}, 1, ""},
		{"progress that does not fit the batch is ignored", []any{json.RawMessage(`null`), 0.5,
			trailerOf(t, `{"batch": {"next": 3, "reached": 3, "results": [1, 4]}}`)}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err, calls, _ := runAttempt(t, Options{}, tt.prev, BatchOnErrorFail, 1, 2, 3, 4)
			require.NoError(t, err)
			assert.JSONEq(t, `[1, 4, 9, 16]`, string(out), "the recorded outcomes are kept")
			require.Len(t, calls, 1)
			assert.Equal(t, tt.wantFirst, calls[0].First)
			if tt.wantResume == "" {
				assert.Empty(t, calls[0].Resume)
			} else {
				assert.JSONEq(t, tt.wantResume, string(calls[0].Resume))
			}
		})
	}
}

// A crash counts toward max_crashed_attempts for the item that was running: attempts that crashed
// at the same item add up, a crash at another item starts the count over.
func TestBatchCrashesCountPerItem(t *testing.T) {
	prevWith := func(item int, results string) []any {
		return []any{json.RawMessage(`null`), 0.25, trailerOf(t, fmt.Sprintf(
			`{"crashed_attempts": 2, "last_crash": "signal killed", "batch": {"next": 1, "reached": 1, "results": %s, "crashed_item": %d}}`, results, item))}
	}
	prevAt := func(item int) []any { return prevWith(item, `[1]`) }
	t.Run("the third crash at the same item", func(t *testing.T) {
		_, err, _, last := runAttempt(t, Options{}, prevAt(1), BatchOnErrorFail, 1, 13, 2, 3)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, ErrTypeWorkerCrashed, appErr.Type())
		assert.True(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Message(), `batch item 1: pool "math" tool "square": the python worker crashed in 3 attempts of this activity (the last: signal killed (SIGKILL))`)
		assert.JSONEq(t, `[null, 0.25, {"snakepool": {"crashed_attempts": 3, "last_crash": "signal killed (SIGKILL)",
			"batch": {"next": 1, "reached": 1, "results": [1], "crashed_item": 1}}}]`, asJSON(t, last))
	})
	t.Run("a crash at another item", func(t *testing.T) {
		_, err, _, _ := runAttempt(t, Options{}, prevAt(0), BatchOnErrorFail, 1, 13, 2, 3)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.False(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Message(), `(crashed attempts of this activity: 1 of at most 3)`)
	})
	t.Run("collect: the poison item's entry, and the count starts over", func(t *testing.T) {
		out, err, calls, last := runAttempt(t, Options{}, prevWith(1, `[{"ok": true, "value": 1}]`), BatchOnErrorCollect, 1, 13, 2, 3)
		require.NoError(t, err)
		var entries []BatchEntry
		require.NoError(t, json.Unmarshal(out, &entries))
		require.Len(t, entries, 4)
		assert.False(t, entries[1].OK)
		assert.Equal(t, ErrTypeWorkerCrashed, entries[1].Error.Type)
		assert.True(t, entries[1].Error.NonRetryable)
		require.Len(t, calls, 2)
		assert.Equal(t, []int{1, 2}, []int{calls[0].First, calls[1].First})
		assert.NotContains(t, asJSON(t, last), `"crashed_attempts":`)
		assert.NotContains(t, asJSON(t, last), `"crashed_item":`)
	})
}

// A heartbeat carries the longest prefix of outcomes that fits the payload limit, beside the tool's
// details: a retry starts after the last outcome it carries.
func TestBatchHeartbeatFitsTheLimit(t *testing.T) {
	send := func(...any) {}
	const limit = batchHeartbeatMargin + 100
	h := startBatchHeartbeats(context.Background(), minHeartbeatInterval, previous{}, 40, nil, limit, send)
	defer h.stop()
	for range 30 {
		h.itemEnded(json.RawMessage(`"abcdefgh"`)) // 11 bytes with its comma
	}
	h.record(pools.Heartbeat{Details: json.RawMessage(`{"epoch":12345}`), Progress: 0.5, Item: 30})
	h.mu.Lock()
	values := h.valuesLocked()
	h.mu.Unlock()
	tr, ok := values[2].(trailer)
	require.True(t, ok)
	p := tr.Snakepool.Batch
	assert.Equal(t, 30, p.Reached)
	// 100 bytes, less the 15 of the details: 85; [o0,...,o6] takes 7*11 = 77 bytes, 8 would take 88.
	assert.Equal(t, 7, p.Next)
	assert.Equal(t, "["+strings.Repeat(`"abcdefgh",`, 6)+`"abcdefgh"]`, string(p.Results))
	assert.JSONEq(t, `{"epoch":12345}`, string(values[0].(json.RawMessage)))
	assert.InDelta(t, 30.5/40, values[1], 1e-9)
	assert.Equal(t, 30, *p.DetailsItem)
}
