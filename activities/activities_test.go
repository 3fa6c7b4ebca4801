package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/pools"
)

// fakePool answers calls and batches with functions and records them.
type fakePool struct {
	tools []string
	run   func(call pools.Call) (json.RawMessage, error)
	batch func(ctx context.Context, call pools.BatchCall) error

	mu      sync.Mutex
	calls   []pools.Call
	batches []pools.BatchCall
}

func (p *fakePool) Name() string { return "math" }

func (p *fakePool) Tools() []pools.ToolSpec {
	specs := make([]pools.ToolSpec, len(p.tools))
	for i, name := range p.tools {
		specs[i] = pools.ToolSpec{Name: name}
	}
	return specs
}

func (p *fakePool) Call(_ context.Context, call pools.Call) (json.RawMessage, error) {
	p.mu.Lock()
	p.calls = append(p.calls, call)
	p.mu.Unlock()
	return p.run(call)
}

func (p *fakePool) CallBatch(ctx context.Context, call pools.BatchCall) error {
	p.mu.Lock()
	p.batches = append(p.batches, call)
	p.mu.Unlock()
	if p.batch == nil {
		return errors.New("fakePool: no batches")
	}
	return p.batch(ctx, call)
}

func newEnv(t *testing.T, pool *fakePool) *testsuite.TestActivityEnvironment {
	t.Helper()
	return newEnvWithOptions(t, pool, activities.Options{})
}

func newEnvWithOptions(t *testing.T, pool *fakePool, opts activities.Options) *testsuite.TestActivityEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	registered := activities.Register(env, pool, opts)
	require.ElementsMatch(t, pool.tools, registered)
	return env
}

func TestToolPassesJSONThroughAndFillsCallInfo(t *testing.T) {
	pool := &fakePool{tools: []string{"square", "noop"}, run: func(call pools.Call) (json.RawMessage, error) {
		return json.RawMessage(`{"value":144,"big":12345678901234567890}`), nil
	}}
	env := newEnv(t, pool)

	val, err := env.ExecuteActivity("square", json.RawMessage(`{"x": 12, "big": 12345678901234567890}`))
	require.NoError(t, err)
	var out json.RawMessage
	require.NoError(t, val.Get(&out))
	assert.JSONEq(t, `{"value":144,"big":12345678901234567890}`, string(out))

	require.Len(t, pool.calls, 1)
	call := pool.calls[0]
	assert.Equal(t, "square", call.Tool)
	assert.JSONEq(t, `{"x": 12, "big": 12345678901234567890}`, string(call.Args))
	assert.Equal(t, "square", call.Info.ActivityType)
	assert.Equal(t, int32(1), call.Info.Attempt)
	assert.Empty(t, call.Resume, "no previous attempt, no resume")
}

func TestToolRelaysHeartbeatsAndResumes(t *testing.T) {
	tests := []struct {
		name         string
		beat         pools.Heartbeat
		wantDetails  string
		wantProgress float64
	}{
		{"details and progress", pools.Heartbeat{Details: json.RawMessage(`{"epoch":3}`), Progress: 0.5}, `{"epoch":3}`, 0.5},
		{"neither", pools.Heartbeat{Progress: -1}, `null`, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := &fakePool{tools: []string{"train"}, run: func(call pools.Call) (json.RawMessage, error) {
				call.OnHeartbeat(tt.beat)
				return json.RawMessage(`"done"`), nil
			}}
			env := newEnv(t, pool)
			env.SetHeartbeatDetails(json.RawMessage(`{"epoch":2}`))
			var (
				mu    sync.Mutex
				beats []converter.EncodedValues
			)
			env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
				mu.Lock()
				beats = append(beats, details)
				mu.Unlock()
			})

			_, err := env.ExecuteActivity("train", json.RawMessage(`{}`))
			require.NoError(t, err)

			require.Len(t, pool.calls, 1)
			assert.JSONEq(t, `{"epoch":2}`, string(pool.calls[0].Resume), "the previous attempt's heartbeat reaches Python")
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, beats, 1)
			var details json.RawMessage
			progress := -1.0
			require.NoError(t, beats[0].Get(&details, &progress))
			assert.JSONEq(t, tt.wantDetails, string(details))
			assert.InDelta(t, tt.wantProgress, progress, 1e-9)
		})
	}
}

