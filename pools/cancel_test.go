package pools

import (
	"context"
	"encoding/json"
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
