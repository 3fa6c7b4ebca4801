package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
	"github.com/snakepool/snakepool/workflows"
)

func runStarter(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestUsageAndSpecErrors(t *testing.T) {
	valid := writeFile(t, "ok.json", `{"steps":[{"pool":"math","tool":"noop"}]}`)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no pipeline", nil, exitUsage, "usage: snakepool-starter --pipeline FILE"},
		{"extra argument", []string{"--pipeline", "x.json", "extra"}, exitUsage, "usage:"},
		{"help", []string{"-h"}, exitOK, "Exit codes: 0 ok, 1 pipeline failed, 2 usage or invalid spec, 3 Temporal unreachable"},
		{"unknown flag", []string{"--pipline", "x.json"}, exitUsage, "flag provided but not defined: -pipline"},
		{"bad progress mode", []string{"--pipeline", valid, "--progress", "fancy"}, exitUsage, `--progress must be auto, bar, lines or none, not "fancy"`},
		{"bad interval", []string{"--pipeline", valid, "--interval", "0s"}, exitUsage, "--interval must be positive"},
		{"missing file", []string{"--pipeline", "/nonexistent/p.json"}, exitUsage, "read the pipeline: open /nonexistent/p.json"},
		{
			"invalid spec names file, step and field",
			[]string{"--pipeline", writeFile(t, "bad.json", `{"steps":[{"pool":"math"}]}`)},
			exitUsage, "bad.json: invalid pipeline: step 0: steps[0].tool: required",
		},
		{
			"typo in a nested field",
			[]string{"--pipeline", writeFile(t, "typo.json", `{"steps":[{"name":"g","parallel":[{"pool":"m","tool":"t","retry":{"max_attempts":3}}]}]}`)},
			exitUsage, "typo.json: invalid pipeline: step steps[0].parallel[0]: steps[0].parallel[0].retry.max_attempts: unknown field",
		},
		{
			"spec not JSON names the line and column",
			[]string{"--pipeline", writeFile(t, "syntax.json", "{\"steps\": [\n  {\"pool\": \"math\" \"tool\": \"noop\"}\n]}")},
			exitUsage, `syntax.json: invalid pipeline JSON: line 2, column 19: invalid character '"' after object key:value pair`,
		},
		{"missing input file", []string{"--pipeline", valid, "--input", "/nonexistent/in.json"}, exitUsage, "read the input: open /nonexistent/in.json"},
		{
			"input not JSON names the line and column",
			[]string{"--pipeline", valid, "--input", writeFile(t, "in.json", "{\"x\": 1,\n \"y\": }")},
			exitUsage, `in.json: invalid pipeline input: line 2, column 7: invalid character '}' looking for beginning of value`,
		},
		{
			"two values in the input",
			[]string{"--pipeline", valid, "--input", writeFile(t, "two.json", `{"x": 1} {"x": 2}`)},
			exitUsage, `two.json: invalid pipeline input: line 1, column 10: unexpected data after the top-level value`,
		},
		{
			"reference to a later step",
			[]string{"--pipeline", writeFile(t, "ref.json", `{"steps":[{"name":"a","pool":"m","tool":"t","args":{"v":{"$ref":"steps.b.result"}}},{"name":"b","pool":"m","tool":"t"}]}`)},
			exitUsage, `step 0 ("a"): steps[0].args.v: reference "steps.b.result": step steps[1] ("b") has not finished`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runStarter(t, tt.args...)
			assert.Equal(t, tt.wantCode, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.wantStderr)
		})
	}
}

// Every flag is in the flag table of docs/pipelines.md, and every flag there exists.
func TestDocsListTheFlags(t *testing.T) {
	var usage bytes.Buffer
	_, code := parseFlags([]string{"-h"}, &usage)
	require.Equal(t, exitOK, code)
	flags := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(usage.String(), -1)
	require.NotEmpty(t, flags)
	docs, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "pipelines.md"))
	require.NoError(t, err)
	section := string(docs)[strings.Index(string(docs), "## snakepool-starter"):]
	section = section[:strings.Index(section, "\n## ")]
	var names []string
	for _, f := range flags {
		names = append(names, f[1])
		assert.Contains(t, section, "`--"+f[1]+"`", "docs/pipelines.md documents --%s", f[1])
	}
	for _, documented := range regexp.MustCompile("(?m)^\\| `--([a-z-]+)`").FindAllStringSubmatch(section, -1) {
		assert.Contains(t, names, documented[1], "the documented --%s exists", documented[1])
	}
}