func TestNullHeartbeatIsNoResume(t *testing.T) {
	pool := &fakePool{tools: []string{"train"}, run: func(pools.Call) (json.RawMessage, error) { return json.RawMessage(`1`), nil }}
	env := newEnv(t, pool)
	env.SetHeartbeatDetails(json.RawMessage(`null`))
	_, err := env.ExecuteActivity("train", json.RawMessage(`{}`))
	require.NoError(t, err)
	require.Len(t, pool.calls, 1)
	assert.Empty(t, pool.calls[0].Resume)
}

func TestToolErrorMapping(t *testing.T) {
	tests := []struct {
		name         string
		err          error
		wantType     string
		wantMessage  string
		nonRetryable bool
		wantDetails  string
	}{
		{
			name:        "python exception",
			err:         &pools.ToolError{Type: "ValueError", Message: "boom", Traceback: "Traceback ...\nValueError: boom"},
			wantType:    "ValueError",
			wantMessage: "boom",
			wantDetails: "Traceback ...\nValueError: boom",
		},
		{
			name:         "non-retryable python exception",
			err:          &pools.ToolError{Type: "InvalidArguments", Message: "missing x", NonRetryable: true},
			wantType:     "InvalidArguments",
			wantMessage:  "missing x",
			nonRetryable: true,
		},
		{
			name:        "worker crashed",
			err:         &pools.WorkerCrashedError{Pool: "math", WorkerID: "w1", PID: 42, ExitCode: -1, Signal: "killed", StderrTail: "oom"},
			wantType:    activities.ErrTypeWorkerCrashed,
			wantMessage: `pool "math": python worker w1 (pid 42) crashed: signal killed (crashed attempts of this activity: 1 of at most 3)`,
			wantDetails: "oom",
		},
		{
			name:        "pool closed",
			err:         pools.ErrPoolClosed,
			wantType:    activities.ErrTypePoolClosed,
			wantMessage: `pool "math" is closed`,
		},
		{
			name:        "other error",
			err:         errors.New("socket gone"),
			wantMessage: `pool "math" tool "square": socket gone`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := &fakePool{tools: []string{"square"}, run: func(pools.Call) (json.RawMessage, error) { return nil, tt.err }}
			env := newEnv(t, pool)

			_, err := env.ExecuteActivity("square", json.RawMessage(`{"x":1}`))
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			if tt.wantType != "" {
				assert.Equal(t, tt.wantType, appErr.Type())
			}
			assert.Equal(t, tt.wantMessage, appErr.Message())
			assert.Equal(t, tt.nonRetryable, appErr.NonRetryable())
			if tt.wantDetails != "" {
				var details string
				require.NoError(t, appErr.Details(&details))
				assert.Equal(t, tt.wantDetails, details)
			} else {
				assert.False(t, appErr.HasDetails())
			}
		})
	}
}

func TestErrorWrapsContextErrorOnceDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := activities.Error(ctx, "math", "compute", &pools.ToolError{Type: "Cancelled", Message: "cancelled"})
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "Cancelled")
}

func TestUnknownToolIsNonRetryableAndNamesTheTool(t *testing.T) {
	pool := &fakePool{tools: []string{"square", "is_prime"}, run: func(pools.Call) (json.RawMessage, error) {
		t.Error("the pool must not be called for an unknown tool")
		return nil, nil
	}}
	env := newEnv(t, pool)

	_, err := env.ExecuteActivity("cube", json.RawMessage(`{"x":3}`))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, activities.ErrTypeToolNotFound, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, `pool "math" has no tool "cube" (its tools: is_prime, square)`, appErr.Message())
}

// A workflow may call a tool without arguments, or with null: the pool then gets empty args (sent
// as {}).
func TestToolWithoutArguments(t *testing.T) {
	tests := []struct {
		name string
		args []any
	}{
		{"no argument", nil},
		{"null", []any{json.RawMessage("null")}},
		{"nil", []any{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := &fakePool{tools: []string{"noop"}, run: func(pools.Call) (json.RawMessage, error) { return json.RawMessage(`null`), nil }}
			env := newEnv(t, pool)
			_, err := env.ExecuteActivity("noop", tt.args...)
			require.NoError(t, err)
			require.Len(t, pool.calls, 1)
			assert.Empty(t, pool.calls[0].Args)
		})
	}
}
