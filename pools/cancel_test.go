package pools

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"
)

// TestCancelCooperative: cancelling a call's context sets ctx.cancelled in Python; the tool
// returns, the call returns the context's error before the grace period, the worker lives on.
func TestCancelCooperative(t *testing.T) {
	opts := testOptions(t, testAdap, 1)
	opts.CancelGrace = 20 * time.Second
	p := startPool(t, opts)
	pid, cancel, done := blockingCall(t, p)
	begin := time.Now()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled call did not return")
	}
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(begin), 5*time.Second)
	assert.Equal(t, []int{pid}, workerPIDs(p), "the worker survives a cooperative cancel")
	waitFor(t, p, 5*time.Second, "the slot back", func() bool { return p.Available() == 1 })
}

// TestCancelIgnoredProcess: in the process profile, a tool that ignores the cancel past the grace
// period gets its worker killed and replaced.
func TestCancelIgnoredProcess(t *testing.T) {
	scope := tally.NewTestScope("", nil)
	opts := testOptions(t, testAdap, 1)
	opts.CancelGrace = 300 * time.Millisecond
	opts.Metrics = scope
	p := startPool(t, opts)
	pid := workerPIDs(p)[0]

	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		<-started
		cancel()
	}()
	begin := time.Now()
	_, err := p.Call(ctx, Call{Tool: "ignore_cancel", Args: json.RawMessage(`{"seconds": 30}`),
		OnHeartbeat: func(Heartbeat) { close(started) }})
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "did not stop")
	assert.Less(t, time.Since(begin), 10*time.Second)
	waitGone(t, []int{pid}, 5*time.Second)
	waitFor(t, p, 20*time.Second, "a replacement", func() bool { return p.Available() == 1 })
	assert.Equal(t, int64(1), counterValue(scope, metricRestarts, map[string]string{"reason": "cancel_timeout"}))
	_, err = call(t, p, "noop", nil)
	require.NoError(t, err)
}

// TestCancelIgnoredThread: in the thread profile, a tool that ignores the cancel gets its worker
// drained (the other calls on it finish) and recycled.
func TestCancelIgnoredThread(t *testing.T) {
	scope := tally.NewTestScope("", nil)
	opts := testOptions(t, testAdap, 1)
	opts.Profile = ProfileThread
	opts.ThreadsPerWorker = 3
	opts.CancelGrace = 300 * time.Millisecond
	opts.Metrics = scope
	p := startPool(t, opts)
	pid := workerPIDs(p)[0]

	// A neighbour call on the same worker, that must finish normally.
	_, neighbourCancel, neighbourDone := blockingCall(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		<-started
		cancel()
	}()
	_, err := p.Call(ctx, Call{Tool: "ignore_cancel", Args: json.RawMessage(`{"seconds": 30}`),
		OnHeartbeat: func(Heartbeat) { close(started) }})
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "recycled")

	waitFor(t, p, 20*time.Second, "the replacement", func() bool {
		pids := workerPIDs(p)
		return len(pids) == 1 && pids[0] != pid
	})
	assert.Equal(t, int64(1), counterValue(scope, metricRecycles, map[string]string{"reason": "cancel_timeout"}))
	assert.False(t, processGone(pid), "the old worker drains its neighbour call first")
	// The neighbour runs on; its cooperative cancel lets the old worker finish draining.
	neighbourCancel()
	require.ErrorIs(t, <-neighbourDone, context.Canceled)
	waitGone(t, []int{pid}, 10*time.Second)
	waitFor(t, p, 10*time.Second, "full availability", func() bool { return p.Available() == 3 })
}

// TestBusyProcessWorkerAnswers: a process-profile tool that holds the GIL and sends no heartbeats
// keeps the Python tool thread from reading its call channel, yet its worker's health checks are
// answered and the cancel reaches it (the control channel's thread reads while the tool thread is
// busy).
func TestBusyProcessWorkerAnswers(t *testing.T) {
	scope := tally.NewTestScope("", nil)
	opts := testOptions(t, testAdap, 1)
	opts.HealthCheckInterval = 100 * time.Millisecond
	opts.HealthCheckTimeout = 500 * time.Millisecond
	opts.MaxMissedHealthChecks = 2
	opts.CancelGrace = 5 * time.Second
	opts.Metrics = scope
	p := startPool(t, opts)
	pid := workerPIDs(p)[0]

	res, err := call(t, p, "spin", map[string]any{"seconds": 3})
	require.NoError(t, err)
	assert.JSONEq(t, fmt.Sprintf(`{"cancelled": false, "pid": %d}`, pid), string(res))
	assert.Zero(t, counterValue(scope, metricRestarts, map[string]string{"reason": "unhealthy"}))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Send the cancel once the tool is spinning, holding the GIL (nothing in Python marks that
	// moment), so that it must reach the tool while the tool thread never yields.
	_, err = p.Call(ctx, Call{Tool: "spin", Args: json.RawMessage(`{"seconds": 60}`),
		OnHeartbeat: func(Heartbeat) { time.AfterFunc(300*time.Millisecond, cancel) }})
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "python Cancelled", "the tool saw the cancel and returned")
	assert.Equal(t, []int{pid}, workerPIDs(p), "the worker survives a cooperative cancel")
	assert.Zero(t, counterValue(scope, metricRestarts, map[string]string{"reason": "cancel_timeout"}))
}