func TestUIURL(t *testing.T) {
	assert.Equal(t, "http://localhost:8233/namespaces/default/workflows/pipeline-demo-1/run-2/history",
		uiURL("http://localhost:8233/", "default", "pipeline-demo-1", "run-2"))
	assert.Equal(t, "http://ui/namespaces/my%20ns/workflows/a%2Fb/r/history", uiURL("http://ui", "my ns", "a/b", "r"))
}

func TestPrintResult(t *testing.T) {
	long := make([]int, 100)
	longJSON, _ := json.Marshal(long)
	result := workflows.PipelineResult{Results: []workflows.StepResult{
		{Step: 0, Name: "square", Pool: "math", Tool: "square", Result: json.RawMessage(`144`)},
		{Step: 1, Pool: "math", Tool: "stats", Result: json.RawMessage(`{ "mean": 1.5,  "n": 2 }`)},
		{Step: 2, Name: "group", Result: json.RawMessage(`[1, [2, 3]]`)},
		{Step: 3, Name: "big", Pool: "math", Tool: "square", Result: longJSON},
		{Step: 4, Name: "maybe", Pool: "io", Tool: "echo", Result: json.RawMessage(`null`), Status: workflows.StatusSkipped},
		{Step: 5, Name: "tolerated", Pool: "io", Tool: "fail", Result: json.RawMessage(`null`), Status: workflows.StatusFailed,
			Error: &workflows.ErrorInfo{Type: "ValueError", Message: "boom"}},
	}}
	var readable bytes.Buffer
	require.NoError(t, printResult(&readable, result, false))
	assert.Equal(t, strings.Join([]string{
		"STEP       POOL  TOOL    RESULT",
		"square     math  square  144",
		`#1         math  stats   {"mean":1.5,"n":2}`,
		`group      -     -       [1,[2,3]]`,
		"big        math  square  " + string(longJSON[:maxResultWidth]) + "... (a list of 100; --json prints it whole)",
		"maybe      io    echo    (skipped)",
		"tolerated  io    fail    (failed, continued: ValueError: boom)",
		"",
	}, "\n"), readable.String())

	var asJSON bytes.Buffer
	require.NoError(t, printResult(&asJSON, result, true))
	var back workflows.PipelineResult
	require.NoError(t, json.Unmarshal(asJSON.Bytes(), &back))
	assert.Len(t, back.Results, 6)
	assert.JSONEq(t, string(longJSON), string(back.Results[3].Result), "--json prints results whole")
	assert.Contains(t, asJSON.String(), "\n  \"results\": [", "indented")
}

func TestPrintFailure(t *testing.T) {
	item := 17
	python := temporal.NewApplicationErrorWithOptions("boom", "ValueError",
		temporal.ApplicationErrorOptions{Details: []any{"Traceback (most recent call last):\nValueError: boom\n"}})
	stepErr := temporal.NewApplicationErrorWithOptions(`step squares item 17 (tool "square" on pool "math") failed: ValueError: boom`,
		workflows.ErrTypeStepFailed, temporal.ApplicationErrorOptions{Cause: python, Details: []any{workflows.StepFailure{
			Step: "squares", Path: "steps[1]", Item: &item, Pool: "math", Tool: "square", ErrorType: "ValueError", Message: "boom"}}})
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"a step failed", stepErr, strings.Join([]string{
			`snakepool-starter: pipeline failed: step squares item 17 (tool "square" on pool "math") failed: ValueError: boom`,
			"  step:    squares (steps[1]), item 17",
			"  tool:    square on pool math",
			"  error:   ValueError",
			"  message: boom",
			"",
			"Traceback (most recent call last):",
			"ValueError: boom",
			"",
		}, "\n")},
		{"cancelled", temporal.NewCanceledError(), "snakepool-starter: pipeline failed: the pipeline was cancelled\n"},
		{"other", errors.New("something"), "snakepool-starter: pipeline failed: something\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			printFailure(&buf, tt.err)
			assert.Equal(t, tt.want, buf.String())
		})
	}
}

