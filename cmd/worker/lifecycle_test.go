package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
)

// TestSIGTERMToEveryProcessLetsActivitiesFinish: SIGTERM to every process of the worker at once
// (the Go process, its lifeline watcher and its Python processes), as systemd's
// KillMode=control-group does, while two activities run: both finish with their results, and the
// worker exits 0. It failed before the Go side owned the Python lifecycle: the Python processes
// cancelled the calls at once, and the activities failed.
func TestSIGTERMToEveryProcessLetsActivitiesFinish(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	c := srv.Client(t)
	callQueue := workertest.StartCallWorker(t, c)
	config := filepath.Join(t.TempDir(), "snakepool.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `
temporal:
  task_queue: snakepool-group-sigterm-test
  worker_stop_timeout: 30s
pools:
  - name: math
    size: 2
    adapter: snakepool.examples.showcase:ShowcaseAdapter
    python: %s
`, testenv.Python(t)), 0o600))

	p := startWorkerProcess(t, "--config", config, "--temporal-address", srv.Address,
		"--metrics-address", "off", "--log-format", "json")
	p.waitLog(t, worker.ReadyMessage, 2*time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var runs []client.WorkflowRun
	for range 2 {
		runs = append(runs, workertest.ExecuteCall(t, c, callQueue, workertest.Call{
			TaskQueue: "snakepool.math", Tool: "compute", Args: json.RawMessage(`{"x": 3}`), MaximumAttempts: 1,
		}))
	}
	for _, run := range runs {
		require.Eventually(t, func() bool { return activityStarted(ctx, c, run) }, 30*time.Second, 20*time.Millisecond,
			"the compute activity did not start")
	}
	group := append([]int{p.cmd.Process.Pid}, descendants(t, p.cmd.Process.Pid)...)
	require.GreaterOrEqual(t, len(group), 4, "the worker, its lifeline watcher and two Python processes")
	for _, pid := range group {
		require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	}

	for i, run := range runs {
		var result float64
		require.NoError(t, run.Get(ctx, &result), "activity %d finishes after the SIGTERM to every process", i)
		assert.InDelta(t, 9.0, result, 1e-9)
	}
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatal("the worker did not exit within a minute of the SIGTERM")
	}
	require.NoError(t, p.err, "exit status 0")
	assert.Zero(t, p.countLogs("python worker crashed"), "no Python process counted as crashed")
	for _, pid := range group {
		assert.False(t, alive(pid), "process %d is gone", pid)
	}
}

// descendants returns the pids of the live descendants of pid, read from /proc.
func descendants(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	for _, child := range children(t, pid) {
		out = append(out, child)
		out = append(out, descendants(t, child)...)
	}
	return out
}
