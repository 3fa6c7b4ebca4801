package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/snakepool/snakepool/internal/examplestest"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
)

func TestDoctorChecksTheInterpreterWithTheShowcase(t *testing.T) {
	r := runCLI(t, "doctor", "--python", python(t))
	require.Equal(t, exitOK, r.code)
	for _, want := range []string{
		"checking the interpreter with " + showcase,
		"interpreter " + python(t),
		"ok    Python 3.",
		"ok    snakepool 0.1.0",
		"bridge protocol",
		"ok    grpcio ",
		"ok    protobuf ",
		"ok    the bridge code imports",
		"adapter " + showcase,
		"ok    " + showcase + " imports",
		"ok    a worker starts in",
		"all 7 checks passed",
	} {
		assert.Contains(t, r.stdout, want)
	}
}

// pool is the YAML of a config with one pool of adapter in testdata/.
func pool(t *testing.T, python, adapter string, extra ...string) string {
	return fmt.Sprintf("pools:\n  - name: p\n    size: 1\n    adapter: %s\n    python: %s\n    dir: %s\n%s",
		adapter, python, testdata(t), strings.Join(extra, ""))
}

// TestDoctorReportsEachProblemWithItsFix: setups broken one way each; doctor fails, names the
// problem, says how to fix it, and skips what depends on it.
func TestDoctorReportsEachProblemWithItsFix(t *testing.T) {
	bare := examplestest.NewVenv(t, filepath.Join(t.TempDir(), "bare")) // no snakepool in it
	cases := []struct {
		name   string
		config string
		want   []string
	}{
		{"no interpreter", pool(t, "/nonexistent/bin/python", "cli_adapters:Talkative"), []string{
			"FAIL  cannot run the interpreter /nonexistent/bin/python",
			"fix: check the pool's `python` in",
			"skip  skipped: the interpreter has problems",
		}},
		{"no snakepool in the interpreter", pool(t, bare, "cli_adapters:Talkative"), []string{
			"FAIL  snakepool is not importable: ModuleNotFoundError: No module named 'snakepool'",
			"fix: install the snakepool package into this interpreter: " + bare + " -m pip install",
		}},
		{"an adapter module that is not there", pool(t, python(t), "no_such_module:Adapter"), []string{
			"FAIL  no_such_module:Adapter does not import in " + testdata(t) + ": ModuleNotFoundError: No module named 'no_such_module'",
			"fix: the adapter's module no_such_module is not importable by " + python(t) + " from " + testdata(t),
			"skip  worker start skipped: fix the problems above first",
		}},
		{"a missing dependency", pool(t, python(t), "cli_missing_dependency:NeedsIt"), []string{
			"Traceback (most recent call last)",
			`fix: install what provides the module "snakepool_cli_test_missing_dependency" into the pool's interpreter`,
		}},
		{"a class that is not there", pool(t, python(t), "cli_adapters:Nope"), []string{
			"AttributeError: module 'cli_adapters' has no attribute 'Nope' (adapter classes in it: BrokenSetup, NoTools, Talkative)",
			"fix: check the class name in `adapter`",
		}},

		{"a setup that raises", pool(t, python(t), "cli_adapters:BrokenSetup"), []string{
			"ok    cli_adapters:BrokenSetup imports",
			"FAIL  a worker does not start: RuntimeError: the model file models/latest.pt is missing",
			"in setup",
		}},
		{"the thread profile without thread safety", pool(t, python(t), "cli_adapters:Talkative", "    profile: thread\n"), []string{
			"FAIL  the pool's profile is thread but the adapter does not declare __thread_safe__ = True",
			"set __thread_safe__ = True on the class, or use profile: process",
		}},
		{"settings of a tool that does not exist", pool(t, python(t), "cli_adapters:Talkative", "    tools:\n      shout: {progress_timeout: 1m}\n"), []string{
			"FAIL  " + "%CONFIG%" + ": pools[p].tools.shout names no tool of the adapter",
		}},
		{"no tools", pool(t, python(t), "cli_adapters:NoTools"), []string{
			"FAIL  cli_adapters:NoTools imports",
			"fix: mark the adapter's methods with @tool",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			config := writeConfig(t, c.config)
			r := runCLI(t, "doctor", "--config", config, "--skip-temporal")
			assert.Equal(t, exitFailed, r.code)
			for _, w := range c.want {
				assert.Contains(t, r.stdout, strings.ReplaceAll(w, "%CONFIG%", config))
			}
			assert.Regexp(t, `\n\d+ of \d+ checks failed\n$`, r.stdout)
		})
	}
}