func TestProgressRendering(t *testing.T) {
	half := 0.5
	running := workflows.Progress{
		Status: workflows.StatusRunning, Total: 3, Done: 1, Running: 2,
		Calls: workflows.Counts{Total: 12, Done: 6, Running: 2},
		Steps: []workflows.StepProgress{
			{Path: "steps[0]", Name: "first", Kind: "tool", Status: workflows.StatusDone},
			{Path: "steps[1]", Kind: "parallel", Status: workflows.StatusRunning},
			{Path: "steps[1].parallel[0]", Name: "squares", Kind: "map", Status: workflows.StatusRunning,
				Items: &workflows.MapProgress{Known: true, Total: 10, Done: 5, Running: 1}},
			{Path: "steps[1].parallel[1]", Kind: "tool", Status: workflows.StatusRunning, Attempt: 2,
				Heartbeat: json.RawMessage(`{ "step": 3 }`), HeartbeatProgress: &half, LastFailure: "OSError: flaky"},
		},
	}
	tests := []struct {
		name    string
		p       workflows.Progress
		err     error
		width   int
		wantBar string
	}{
		{
			"running",
			running, nil, 200,
			"████████████░░░░░░░░░░░░  50% 6/12 calls · steps 1/3 done · running: squares 5/10; " +
				`steps[1].parallel[1] attempt 2 hb {"step":3} 50% (last failure: OSError: flaky)`,
		},
		{"cut to the width", running, nil, 40, "████████████░░░░░░░░░░░░  50% 6/12 call…"}, // 40 runes
		{
			"done",
			workflows.Progress{Status: workflows.StatusDone, Total: 2, Done: 2, Calls: workflows.Counts{Total: 2, Done: 2}}, nil, 200,
			"████████████████████████ 100% 2/2 calls · steps 2/2 done · done",
		},
		{
			"failed",
			workflows.Progress{Status: workflows.StatusFailed, Total: 2, Done: 1, Failed: 1, Calls: workflows.Counts{Total: 2, Done: 1, Failed: 1}}, nil, 200,
			"████████████░░░░░░░░░░░░  50% 1/2 calls · steps 1/2 done, 1 failed · failed",
		},
		{"unavailable", workflows.Progress{}, errors.New("no worker"), 200, "waiting for the progress: no worker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantBar, barLine(tt.p, tt.err, tt.width))
		})
	}

	t.Run("bar redraws one line", func(t *testing.T) {
		var buf bytes.Buffer
		d := &barDisplay{w: &buf, width: func() int { return 60 }}
		d.show(running, nil)
		d.show(running, nil)
		d.finish()
		lines := strings.Split(buf.String(), "\r")
		require.Len(t, lines, 3)
		assert.True(t, strings.HasSuffix(lines[1], "\x1b[K"), "each draw erases the rest of the line")
		assert.True(t, strings.HasSuffix(buf.String(), "\x1b[K\n"), "finish ends the line")
	})

	t.Run("lines are written when the progress changes", func(t *testing.T) {
		var buf bytes.Buffer
		d := &linesDisplay{w: &buf}
		d.show(running, nil)
		d.show(running, nil)
		done := running
		done.Status, done.Done = workflows.StatusDone, 3
		d.show(done, nil)
		d.finish()
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		require.Len(t, lines, 2)
		assert.True(t, strings.HasPrefix(lines[0], "progress:  50% 6/12 calls · steps 1/3 done · running: squares 5/10"), lines[0])
		assert.Equal(t, "progress: 100% 6/12 calls · steps 3/3 done · done", lines[1])
	})

	t.Run("docs/pipelines.md shows this line", func(t *testing.T) {
		docs, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "pipelines.md"))
		require.NoError(t, err)
		assert.Contains(t, string(docs), "\n"+barLine(running, nil, 200)+"\n")
	})

	t.Run("modes", func(t *testing.T) {
		var buf bytes.Buffer
		assert.Nil(t, newDisplay(progressNone, &buf))
		assert.IsType(t, &linesDisplay{}, newDisplay(progressAuto, &buf), "not a terminal: lines")
		assert.IsType(t, &barDisplay{}, newDisplay(progressBar, &buf))
		assert.IsType(t, &linesDisplay{}, newDisplay(progressLines, &buf))
	})
}

