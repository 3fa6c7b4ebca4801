package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
)

// workerProcess is the worker command running as a child process (the test binary re-executed
// with subprocessEnv), its stderr parsed line by line as JSON logs.
type workerProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's, once done is closed

	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func startWorkerProcess(t *testing.T, args ...string) *workerProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), subprocessEnv+"=1")
	// The child dies with the test binary if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	p := &workerProcess{cmd: cmd, done: make(chan struct{}), changed: make(chan struct{})}
	require.NoError(t, cmd.Start())
	go func() {
		scanner := bufio.NewScanner(stderr)
		scanner.Buffer(make([]byte, 1<<20), 1<<20)
		for scanner.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, scanner.Text())
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("worker process stderr:\n%s", p.output())
		}
	})
	return p
}

func (p *workerProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitLog waits (bounded) for a JSON log line whose msg is msg, and returns it decoded.
func (p *workerProcess) waitLog(t *testing.T, msg string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.After(timeout)
	seen := 0
	for {
		p.mu.Lock()
		lines, changed := p.lines[seen:], p.changed
		p.mu.Unlock()
		for _, line := range lines {
			seen++
			var record map[string]any
			if json.Unmarshal([]byte(line), &record) == nil && record["msg"] == msg {
				return record
			}
		}
		select {
		case <-changed:
		case <-p.done:
			t.Fatalf("the worker exited (%v) before logging %q", p.err, msg)
		case <-deadline:
			t.Fatalf("the worker did not log %q within %s", msg, timeout)
		}
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// TestWorkerProcess runs the worker command as a child process against a real dev server with a
// real Python pool: /livez, /readyz, /healthz and /metrics answer (the latter with the SDK's and the pool's metrics), and a
// SIGTERM during a running activity lets it finish (the workflow completes with its result) and
// the process exits 0.
func TestWorkerProcess(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	c := srv.Client(t)
	callQueue := workertest.StartCallWorker(t, c)
	config := filepath.Join(t.TempDir(), "snakepool.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `
temporal:
  task_queue: snakepool-process-test
pools:
  - name: math
    size: 1
    adapter: snakepool.examples.showcase:ShowcaseAdapter
    python: %s
`, testenv.Python(t)), 0o600))

	p := startWorkerProcess(t, "--config", config, "--temporal-address", srv.Address,
		"--metrics-address", "127.0.0.1:0", "--log-format", "json", "--identity", "process-test-worker")
	listening := p.waitLog(t, "HTTP endpoint listening", time.Minute)
	base := "http://" + listening["address"].(string)
	p.waitLog(t, worker.ReadyMessage, 2*time.Minute)
	// The ready message is logged just before the command starts reporting the running worker.
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	},
		10*time.Second, 10*time.Millisecond, "/readyz answers 200 once the worker is ready")

	code, body := httpGet(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code, body)
	var health worker.Health
	require.NoError(t, json.Unmarshal([]byte(body), &health))
	assert.True(t, health.Healthy)
	assert.Equal(t, worker.StateRunning, health.State)
	require.Len(t, health.Pools, 1)
	assert.Equal(t, "math", health.Pools[0].Name)
	assert.Equal(t, 1, health.Pools[0].Capacity)
	assert.Equal(t, 1, health.Pools[0].LiveCapacity)
	assert.True(t, health.Live)
	assert.True(t, health.Ready)
	for _, path := range []string{"/livez", "/readyz"} {
		code, body := httpGet(t, base+path)
		assert.Equal(t, http.StatusOK, code, "%s: %s", path, body)
	}

	// Metrics reach /metrics at the tally scope's next report (every second).
	var metrics string
	require.Eventually(t, func() bool {
		_, metrics = httpGet(t, base+"/metrics")
		return strings.Contains(metrics, `snakepool_pool_capacity{pool="math"} 1`) &&
			strings.Contains(metrics, "temporal_request_total{")
	}, 20*time.Second, 100*time.Millisecond, "SDK and pool metrics on /metrics")
	for _, want := range []string{
		`snakepool_pool_workers{pool="math"} 1`,                   // pool gauge
		`temporal_num_pollers{`,                                   // SDK worker gauge
		`poller_type="activity_task",task_queue="snakepool_math"`, // ... polling the pool's task queue
		`temporal_worker_task_slots_available{`,                   // the slot supplier's slots
		"go_goroutines ",                                          // Go runtime
		"process_resident_memory_bytes ",                          // process
	} {
		assert.True(t, strings.Contains(metrics, want), "/metrics has no %s", want)
	}

	// A 2-second activity, then SIGTERM while it runs.
	run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
		TaskQueue: "snakepool.math", Tool: "compute", Args: json.RawMessage(`{"x": 2}`), MaximumAttempts: 1,
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.Eventually(t, func() bool { return activityStarted(ctx, c, run) }, 30*time.Second, 20*time.Millisecond,
		"the compute activity did not start")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	assert.True(t, activityStarted(ctx, c, run), "the activity still runs after SIGTERM")
	p.waitLog(t, "Stopping snakepool worker: running activities may finish", 10*time.Second)
	code, body = httpGet(t, base+"/healthz")
	assert.Equal(t, http.StatusServiceUnavailable, code, "stopping: %s", body)
	assert.Contains(t, body, `"state":"stopping"`)
	code, body = httpGet(t, base+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code, "stopping: not ready: %s", body)
	code, body = httpGet(t, base+"/livez")
	assert.Equal(t, http.StatusOK, code, "stopping: still live while activities finish: %s", body)

	var result float64
	require.NoError(t, run.Get(ctx, &result), "the running activity finishes after SIGTERM")
	assert.InDelta(t, 4.0, result, 1e-9)
	assert.Equal(t, "process-test-worker", startedBy(ctx, t, c, run), "the child process ran the activity")

	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatal("the worker did not exit within a minute of SIGTERM")
	}
	require.NoError(t, p.err, "exit status 0")
	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode())
	p.waitLog(t, "snakepool worker stopped", time.Second)

	t.Run("a second signal ends the process at once, and its Python processes with it", func(t *testing.T) {
		p := startWorkerProcess(t, "--config", config, "--temporal-address", srv.Address,
			"--metrics-address", "off", "--log-format", "json")
		p.waitLog(t, worker.ReadyMessage, 2*time.Minute)
		pythons := withoutWatcher(children(t, p.cmd.Process.Pid))
		require.Len(t, pythons, 1, "the pool's Python process")
		run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
			TaskQueue: "snakepool.math", Tool: "compute", Args: json.RawMessage(`{"x": 600}`), MaximumAttempts: 1,
		})
		require.Eventually(t, func() bool { return activityStarted(ctx, c, run) }, 30*time.Second, 20*time.Millisecond)
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		p.waitLog(t, "Stopping snakepool worker: running activities may finish", 10*time.Second)
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			t.Fatal("the worker did not exit within 5s of the second signal (worker_stop_timeout is 10s)")
		}
		require.Error(t, p.err)
		status, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
		require.True(t, ok)
		assert.True(t, status.Signaled(), "killed by the signal: %v", p.err)
		require.Eventually(t, func() bool { return syscall.Kill(pythons[0], 0) == syscall.ESRCH },
			10*time.Second, 20*time.Millisecond, "the Python process died with its parent")
	})
}

// children returns the pids of the live child processes of pid, read from /proc.
func children(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) >= 2 && fields[0] != "Z" && fields[1] == strconv.Itoa(pid) {
			pids = append(pids, child)
		}
	}
	return pids
}

// activityStarted reports whether run's activity is pending and started.
func activityStarted(ctx context.Context, c client.Client, run client.WorkflowRun) bool {
	desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	return err == nil && len(desc.GetPendingActivities()) == 1 &&
		desc.GetPendingActivities()[0].GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED
}

// startedBy returns the identity of the worker that started run's last activity.
func startedBy(ctx context.Context, t *testing.T, c client.Client, run client.WorkflowRun) string {
	t.Helper()
	iter := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	identity := ""
	for iter.HasNext() {
		event, err := iter.Next()
		require.NoError(t, err)
		if attrs := event.GetActivityTaskStartedEventAttributes(); attrs != nil {
			identity = attrs.GetIdentity()
		}
	}
	return identity
}

// countLogs returns how many JSON log lines so far have msg as their message.
func (p *workerProcess) countLogs(msg string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, line := range p.lines {
		var record map[string]any
		if json.Unmarshal([]byte(line), &record) == nil && record["msg"] == msg {
			n++
		}
	}
	return n
}