func TestDoctorTemporal(t *testing.T) {
	closed := closedPort(t)
	r := runCLI(t, "doctor", "--config", writeConfig(t, pool(t, python(t), "cli_adapters:Talkative")), "--temporal-address", closed, "--no-start")
	assert.Equal(t, exitFailed, r.code)
	assert.Contains(t, r.stdout, "FAIL  cannot reach Temporal at "+closed)
	assert.Contains(t, r.stdout, "fix: start a server (bin/temporal server start-dev")

	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	config := writeConfig(t, fmt.Sprintf("temporal:\n  address: %s\n", srv.Address)+pool(t, python(t), "cli_adapters:Talkative"))

	r = runCLI(t, "doctor", "--config", config, "--namespace", "nowhere", "--no-start")
	assert.Equal(t, exitFailed, r.code)
	assert.Contains(t, r.stdout, `FAIL  namespace "nowhere" does not exist`)
	assert.Contains(t, r.stdout, "fix: temporal operator namespace create --namespace nowhere")

	r = runCLI(t, "doctor", "--config", config)
	assert.Equal(t, exitFailed, r.code)
	assert.Contains(t, r.stdout, "ok    connected to "+srv.Address+" (server ")
	assert.Contains(t, r.stdout, "ok    namespace default exists")
	assert.Contains(t, r.stdout, "FAIL  task queue snakepool (the Pipeline workflow): no worker polls it")
	assert.Contains(t, r.stdout, "FAIL  task queue snakepool.p (pool p's activities): no worker polls it")
	assert.Contains(t, r.stdout, "fix: start a worker for this config: snakepool-worker --config "+config)
	assert.Contains(t, r.stdout, "2 of 11 checks failed")

	cfg, err := worker.LoadConfig(config)
	require.NoError(t, err)
	workertest.StartWorker(t, cfg)
	waitForPollers(t, srv.Client(t), "snakepool", "snakepool.p")
	r = runCLI(t, "doctor", "--config", config, "--json")
	require.Equal(t, exitOK, r.code)
	var report struct {
		OK       bool      `json:"ok"`
		Findings []finding `json:"findings"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &report), "--json prints only JSON")
	assert.True(t, report.OK)
	var pollers []string
	for _, f := range report.Findings {
		assert.Equal(t, statusOK, f.Status, f.Detail)
		if strings.Contains(f.Detail, "poller(s)") {
			pollers = append(pollers, f.Detail)
		}
	}
	require.Len(t, pollers, 2)
	assert.Contains(t, pollers[0], "task queue snakepool (the Pipeline workflow): 1 poller(s): ")
	assert.Contains(t, pollers[1], "task queue snakepool.p (pool p's activities): 1 poller(s): ")
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// waitForPollers waits until Temporal lists a poller on the workflow task queue workflowQueue and
// on the activity task queue of each pool queue: a worker that has started polls a moment later,
// and there is no event to wait for but the server's state.
func waitForPollers(t *testing.T, c client.Client, workflowQueue string, activityQueues ...string) {
	t.Helper()
	has := func(queue string, kind enumspb.TaskQueueType) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := c.DescribeTaskQueue(ctx, queue, kind)
		return err == nil && len(resp.GetPollers()) > 0
	}
	require.Eventually(t, func() bool {
		if !has(workflowQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW) {
			return false
		}
		for _, q := range activityQueues {
			if !has(q, enumspb.TASK_QUEUE_TYPE_ACTIVITY) {
				return false
			}
		}
		return true
	}, time.Minute, 100*time.Millisecond, "pollers on %s and %v", workflowQueue, activityQueues)
}