// TestStarterEndToEnd runs the starter against a real dev server and a real worker that uses the
// example config, with the example pipelines.
func TestStarterEndToEnd(t *testing.T) {
	root := testenv.RepoRoot(t)
	python := testenv.Python(t)
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	cfg, err := worker.LoadConfig(filepath.Join(root, "examples", "snakepool.yaml"))
	require.NoError(t, err)
	cfg.Temporal.Address = srv.Address
	cfg.Temporal.WorkerStopTimeout = 2 * time.Second
	for i := range cfg.Pools {
		cfg.Pools[i].Python = python
	}
	workertest.StartWorker(t, cfg)
	c := srv.Client(t)
	example := func(name string) string { return filepath.Join(root, "examples", "pipelines", name) }

	t.Run("demo, readable, with progress lines", func(t *testing.T) {
		code, stdout, stderr := runStarter(t, "--pipeline", example("demo.json"), "--address", srv.Address,
			"--workflow-id", "demo-readable", "--interval", "100ms")
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stderr, "Web UI: http://localhost:8233/namespaces/default/workflows/demo-readable/")
		assert.Contains(t, stderr, "progress: 100% 3/3 calls · steps 3/3 done · done\n", "the final progress is shown")
		assert.Regexp(t, `(?m)^square\s+math\s+square\s+144(\.0)?$`, stdout)
		assert.Regexp(t, `(?m)^is_prime\s+math\s+is_prime\s+true$`, stdout)
	})

	t.Run("fanout, JSON", func(t *testing.T) {
		code, stdout, stderr := runStarter(t, "--pipeline", example("fanout.json"), "--address", srv.Address, "--json", "--ui", "", "--progress", "none")
		require.Equal(t, exitOK, code, stderr)
		assert.NotContains(t, stderr, "Web UI")
		assert.NotContains(t, stderr, "progress:")
		var result workflows.PipelineResult
		require.NoError(t, json.Unmarshal([]byte(stdout), &result), stdout)
		require.Len(t, result.Results, 3)
		assert.JSONEq(t, `[[4, 9, 25, 49, 121, 144, 62710561, 62678889], [true, true, true, true, true, false, true, false], 0.25]`,
			string(result.Results[1].Result))
		assert.JSONEq(t, `{"numbers": [2, 3, 5, 7, 11, 12, 7919, 7917], "squares": [4, 9, 25, 49, 121, 144, 62710561, 62678889],
			"primes": [true, true, true, true, true, false, true, false], "largest_square": 62710561}`, string(result.Results[2].Result))
	})

	t.Run("progress lines show the running step's heartbeat", func(t *testing.T) {
		code, stdout, stderr := runStarter(t, "--pipeline", example("progress.json"), "--address", srv.Address, "--interval", "100ms")
		require.Equal(t, exitOK, code, stderr)
		assert.Regexp(t, `progress: +\d+% \d+/41 calls · steps 0/2 done · running: warmup hb \{"step":\d+\} \d+%`, stderr)
		assert.Regexp(t, `progress: +\d+% \d+/41 calls · steps 1/2 done · running: work \d+/40`, stderr)
		assert.Contains(t, stderr, "progress: 100% 41/41 calls · steps 2/2 done · done")
		assert.Regexp(t, `(?m)^work\s+io\s+compute\s+\[0\.04`, stdout)
	})

	t.Run("approval example: input file, a wait for a signal, output", func(t *testing.T) {
		done := make(chan struct{})
		go func() { // approve once the pipeline waits (the progress shows it)
			defer close(done)
			for range 600 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				p, err := workflows.DescribeProgress(ctx, c, "approval", "")
				cancel()
				if err == nil && len(p.Steps) > 5 && p.Steps[5].Status == workflows.StatusRunning {
					_ = c.SignalWorkflow(context.Background(), "approval", "", "approve", map[string]any{"ok": true, "by": "ada"})
					return
				}
				time.Sleep(50 * time.Millisecond) // polling interval of an observer
			}
		}()
		code, stdout, stderr := runStarter(t, "--pipeline", example("approval.json"), "--input", example(filepath.Join("input", "approval.json")),
			"--address", srv.Address, "--workflow-id", "approval", "--interval", "100ms", "--progress", "lines")
		<-done
		require.Equal(t, exitOK, code, stderr)
		assert.Regexp(t, `(?m)^train\s+math\s+square\s+\(see the output\)$`, stdout)
		assert.Contains(t, stderr, ", 1 skipped", "the step whose condition is false (121 > 200)")
		// The input file's x (11) replaced the spec's (12); the readable output is cut at 200 bytes.
		assert.Contains(t, stdout, `OUTPUT {"deployed":{"by":"ada","model":121},"model":121,"scores":[{"ok":true,"value":1},{"error":{"message":"tool 'square': argument 'x'`)
	})

	t.Run("failure example: step, error type, message and traceback", func(t *testing.T) {
		code, stdout, stderr := runStarter(t, "--pipeline", example("failure.json"), "--address", srv.Address, "--progress", "none")
		assert.Equal(t, exitFailed, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, `pipeline failed: step explode (tool "fail" on pool "math") failed: ValueError: boom`)
		assert.Contains(t, stderr, "  step:    explode (steps[1])\n  tool:    fail on pool math\n  error:   ValueError\n  message: boom\n")
		assert.Contains(t, stderr, "Traceback", "the Python traceback is printed")
	})

	t.Run("unknown tool", func(t *testing.T) {
		spec := writeFile(t, "cube.json", `{"steps":[{"pool":"math","tool":"cube","args":{"x":3}}]}`)
		code, _, stderr := runStarter(t, "--pipeline", spec, "--address", srv.Address, "--progress", "none")
		assert.Equal(t, exitFailed, code)
		assert.Contains(t, stderr, `ToolNotFound: pool "math" has no tool "cube"`)
	})

	t.Run("no wait", func(t *testing.T) {
		code, stdout, stderr := runStarter(t, "--pipeline", example("demo.json"), "--address", srv.Address, "--wait=false", "--json",
			"--workflow-id", "demo-nowait")
		require.Equal(t, exitOK, code, stderr)
		var started map[string]string
		require.NoError(t, json.Unmarshal([]byte(stdout), &started), stdout)
		assert.Equal(t, "demo-nowait", started["workflow_id"])
		assert.NotEmpty(t, started["run_id"])
		assert.Contains(t, started["ui"], "/workflows/demo-nowait/")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, c.GetWorkflow(ctx, "demo-nowait", started["run_id"]).Get(ctx, nil), "it runs on without the starter")
	})

	t.Run("timeout: stop waiting, the pipeline keeps running", func(t *testing.T) {
		spec := writeFile(t, "slow.json", `{"steps":[{"pool":"io","tool":"compute","args":{"x":3},"heartbeat_timeout":"5s"}]}`)
		code, _, stderr := runStarter(t, "--pipeline", spec, "--address", srv.Address, "--timeout", "500ms",
			"--workflow-id", "slow", "--progress", "none")
		assert.Equal(t, exitTemporal, code)
		assert.Contains(t, stderr, "stopped waiting (context deadline exceeded); the pipeline keeps running")
		assert.Contains(t, stderr, "temporal workflow cancel --workflow-id slow")
		desc, err := c.DescribeWorkflowExecution(context.Background(), "slow", "")
		require.NoError(t, err)
		assert.Equal(t, "Running", desc.GetWorkflowExecutionInfo().GetStatus().String())
		require.NoError(t, c.CancelWorkflow(context.Background(), "slow", ""))
	})

	t.Run("no worker on the task queue: the progress says so", func(t *testing.T) {
		code, _, stderr := runStarter(t, "--pipeline", example("demo.json"), "--address", srv.Address, "--task-queue", "nobody",
			"--workflow-id", "orphan", "--timeout", "4s", "--progress", "lines")
		assert.Equal(t, exitTemporal, code)
		assert.Contains(t, stderr, `progress: unavailable: no answer to the progress query: is a snakepool worker running on task queue "nobody"?`)
		require.NoError(t, c.TerminateWorkflow(context.Background(), "orphan", "", "test done"))
	})

	t.Run("workflow ID in use", func(t *testing.T) {
		spec := writeFile(t, "slow2.json", `{"steps":[{"pool":"io","tool":"compute","args":{"x":2},"heartbeat_timeout":"5s"}]}`)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		parsed, err := workflows.ParseSpec([]byte(`{"steps":[{"pool":"io","tool":"compute","args":{"x":2},"heartbeat_timeout":"5s"}]}`))
		require.NoError(t, err)
		first, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "taken", TaskQueue: workflows.TaskQueue}, workflows.PipelineName, parsed)
		require.NoError(t, err)
		code, _, stderr := runStarter(t, "--pipeline", spec, "--address", srv.Address, "--workflow-id", "taken")
		assert.Equal(t, exitTemporal, code)
		assert.Contains(t, stderr, "start the pipeline taken:")
		require.NoError(t, first.Get(ctx, nil))
	})

	t.Run("unreachable Temporal", func(t *testing.T) {
		code, _, stderr := runStarter(t, "--pipeline", example("demo.json"), "--address", "127.0.0.1:1")
		assert.Equal(t, exitTemporal, code)
		assert.Contains(t, stderr, "connect to Temporal at 127.0.0.1:1")
	})
}

