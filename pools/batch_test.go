package pools

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"
)

// items returns one JSON args object per value, as {key: value}.
func items(t testing.TB, key string, values ...any) []json.RawMessage {
	out := make([]json.RawMessage, len(values))
	for i, v := range values {
		out[i] = mustJSON(t, map[string]any{key: v})
	}
	return out
}

// outcome is an ItemResult in a comparable form: the result, or "Type: message".
func (r ItemResult) outcome() string {
	if r.Err != nil {
		return r.Err.Type + ": " + r.Err.Message
	}
	return string(r.Result)
}

// runBatch runs a batch, collecting its items.
func runBatch(t testing.TB, p *Pool, ctx context.Context, call BatchCall) ([]ItemResult, []Heartbeat, error) {
	t.Helper()
	var got []ItemResult
	var beats []Heartbeat
	call.OnItem = func(r ItemResult) { got = append(got, r) }
	call.OnHeartbeat = func(hb Heartbeat) { beats = append(beats, hb) }
	err := p.CallBatch(ctx, call)
	return got, beats, err
}

// badTwo is the item error of square's {"x": "two"}.
const badTwo = `InvalidArguments: tool 'square': argument 'x': expected number, got string "two". It accepts: x: number`

// TestCallBatch: a batch runs its items in order in one worker and reports each item's result or
// error as it ends, in both profiles.
func TestCallBatch(t *testing.T) {
	for _, profile := range []Profile{ProfileProcess, ProfileThread} {
		t.Run(string(profile), func(t *testing.T) {
			opts := testOptions(t, testAdap, 1)
			opts.Profile = profile
			p := startPool(t, opts)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			tests := []struct {
				name  string
				call  BatchCall
				want  []string // the items' outcomes, in order, from First
				first int
			}{
				{"every item", BatchCall{Tool: "square", Items: items(t, "x", 1, 2, 3)}, []string{"1", "4", "9"}, 0},
				{"a bad item stops the batch", BatchCall{Tool: "square", Items: items(t, "x", 2, "two", 3)},
					[]string{"4", badTwo}, 0},
				{"continue on error", BatchCall{Tool: "square", Items: items(t, "x", 2, "two", 3), ContinueOnError: true},
					[]string{"4", badTwo, "9"}, 0},
				{"resumed from First", BatchCall{Tool: "square", Items: items(t, "x", 1, 2, 3, 4), First: 2}, []string{"9", "16"}, 2},
				{"an empty args object", BatchCall{Tool: "noop", Items: []json.RawMessage{nil, json.RawMessage(`{}`)}}, []string{"null", "null"}, 0},
				{"nothing to run", BatchCall{Tool: "square", Items: items(t, "x", 1), First: 1}, nil, 0},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, _, err := runBatch(t, p, ctx, tt.call)
					require.NoError(t, err)
					var outcomes []string
					for i, r := range got {
						assert.Equal(t, tt.first+i, r.Index, "items end in order")
						outcomes = append(outcomes, r.outcome())
					}
					assert.Equal(t, tt.want, outcomes)
				})
			}
		})
	}
}

