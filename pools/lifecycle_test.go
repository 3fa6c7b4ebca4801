package pools

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"
)

// TestGroupSignalsDoNotStopPythonWorkers: SIGTERM, SIGINT and SIGHUP sent to the Python workers'
// process groups (as a service manager signals every process of the unit at once) while calls
// run do not stop them: the calls finish with their results, Stop then ends the workers, and
// nothing counts as a crash or is replaced. It failed before the Go side owned the lifecycle
// (the calls ended Cancelled at once, the exits were counted as crashes and replaced).
func TestGroupSignalsDoNotStopPythonWorkers(t *testing.T) {
	for _, profile := range []Profile{ProfileProcess, ProfileThread} {
		t.Run(string(profile), func(t *testing.T) {
			var logs syncBuffer
			scope := tally.NewTestScope("", nil)
			opts := testOptions(t, testAdap, 2)
			opts.Profile = profile
			if profile == ProfileThread {
				opts.ThreadsPerWorker = 1
			}
			opts.Metrics = scope
			opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			p := startPool(t, opts)
			pids := workerPIDs(p)
			require.Len(t, pids, 2)

			const calls = 2
			var started sync.WaitGroup
			started.Add(calls)
			results := make(chan error, calls)
			for range calls {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					var once sync.Once
					out, err := p.Call(ctx, Call{Tool: "sleep", Args: json.RawMessage(`{"seconds": 1.5}`),
						OnHeartbeat: func(Heartbeat) { once.Do(started.Done) }})
					if err == nil && !strings.Contains(string(out), `"cancelled":false`) {
						err = &ToolError{Type: "unexpected", Message: string(out)}
					}
					results <- err
				}()
			}
			started.Wait()
			for _, pid := range pids {
				for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
					require.NoError(t, killGroup(pid, sig))
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, p.Stop(ctx))
			for range calls {
				assert.NoError(t, <-results, "a call running when its worker got the group's signals finishes")
			}
			assert.Zero(t, counterValue(scope, metricRestarts, nil), "no worker was replaced")
			assert.Nil(t, p.Health().LastError, "no failure was recorded")
			assert.NotContains(t, logs.String(), "python worker crashed")
			assert.Contains(t, logs.String(), "ignoring SIGTERM")
		})
	}
}

// TestNoReplacementOnceStopBegan: a worker that crashed just before Stop is not replaced during
// Stop's drain (its replacement was waiting out the restart backoff). It failed before: the
// replacement started during the drain, only to be stopped again.
func TestNoReplacementOnceStopBegan(t *testing.T) {
	opts := testOptions(t, testAdap, 2)
	opts.RestartBackoff = time.Second
	opts.MaxRestartBackoff = time.Second
	p := startPool(t, opts)

	running := make(chan int, 1)
	result := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var once sync.Once
		_, err := p.Call(ctx, Call{Tool: "sleep", Args: json.RawMessage(`{"seconds": 3}`),
			OnHeartbeat: func(hb Heartbeat) {
				once.Do(func() {
					var d struct{ PID int }
					_ = json.Unmarshal(hb.Details, &d)
					running <- d.PID
				})
			}})
		result <- err
	}()
	busy := <-running
	var idle int
	for _, pid := range workerPIDs(p) {
		if pid != busy {
			idle = pid
		}
	}
	require.NotZero(t, idle)
	require.NoError(t, syscall.Kill(idle, syscall.SIGKILL))
	waitFor(t, p, 10*time.Second, "the crash seen, its replacement pending", func() bool {
		h := p.Health()
		return h.Workers == 1 && h.Starting == 1
	})
	started := p.workerSeq.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, p.Stop(ctx), "the running call finishes in the drain")
	require.NoError(t, <-result)
	assert.Equal(t, started, p.workerSeq.Load(), "no worker was started once Stop began")
}

// TestStartToAWorkerThatStoppedReading: a call whose Start frame cannot be written (the worker
// stopped reading its call channel: here it is SIGSTOPped, and the arguments are larger than the
// socket's buffer) returns its context's error within the cancel grace after the context ends,
// and the worker, whose channel now holds half a frame, is killed and replaced. It failed before
// (the write blocked for ever, ignoring the context).
func TestStartToAWorkerThatStoppedReading(t *testing.T) {
	opts := testOptions(t, testAdap, 1)
	opts.CancelGrace = 300 * time.Millisecond
	opts.HealthCheckInterval = -1
	p := startPool(t, opts)
	pid := workerPIDs(p)[0]
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })

	big := json.RawMessage(`{"x": "` + strings.Repeat("a", 4<<20) + `"}`)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := p.Call(ctx, Call{Tool: "square", Args: big})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "did not read the call")
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL) // unblock the write so that the test can end
		t.Fatal("the call blocked on the Start frame past its context and the cancel grace")
	}
	waitGone(t, []int{pid}, 10*time.Second)
	waitFor(t, p, 30*time.Second, "a replacement", func() bool { return p.Available() == 1 })
	_, err := call(t, p, "noop", nil)
	require.NoError(t, err)
}