// TestStoppedWaitingFor: a deadline error counts as "stopped waiting" only when the wait had a
// deadline, even if the server answered before the local context expired.
func TestStoppedWaitingFor(t *testing.T) {
	live, cancelLive := context.WithTimeout(context.Background(), time.Hour)
	defer cancelLive()
	expired, cancelExpired := context.WithTimeout(context.Background(), 0)
	defer cancelExpired()
	interrupted, interrupt := context.WithCancel(context.Background())
	interrupt()
	serverDeadline := serviceerror.NewDeadlineExceeded("context deadline exceeded")
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"server deadline before the local one", live, serverDeadline, true},
		{"local deadline error before ctx.Err is set", live, fmt.Errorf("get: %w", context.DeadlineExceeded), true},
		{"deadline passed", expired, errors.New("anything"), true},
		{"interrupted", interrupted, context.Canceled, true},
		{"pipeline failed", live, errors.New("workflow execution error"), false},
		{"deadline error without a deadline", context.Background(), serverDeadline, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, stoppedWaitingFor(tt.ctx, tt.err))
		})
	}
}

func TestProgressShowsWaitsAndSkips(t *testing.T) {
	p := workflows.Progress{Status: workflows.StatusRunning, Total: 3, Done: 1, Running: 1, Skipped: 1,
		Steps: []workflows.StepProgress{
			{Path: "steps[0]", Name: "maybe", Kind: "tool", Status: workflows.StatusSkipped},
			{Path: "steps[1]", Name: "nap", Kind: "sleep", Status: workflows.StatusDone},
			{Path: "steps[2]", Name: "approval", Kind: "wait", Status: workflows.StatusRunning, Signal: "approve"},
		}}
	assert.Equal(t, `0/0 calls · steps 1/3 done, 1 skipped · running: approval waiting for signal "approve"`, summary(p))
}
