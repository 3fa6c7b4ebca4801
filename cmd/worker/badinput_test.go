package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
	"github.com/snakepool/snakepool/workflows"
)

// badInput is one bad input sent to the running worker, and the failure it must get.
type badInput struct {
	name string
	// send sends the input and returns the error the workflow that carries it ended with.
	send func(t *testing.T) error
	// wantType and wantMessage are the innermost ApplicationError's type and (part of) its
	// message.
	wantType, wantMessage string
	// retryable is whether that error may be retried (the call gets one attempt either way).
	retryable bool
}

// TestBadInputDoesNotCrashTheWorker sends a battery of bad inputs to one worker process (the
// command, a real dev server, a real Python pool): specs from the temporal CLI that are mistyped,
// not objects or not JSON at all, unknown pools and tools, arguments that are not objects, not
// UTF-8, too big, too deep, of two values or of raw bytes. Each fails its workflow with an error
// that says what was wrong; then the same worker still serves a good call, its process and its
// Python process are the ones it started with (nothing crashed or was replaced), /healthz is
// healthy, nothing panicked, and a SIGTERM still stops it cleanly.
func TestBadInputDoesNotCrashTheWorker(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	c := srv.Client(t)
	callQueue := workertest.StartCallWorker(t, c)
	oddQueue := startOddArgsWorker(t, c)
	const pipelineQueue = "snakepool-bad-input"
	config := filepath.Join(t.TempDir(), "snakepool.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `
temporal:
  task_queue: %s
pools:
  - name: math
    size: 1
    adapter: snakepool.examples.showcase:ShowcaseAdapter
    python: %s
    max_payload_bytes: 65536
`, pipelineQueue, testenv.Python(t)), 0o600))

	p := startWorkerProcess(t, "--config", config, "--temporal-address", srv.Address,
		"--metrics-address", "127.0.0.1:0", "--log-format", "json")
	listening := p.waitLog(t, "HTTP endpoint listening", time.Minute)
	base := "http://" + listening["address"].(string)
	p.waitLog(t, worker.ReadyMessage, 2*time.Minute)
	pythons := pythonWorkers(t, p.cmd.Process.Pid)
	require.Len(t, pythons, 1, "the pool's Python process")

	call := func(tool, args string) func(t *testing.T) error {
		return func(t *testing.T) error {
			run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{
				TaskQueue: "snakepool.math", Tool: tool, Args: json.RawMessage(args), MaximumAttempts: 1,
			})
			return waitRun(t, run)
		}
	}
	startOdd := func(t *testing.T, kind string) client.WorkflowRun {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: oddQueue, WorkflowExecutionTimeout: time.Minute},
			oddArgsWorkflowName, "snakepool.math", "square", kind)
		require.NoError(t, err)
		return run
	}
	oddCall := func(kind string) func(t *testing.T) error {
		return func(t *testing.T) error { return waitRun(t, startOdd(t, kind)) }
	}
	// fromCLI starts a Pipeline with the temporal CLI, the input given as the CLI's flags.
	fromCLI := func(flags ...string) func(t *testing.T) error {
		return func(t *testing.T) error {
			id := "bad-input-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
			args := append([]string{"workflow", "start", "--type", workflows.PipelineName, "--task-queue", pipelineQueue,
				"--workflow-id", id, "--execution-timeout", "1m"}, flags...)
			temporalCLI(t, srv, args...)
			return waitRun(t, c.GetWorkflow(context.Background(), id, ""))
		}
	}
	specFile := func(spec string) string {
		path := filepath.Join(t.TempDir(), "spec.json")
		require.NoError(t, os.WriteFile(path, []byte(spec), 0o600))
		return path
	}
	// startPipeline starts a Pipeline whose spec is arg, as the SDK's client encodes it.
	startPipeline := func(arg any) func(t *testing.T) error {
		return func(t *testing.T) error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: pipelineQueue, WorkflowExecutionTimeout: time.Minute},
				workflows.PipelineName, arg)
			require.NoError(t, err)
			return waitRun(t, run)
		}
	}
	pipeline := func(spec string) func(t *testing.T) error { return startPipeline(json.RawMessage(spec)) }
	pipelinePayload := func(payload *commonpb.Payload) func(t *testing.T) error {
		return startPipeline(converter.NewRawValue(payload))
	}
	deep := strings.Repeat("[", 3000) + strings.Repeat("]", 3000)

	battery := []badInput{
		{
			name: "spec from the CLI with a field of the wrong type",
			send: fromCLI("--input-file", specFile(`{"steps": [{"name": "sq", "pool": "math", "tool": "square", "args": {"x": 2},
				"retry": {"maximum_attempts": "3"}}]}`)),
			wantType:    workflows.ErrTypeInvalidPipeline,
			wantMessage: `invalid pipeline: step 0 ("sq"): steps[0].retry.maximum_attempts: must be an integer, not a string ("3")`,
		},
		{
			name:        "spec from the CLI that is a list",
			send:        fromCLI("--input", `[{"pool": "math", "tool": "square"}]`),
			wantType:    workflows.ErrTypeInvalidPipeline,
			wantMessage: `invalid pipeline: (spec): must be a JSON object with "steps"`,
		},
		{
			name:        "spec from the CLI that is not JSON",
			send:        fromCLI("--input", "steps: [square]", "--input-meta", "encoding=binary/plain"),
			wantMessage: "unable to decode the workflow function input payload with error: payload item 0: type *workflows.PipelineSpec: type is not *[]byte",
			retryable:   true, // the SDK's error, which Temporal does not retry anyway: a workflow is not retried by default
		},
		{
			name: "spec nested too deep",
			// Neither the CLI nor the SDK's client sends JSON this deep: a raw payload does.
			send: pipelinePayload(&commonpb.Payload{
				Metadata: map[string][]byte{converter.MetadataEncoding: []byte(converter.MetadataEncodingJSON)},
				Data:     []byte(`{"steps": [{"pool": "math", "tool": "echo", "args": {"a": ` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}}]}`),
			}),
			wantMessage: "exceeded max depth",
			retryable:   true,
		},
		{
			name:        "step of a pool no worker serves",
			send:        pipeline(`{"steps": [{"pool": "mtah", "tool": "square", "args": {"x": 2}}]}`),
			wantType:    workflows.ErrTypeNoWorker,
			wantMessage: `step #0 square (tool "square" on pool "mtah"): no worker serves pool "mtah": no worker has polled task queue "snakepool.mtah"`,
		},
		{
			name:        "step of a tool the pool does not have",
			send:        pipeline(`{"steps": [{"pool": "math", "tool": "cube", "args": {"x": 2}}]}`),
			wantType:    "ToolNotFound",
			wantMessage: `pool "math" has no tool "cube" (its tools: `,
		},
		{
			name:        "map over items of the wrong type",
			send:        pipeline(`{"steps": [{"name": "sq", "pool": "math", "tool": "square", "map": {"over": [1, "two"], "as": "x"}}]}`),
			wantType:    "InvalidArguments",
			wantMessage: `tool 'square': argument 'x': expected number, got string "two"`,
		},
		{
			name: "arguments a list", send: call("square", `[1, 2]`),
			wantType: "InvalidArguments", wantMessage: "tool 'square': arguments must be a JSON object, got array",
		},
		{
			name: "arguments a string", send: call("square", `"seven"`),
			wantType: "InvalidArguments", wantMessage: "tool 'square': arguments must be a JSON object, got string",
		},
		{
			name: "arguments null", send: call("square", `null`),
			wantType: "InvalidArguments", wantMessage: "tool 'square': missing required argument 'x' (number)",
		},
		{
			name: "arguments not UTF-8", send: call("square", "{\"x\": \"\xff\"}"),
			wantType: "InvalidArguments", wantMessage: "tool 'square': arguments are not valid JSON: 'utf-8' codec can't decode byte 0xff in position 6",
		},
		{
			name: "arguments over max_payload_bytes", send: call("echo", `{"s": "`+strings.Repeat("x", 70000)+`"}`),
			wantType: "PayloadTooLarge", wantMessage: `pool "math" tool "echo": the arguments are 70008 bytes (0.07 MiB), over the limit of 65536 bytes`,
		},
		{
			name: "unknown tool", send: call("cube", `{"x": 3}`),
			wantType: "ToolNotFound", wantMessage: `pool "math" has no tool "cube" (its tools: `,
		},
		{
			name: "arguments nested deeper than Python decodes", send: call("echo", `{"a": `+deep+`}`),
			// Python's json raises RecursionError (once a retryable InternalError).
			wantType: "InvalidArguments", wantMessage: "tool 'echo': arguments are nested too deep for Python's JSON decoder",
		},
		{
			name: "an argument name that UTF-8 cannot encode", send: call("square", `{"\udcff": 1}`),
			// Valid JSON, a lone surrogate in Python: once its error could not be sent, and the call was lost.
			wantType: "InvalidArguments", wantMessage: `tool 'square': unknown argument '\udcff'; missing required argument 'x'`,
		},
		{
			name: "raw bytes instead of JSON", send: oddCall("bytes"),
			wantType: "InvalidArguments", wantMessage: "tool 'square': arguments are not valid JSON",
		},
	}
	for _, tt := range battery {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.send(t)
			require.Error(t, err)
			appErr := innermostAppError(err)
			if tt.wantType == "" {
				assert.Contains(t, err.Error(), tt.wantMessage)
				return
			}
			require.NotNil(t, appErr, "an ApplicationError: %v", err)
			assert.Equal(t, tt.wantType, appErr.Type(), "%v", err)
			assert.Contains(t, appErr.Message(), tt.wantMessage)
			assert.Equal(t, !tt.retryable, appErr.NonRetryable(), "non-retryable: %v", err)
		})
	}

	t.Run("two arguments: the second is ignored", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var out float64
		require.NoError(t, startOdd(t, "two").Get(ctx, &out))
		assert.InDelta(t, 9.0, out, 0)
	})

	// The same worker, process and Python process still serve.
	run := workertest.ExecuteCall(t, c, callQueue, workertest.Call{TaskQueue: "snakepool.math", Tool: "square", Args: json.RawMessage(`{"x": 7}`), MaximumAttempts: 1})
	var out float64
	require.NoError(t, run.Get(context.Background(), &out))
	assert.InDelta(t, 49.0, out, 0)
	result, err := runSpec(t, c, pipelineQueue, `{"steps": [{"pool": "math", "tool": "square", "args": {"x": 3}}]}`)
	require.NoError(t, err)
	assert.JSONEq(t, `9`, string(result.Results[0].Result))
	select {
	case <-p.done:
		t.Fatalf("the worker exited: %v", p.err)
	default:
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.Signal(0)), "the worker process is alive")
	assert.Equal(t, pythons, pythonWorkers(t, p.cmd.Process.Pid), "the Python process was not replaced")
	code, body := httpGet(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code, body)
	assert.NotContains(t, strings.ToLower(p.output()), "panic")

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatal("the worker did not exit within a minute of SIGTERM")
	}
	require.NoError(t, p.err, "exit status 0")
}

