package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
)

// TestSIGKILLOfWorkerProcessLeavesNoToolProcess: the worker command killed by SIGKILL while a
// tool runs leaves nothing: not its Python processes, nor what the tool started (a plain child,
// one in a new session, one with a scrubbed environment, a double fork, a multiprocessing child
// and its resource_tracker), nor its lifeline watcher.
func TestSIGKILLOfWorkerProcessLeavesNoToolProcess(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	c := srv.Client(t)
	callQueue := workertest.StartCallWorker(t, c)
	testdata, err := filepath.Abs("../../pools/testdata")
	require.NoError(t, err)
	config := filepath.Join(t.TempDir(), "snakepool.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `
temporal:
  task_queue: snakepool-orphans-test
pools:
  - name: kids
    size: 1
    adapter: reliability_adapter:ReliabilityAdapter
    python: %s
    env: {PYTHONPATH: %s}
`, testenv.Python(t), testdata), 0o600))

	p := startWorkerProcess(t, "--config", config, "--temporal-address", srv.Address, "--metrics-address", "off", "--log-format", "json")
	p.waitLog(t, worker.ReadyMessage, 2*time.Minute)
	before := children(t, p.cmd.Process.Pid)
	require.Len(t, before, 2, "the Python process and the lifeline watcher")
	require.Len(t, withoutWatcher(before), 1, "one of them is the lifeline watcher")

	run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
		TaskQueue: "snakepool.kids", Tool: "spawn_and_hang", MaximumAttempts: 1,
		Args: json.RawMessage(`{"kinds": ["popen", "setsid", "scrubbed", "double_fork", "multiprocessing"], "seconds": 600}`),
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var spawned struct {
		Worker int   `json:"worker"`
		Tree   []int `json:"tree"`
	}
	require.Eventually(t, func() bool { return spawnedPIDs(ctx, c, run, &spawned) }, 30*time.Second, 20*time.Millisecond,
		"the tool's heartbeat with the pids of its children")
	pids := append(append([]int{spawned.Worker}, spawned.Tree...), before...)
	require.GreaterOrEqual(t, len(pids), 8)
	for _, pid := range pids {
		require.NoError(t, syscall.Kill(pid, 0), "pid %d runs before the kill", pid)
	}

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
	require.Eventually(t, func() bool {
		for _, pid := range pids {
			if alive(pid) {
				return false
			}
		}
		return true
	}, 15*time.Second, 20*time.Millisecond, "every process of the worker is gone")
}

// spawnedPIDs reads the spawn result the tool heartbeated into out.
func spawnedPIDs(ctx context.Context, c client.Client, run client.WorkflowRun, out any) bool {
	desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	if err != nil || len(desc.GetPendingActivities()) != 1 {
		return false
	}
	payloads := desc.GetPendingActivities()[0].GetHeartbeatDetails().GetPayloads()
	if len(payloads) == 0 {
		return false
	}
	var details json.RawMessage
	if converter.GetDefaultDataConverter().FromPayload(payloads[0], &details) != nil || string(details) == "null" {
		return false
	}
	return json.Unmarshal(details, out) == nil
}

// alive reports whether pid runs (exists and is no zombie).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	for i := len(stat) - 1; i >= 0; i-- {
		if stat[i] == ')' {
			return i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
		}
	}
	return true
}

// withoutWatcher drops the lifeline watcher from pids.
func withoutWatcher(pids []int) []int {
	var out []int
	for _, pid := range pids {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if !strings.HasPrefix(string(cmdline), "snakepool-lifeline-watcher") {
			out = append(out, pid)
		}
	}
	return out
}