// TestCallBatchErrors: what a batch that cannot run returns.
func TestCallBatchErrors(t *testing.T) {
	p := startPool(t, testOptions(t, testAdap, 1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tests := []struct {
		name    string
		call    BatchCall
		wantErr string
	}{
		{"no tool", BatchCall{Items: items(t, "x", 1)}, "a batch needs a tool"},
		{"first out of range", BatchCall{Tool: "square", Items: items(t, "x", 1), First: 2}, "first item 2 is not in [0, 1]"},
		{"negative first", BatchCall{Tool: "square", Items: items(t, "x", 1), First: -1}, "first item -1 is not in [0, 1]"},
		{"unknown tool", BatchCall{Tool: "nope", Items: items(t, "x", 1)}, "python ToolNotFound: adapter has no tool 'nope'"},
		{"resume not JSON", BatchCall{Tool: "noop", Items: []json.RawMessage{nil}, Resume: json.RawMessage("{")}, "python InvalidArguments: resume details are not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := runBatch(t, p, ctx, tt.call)
			require.ErrorContains(t, err, tt.wantErr)
			assert.Empty(t, got)
		})
	}
	_, err := call(t, p, "noop", nil)
	require.NoError(t, err, "the worker serves on")
}

// TestCallBatchHeartbeatsAndResume: the items' heartbeats reach OnHeartbeat tagged with their
// item; Resume goes to the item at First only.
func TestCallBatchHeartbeatsAndResume(t *testing.T) {
	p := startPool(t, testOptions(t, showcase, 1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, beats, err := runBatch(t, p, ctx, BatchCall{
		Tool: "progress", Items: items(t, "steps", 9, 3, 2), First: 1, Resume: json.RawMessage(`{"step": 1}`),
	})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, []string{"2", "2"}, []string{got[0].outcome(), got[1].outcome()}, "item 1 resumed at step 1 of 3")
	var tagged []string
	for _, hb := range beats {
		tagged = append(tagged, fmt.Sprintf("%d:%s", hb.Item, hb.Details))
	}
	assert.Equal(t, []string{`1:{"step":2}`, `1:{"step":3}`, `2:{"step":1}`, `2:{"step":2}`}, tagged)
}

// TestCallBatchCancel: cancelling a batch's context cancels the item running (cooperatively: the
// worker lives on) and runs no further item; the items that ended before were reported.
func TestCallBatchCancel(t *testing.T) {
	for _, profile := range []Profile{ProfileProcess, ProfileThread} {
		t.Run(string(profile), func(t *testing.T) {
			opts := testOptions(t, testAdap, 1)
			opts.Profile = profile
			p := startPool(t, opts)
			pid := workerPIDs(p)[0]
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var got []ItemResult
			err := p.CallBatch(ctx, BatchCall{
				Tool: "sleep", Items: items(t, "seconds", 0, 30, 0),
				OnItem:      func(r ItemResult) { got = append(got, r) },
				OnHeartbeat: func(hb Heartbeat) { _ = hb.Item == 1 && cancelOnce(cancel) },
			})
			require.ErrorIs(t, err, context.Canceled)
			require.Len(t, got, 1, "item 0 ended before the cancel; item 1 was cut short, item 2 never ran")
			assert.Equal(t, 0, got[0].Index)
			assert.Equal(t, []int{pid}, workerPIDs(p), "the worker survives a cooperative cancel")
			waitFor(t, p, 5*time.Second, "the slot back", func() bool { return p.Available() == p.Capacity() })
			_, err = call(t, p, "noop", nil)
			require.NoError(t, err)
		})
	}
}

func cancelOnce(cancel context.CancelFunc) bool { cancel(); return true }

// TestCallBatchIgnoredCancel: an item whose tool ignores the cancel past the cancel grace gets
// its worker killed (process profile), as a call's does.
func TestCallBatchIgnoredCancel(t *testing.T) {
	opts := testOptions(t, testAdap, 1)
	opts.CancelGrace = 300 * time.Millisecond
	p := startPool(t, opts)
	pid := workerPIDs(p)[0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := p.CallBatch(ctx, BatchCall{
		Tool: "ignore_cancel", Items: items(t, "seconds", 30, 30),
		OnHeartbeat: func(Heartbeat) { cancel() },
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "did not stop within 300ms")
	waitGone(t, []int{pid}, 5*time.Second)
	waitFor(t, p, 20*time.Second, "a replacement", func() bool { return p.Available() == 1 })
}

// TestCallBatchCrash: a worker that dies during a batch fails it with a *WorkerCrashedError that
// says which item was running; the items before were reported, and the worker is replaced.
func TestCallBatchCrash(t *testing.T) {
	p := startPool(t, testOptions(t, testAdap, 1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, _, err := runBatch(t, p, ctx, BatchCall{Tool: "exit_if", Items: items(t, "code", 0, 0, 7, 0)})
	var crashed *WorkerCrashedError
	require.ErrorAs(t, err, &crashed)
	require.Len(t, got, 2, "%v", got)
	assert.Equal(t, 2, crashed.BatchItem)
	assert.Equal(t, 7, crashed.ExitCode)
	assert.ErrorContains(t, err, "batch of exit_if: item 2 of 4 was running")
	require.Len(t, got, 2)
	waitFor(t, p, 20*time.Second, "a replacement", func() bool { return p.Available() == 1 })
}

// TestCallBatchCountsItemsAsRequests: a batch's items count toward MaxRequestsPerWorker.
func TestCallBatchCountsItemsAsRequests(t *testing.T) {
	scope := tally.NewTestScope("", nil)
	opts := testOptions(t, testAdap, 1)
	opts.MaxRequestsPerWorker = 5
	opts.RecycleJitter = -1
	opts.Metrics = scope
	p := startPool(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, p.CallBatch(ctx, BatchCall{Tool: "noop", Items: make([]json.RawMessage, 6)}))
	waitFor(t, p, 20*time.Second, "the recycle", func() bool {
		return counterValue(scope, metricRecycles, map[string]string{"reason": "requests"}) == 1
	})
}

// TestCallBatchConcurrent: batches and calls share the pool's slots; each batch holds one.
func TestCallBatchConcurrent(t *testing.T) {
	opts := testOptions(t, testAdap, 2)
	opts.Profile = ProfileThread
	opts.ThreadsPerWorker = 2
	p := startPool(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for b := range 8 {
		wg.Go(func() {
			values := make([]any, 50)
			for i := range values {
				values[i] = b*100 + i
			}
			got, _, err := runBatch(t, p, ctx, BatchCall{Tool: "square", Items: items(t, "x", values...)})
			if err == nil && len(got) != len(values) {
				err = fmt.Errorf("batch %d: %d items of %d", b, len(got), len(values))
			}
			for i, r := range got {
				x := float64(b*100 + i)
				if r.outcome() != fmt.Sprint(x*x) {
					err = fmt.Errorf("batch %d item %d: %s, want %v", b, i, r.outcome(), x*x)
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, p.Capacity(), p.Available())
}