// waitRun waits (bounded) for run and returns its error.
func waitRun(t *testing.T, run client.WorkflowRun) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run.Get(ctx, nil)
	require.NotErrorIs(t, err, context.DeadlineExceeded, "the workflow did not end within a minute")
	return err
}

// runSpec runs a Pipeline on queue and returns its result.
func runSpec(t *testing.T, c client.Client, queue, spec string) (workflows.PipelineResult, error) {
	t.Helper()
	parsed, err := workflows.ParseSpec([]byte(spec))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, workflows.PipelineName, parsed)
	require.NoError(t, err)
	var result workflows.PipelineResult
	err = run.Get(ctx, &result)
	return result, err
}

// innermostAppError is the innermost ApplicationError in err's chain, or nil.
func innermostAppError(err error) *temporal.ApplicationError {
	var inner *temporal.ApplicationError
	for e := err; e != nil; e = errors.Unwrap(e) {
		if app, ok := e.(*temporal.ApplicationError); ok {
			inner = app
		}
	}
	return inner
}

// oddArgsWorkflowName runs oddArgsWorkflow.
const oddArgsWorkflowName = "snakepool.test.OddArgs"

// oddArgsWorkflow calls tool on queue with arguments no JSON client sends: kind "bytes" is a
// binary/plain payload of bytes that are not JSON, "two" two JSON objects.
func oddArgsWorkflow(ctx workflow.Context, queue, tool, kind string) (json.RawMessage, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: queue, StartToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var args []any
	switch kind {
	case "bytes":
		args = []any{[]byte{0xff, 0xfe, 'x'}}
	case "two":
		args = []any{map[string]int{"x": 3}, map[string]int{"x": 4}}
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	var out json.RawMessage
	err := workflow.ExecuteActivity(ctx, tool, args...).Get(ctx, &out)
	return out, err
}

// startOddArgsWorker runs oddArgsWorkflow on a task queue of its own, which it returns.
func startOddArgsWorker(t *testing.T, c client.Client) string {
	t.Helper()
	const queue = "odd-args"
	w := sdkworker.New(c, queue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(oddArgsWorkflow, workflow.RegisterOptions{Name: oddArgsWorkflowName})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return queue
}

// pythonWorkers returns the pids of the Python workers among pid's children (their command line
// has --worker-id), sorted.
func pythonWorkers(t *testing.T, pid int) []int {
	t.Helper()
	var pids []int
	for _, child := range children(t, pid) {
		cmdline, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(child), "cmdline"))
		if err == nil && slices.Contains(strings.Split(string(cmdline), "\x00"), "--worker-id") {
			pids = append(pids, child)
		}
	}
	slices.Sort(pids)
	return pids
}

// temporalCLI runs the Temporal CLI against the dev server and returns its standard output.
func temporalCLI(t *testing.T, srv *workertest.DevServer, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append(args, "--address", srv.Address, "--namespace", srv.Namespace)
	out, err := exec.CommandContext(ctx, testenv.Temporal(t), args...).Output()
	var stderr []byte
	if exitErr := (*exec.ExitError)(nil); errors.As(err, &exitErr) {
		stderr = exitErr.Stderr
	}
	require.NoError(t, err, "temporal %v\nstdout: %s\nstderr: %s", args, out, stderr)
	return string(out)
}
