package activities_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/pools"
)

// heartbeats records what an activity of a test environment heartbeats, as JSON arrays.
type heartbeats struct {
	mu   sync.Mutex
	seen []string
}

func (h *heartbeats) listen(t *testing.T) func(*activity.Info, converter.EncodedValues) {
	return func(_ *activity.Info, values converter.EncodedValues) {
		var raws [3]converter.RawValue
		require.NoError(t, values.Get(&raws[0], &raws[1], &raws[2]))
		var parts []string
		for _, raw := range raws {
			if raw.Payload() == nil {
				break
			}
			var v json.RawMessage
			require.NoError(t, converter.GetDefaultDataConverter().FromPayload(raw.Payload(), &v))
			parts = append(parts, string(v))
		}
		h.mu.Lock()
		h.seen = append(h.seen, "["+strings.Join(parts, ",")+"]")
		h.mu.Unlock()
	}
}

func (h *heartbeats) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) == 0 {
		return ""
	}
	return h.seen[len(h.seen)-1]
}

func (h *heartbeats) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...)
}

// A poison input: an attempt that crashes its worker is counted in the heartbeat details'
// bookkeeping, recorded before the attempt fails (the next attempt reads it back: see
// TestParsePrevious and the worker's TestPoisonInput), and the attempt that reaches
// MaxCrashedAttempts fails non-retryably naming the signal and the count.
func TestCrashedAttemptsAreCounted(t *testing.T) {
	segv := &pools.WorkerCrashedError{Pool: "math", WorkerID: "math-4", PID: 42, ExitCode: -1, Signal: "segmentation fault", StderrTail: "Fatal Python error"}
	tests := []struct {
		name    string
		limit   int
		wantNon bool
		wantMsg string
	}{
		{
			name: "a first crash is retried", limit: 0,
			wantMsg: `pool "math": python worker math-4 (pid 42) crashed: signal segmentation fault (crashed attempts of this activity: 1 of at most 3)`,
		},
		{
			name: "the crash that reaches the limit fails for good", limit: 1, wantNon: true,
			wantMsg: `pool "math" tool "square": the python worker crashed in 1 attempts of this activity (the last: signal segmentation fault (SIGSEGV)); ` +
				`not retrying, as the pool's max_crashed_attempts is 1`,
		},
		{
			name: "no limit", limit: -1,
			wantMsg: `(crashed attempts of this activity: 1)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := &fakePool{tools: []string{"square"}, run: func(call pools.Call) (json.RawMessage, error) {
				call.OnHeartbeat(pools.Heartbeat{Details: json.RawMessage(`{"epoch":3}`), Progress: 0.3})
				return nil, segv
			}}
			env := newEnvWithOptions(t, pool, activities.Options{MaxCrashedAttempts: tt.limit})
			var hb heartbeats
			env.SetOnActivityHeartbeatListener(hb.listen(t))
			_, err := env.ExecuteActivity("square", json.RawMessage(`{"x":1}`))
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, activities.ErrTypeWorkerCrashed, appErr.Type())
			assert.Equal(t, tt.wantNon, appErr.NonRetryable())
			assert.Contains(t, appErr.Message(), tt.wantMsg)
			var stderr string
			require.NoError(t, appErr.Details(&stderr))
			assert.Equal(t, "Fatal Python error", stderr)
			assert.JSONEq(t, `[{"epoch":3},0.3,{"snakepool":{"crashed_attempts":1,"last_crash":"signal segmentation fault (SIGSEGV)"}}]`,
				hb.last(), "the count is recorded after the tool's own details")
		})
	}
}

// blockUntilCancelled is a pool call that sends beats heartbeats every gap, then waits for its
// context (bounded), as the pool does once it has cancelled the call in Python.
func blockUntilCancelled(ctx context.Context, call pools.Call, beats []json.RawMessage, gap time.Duration) (json.RawMessage, error) {
	for _, details := range beats {
		call.OnHeartbeat(pools.Heartbeat{Details: details, Progress: -1})
		select {
		case <-time.After(gap):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Minute):
		return json.RawMessage(`"not cancelled"`), nil
	}
}

// contextPool is a fakePool whose calls see their context.
type contextPool struct {
	fakePool
	runCtx func(ctx context.Context, call pools.Call) (json.RawMessage, error)
}

func (p *contextPool) Call(ctx context.Context, call pools.Call) (json.RawMessage, error) {
	return p.runCtx(ctx, call)
}

// A tool that stops heartbeating for its progress timeout (alive but stuck) has its call
// cancelled and its attempt failed with a retryable ProgressTimeout naming the tool and the
// timeout; its heartbeats restart the timeout; a tool's own setting overrides the pool's.
func TestProgressTimeout(t *testing.T) {
	t.Run("a stuck tool", func(t *testing.T) {
		pool := &contextPool{fakePool: fakePool{tools: []string{"train"}}, runCtx: func(ctx context.Context, call pools.Call) (json.RawMessage, error) {
			return blockUntilCancelled(ctx, call, []json.RawMessage{json.RawMessage(`{"epoch":1}`)}, 0)
		}}
		env := newEnvForPool(t, pool, activities.Options{ProgressTimeout: 100 * time.Millisecond})
		_, err := env.ExecuteActivity("train", nil)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, activities.ErrTypeProgressTimeout, appErr.Type())
		assert.False(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Message(), `pool "math" tool "train": no heartbeat from the tool for 100ms`)
	})
	t.Run("heartbeats keep it running", func(t *testing.T) {
		beats := make([]json.RawMessage, 6)
		for i := range beats {
			beats[i] = json.RawMessage(`{"epoch":1}`)
		}
		pool := &contextPool{fakePool: fakePool{tools: []string{"train"}}, runCtx: func(ctx context.Context, call pools.Call) (json.RawMessage, error) {
			// 6 beats 400ms apart: 2.4s in all, over the 2s timeout, never 2s without a beat.
			if _, err := blockUntilCancelledFor(ctx, call, beats, 400*time.Millisecond); err != nil {
				return nil, err
			}
			return json.RawMessage(`"trained"`), nil
		}}
		env := newEnvForPool(t, pool, activities.Options{ProgressTimeout: 2 * time.Second})
		val, err := env.ExecuteActivity("train", nil)
		require.NoError(t, err)
		var out string
		require.NoError(t, val.Get(&out))
		assert.Equal(t, "trained", out)
	})
	t.Run("a tool's own setting overrides the pool's", func(t *testing.T) {
		pool := &contextPool{fakePool: fakePool{tools: []string{"train", "quick"}}, runCtx: func(ctx context.Context, call pools.Call) (json.RawMessage, error) {
			return blockUntilCancelled(ctx, call, nil, 0)
		}}
		env := newEnvForPool(t, pool, activities.Options{ProgressTimeout: time.Hour,
			ToolProgressTimeouts: map[string]time.Duration{"quick": 50 * time.Millisecond}})
		_, err := env.ExecuteActivity("quick", nil)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, activities.ErrTypeProgressTimeout, appErr.Type())
		assert.Contains(t, appErr.Message(), `tool "quick": no heartbeat from the tool for 50ms`)
	})
}

// blockUntilCancelledFor sends the beats gap apart and returns, unless ctx ends first.
func blockUntilCancelledFor(ctx context.Context, call pools.Call, beats []json.RawMessage, gap time.Duration) (json.RawMessage, error) {
	for _, details := range beats {
		call.OnHeartbeat(pools.Heartbeat{Details: details, Progress: -1})
		select {
		case <-time.After(gap):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return nil, nil
}

// Heartbeat details over the payload limit end the call with a non-retryable PayloadTooLarge
// naming their size and the limit; they are never recorded.
func TestHeartbeatDetailsOverTheLimit(t *testing.T) {
	big := json.RawMessage(`{"blob":"` + strings.Repeat("x", 200) + `"}`)
	pool := &contextPool{fakePool: fakePool{tools: []string{"train"}}, runCtx: func(ctx context.Context, call pools.Call) (json.RawMessage, error) {
		return blockUntilCancelled(ctx, call, []json.RawMessage{json.RawMessage(`{"epoch":1}`), big}, 0)
	}}
	env := newEnvForPool(t, pool, activities.Options{MaxPayloadBytes: 100})
	var hb heartbeats
	env.SetOnActivityHeartbeatListener(hb.listen(t))
	_, err := env.ExecuteActivity("train", nil)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, activities.ErrTypePayloadTooLarge, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Message(), `pool "math" tool "train": the heartbeat details are 211 bytes (0.00 MiB), over the limit of 100 bytes`)
	for _, seen := range hb.all() {
		assert.NotContains(t, seen, "xxxx", "the oversized details are not recorded")
	}
}

func TestCheckOptions(t *testing.T) {
	pool := &fakePool{tools: []string{"train", "predict"}}
	require.NoError(t, activities.CheckOptions(pool, activities.Options{ToolProgressTimeouts: map[string]time.Duration{"train": time.Minute}}))
	err := activities.CheckOptions(pool, activities.Options{ToolProgressTimeouts: map[string]time.Duration{"trian": time.Minute}})
	require.Error(t, err)
	assert.Equal(t, `pool "math": tools.trian: no such tool (its tools: predict, train)`, err.Error())
}

// newEnvForPool is newEnvWithOptions for any pool.
func newEnvForPool(t *testing.T, pool activities.Pool, opts activities.Options) *testsuite.TestActivityEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	activities.Register(env, pool, opts)
	return env
}
