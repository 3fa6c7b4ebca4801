package pools

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"
)

// counterValue reads a counter of a test scope by name and tags.
func counterValue(scope tally.TestScope, name string, tags map[string]string) int64 {
	var total int64
	for _, c := range scope.Snapshot().Counters() {
		if c.Name() != name {
			continue
		}
		match := true
		for k, v := range tags {
			if c.Tags()[k] != v {
				match = false
			}
		}
		if match {
			total += c.Value()
		}
	}
	return total
}

// TestHungWorkerReplaced: a worker that stops answering (SIGSTOP) misses its health checks, is
// killed and replaced.
func TestHungWorkerReplaced(t *testing.T) {
	scope := tally.NewTestScope("", nil)
	opts := testOptions(t, testAdap, 2)
	opts.HealthCheckInterval = 100 * time.Millisecond
	opts.HealthCheckTimeout = 200 * time.Millisecond
	opts.MaxMissedHealthChecks = 2
	opts.RestartBackoff = 10 * time.Millisecond
	opts.Metrics = scope
	p := startPool(t, opts)
	pids := workerPIDs(p)
	hung := pids[0]
	require.NoError(t, syscall.Kill(hung, syscall.SIGSTOP))
	defer syscall.Kill(hung, syscall.SIGCONT) // in case the test fails before the kill

	waitFor(t, p, 20*time.Second, "the hung worker to be replaced", func() bool {
		now := workerPIDs(p)
		return len(now) == 2 && now[0] != hung && now[1] != hung
	})
	waitGone(t, []int{hung}, 5*time.Second)
	assert.Equal(t, int64(1), counterValue(scope, metricRestarts, map[string]string{"reason": "unhealthy"}))
	assert.GreaterOrEqual(t, counterValue(scope, metricMissedHealthChecks, nil), int64(2))
	h := p.Health()
	assert.Equal(t, 2, h.Workers)
	assert.False(t, h.Degraded)
	var ce *WorkerCrashedError
	require.ErrorAs(t, h.LastError, &ce)
	assert.Equal(t, "unhealthy", ce.Reason)
	_, err := call(t, p, "noop", nil)
	require.NoError(t, err)
}

// TestCrashLoopDegrades: when replacements cannot start, the pool is marked degraded with the
// last error and retries with a growing backoff instead of spinning; it recovers when they can.
func TestCrashLoopDegrades(t *testing.T) {
	poison := filepath.Join(t.TempDir(), "poison")
	scope := tally.NewTestScope("", nil)
	opts := testOptions(t, testAdap, 2)
	opts.Env["POOLTEST_POISON"] = poison
	opts.RestartBackoff = 20 * time.Millisecond
	opts.MaxRestartBackoff = 400 * time.Millisecond
	opts.CrashLoopThreshold = 3
	opts.Metrics = scope
	p := startPool(t, opts)

	require.NoError(t, os.WriteFile(poison, nil, 0o600))
	pid := workerPIDs(p)[0]
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	waitFor(t, p, 20*time.Second, "the pool to be degraded", func() bool { return p.Health().Degraded })
	h := p.Health()
	assert.Equal(t, 1, h.Workers)
	var ae *AdapterError
	require.ErrorAs(t, h.LastError, &ae)
	assert.Contains(t, ae.Message, "poisoned")

	// Not spinning: over 1.5s, with the backoff at 160ms, 320ms, 400ms..., few attempts.
	before := counterValue(scope, metricRestarts, map[string]string{"reason": "start_failed"})
	time.Sleep(1500 * time.Millisecond) // measuring a rate over a fixed period
	after := counterValue(scope, metricRestarts, map[string]string{"reason": "start_failed"})
	assert.LessOrEqual(t, after-before, int64(6), "start attempts in 1.5s")
	// The surviving worker still serves.
	_, err := call(t, p, "noop", nil)
	require.NoError(t, err)

	require.NoError(t, os.Remove(poison))
	waitFor(t, p, 20*time.Second, "the pool to recover", func() bool { return p.Health().Workers == 2 })
}

// TestCrashStorm: SIGKILL random workers of an 8-worker pool under load, 30 times: every call
// succeeds or fails with WorkerCrashed, the pool returns to full size, no process is left.
func TestCrashStorm(t *testing.T) {
	opts := testOptions(t, testAdap, 8)
	opts.RestartBackoff = 10 * time.Millisecond
	opts.MaxRestartBackoff = 100 * time.Millisecond
	opts.CrashLoopThreshold = 1000
	p := startPool(t, opts)

	var (
		ok, crashed atomic.Int64
		mu          sync.Mutex
		others      []error
		allPIDs     = map[int]bool{}
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := p.Call(ctx, Call{Tool: "sleep", Args: json.RawMessage(`{"seconds": 0.02, "every": 0.01}`)})
				cancel()
				var ce *WorkerCrashedError
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &ce):
					crashed.Add(1)
				default:
					mu.Lock()
					others = append(others, err)
					mu.Unlock()
				}
			}
		}()
	}
	begin := time.Now()
	for i := 0; i < 30; i++ {
		var pids []int
		waitFor(t, p, 20*time.Second, "a live worker", func() bool { pids = workerPIDs(p); return len(pids) > 0 })
		pid := pids[rand.IntN(len(pids))]
		allPIDs[pid] = true
		_ = syscall.Kill(pid, syscall.SIGKILL)
		time.Sleep(time.Duration(20+rand.IntN(60)) * time.Millisecond) // spacing of the kills
	}
	waitFor(t, p, 60*time.Second, "the pool back to full size", func() bool { return p.Health().Workers == 8 })
	close(stop)
	wg.Wait()
	t.Logf("crash storm: %d ok, %d WorkerCrashed in %s", ok.Load(), crashed.Load(), time.Since(begin))
	assert.Empty(t, others, "calls must succeed or fail with WorkerCrashed")
	assert.Positive(t, ok.Load())
	assert.Positive(t, crashed.Load())
	var killed []int
	for pid := range allPIDs {
		killed = append(killed, pid)
	}
	waitGone(t, killed, 5*time.Second)
	assert.Equal(t, 8, p.Available())
	assert.Len(t, poolProcesses(opts.Name), 8, "exactly the 8 live workers run")
	_, err := call(t, p, "noop", nil)
	require.NoError(t, err)
}
