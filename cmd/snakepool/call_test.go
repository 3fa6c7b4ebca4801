package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/examplestest"
)

const showcase = "snakepool.examples.showcase:ShowcaseAdapter"

func TestCallPrintsEachHeartbeatAndTheResult(t *testing.T) {
	r := runCLI(t, "call", showcase, "progress", "--args", `{"steps": 3}`, "--python", python(t))
	require.Equal(t, exitOK, r.code)
	assert.JSONEq(t, "3", r.stdout, "the result, alone on stdout")
	var beats []string
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(line, "heartbeat ") {
			beats = append(beats, squeeze(line[:strings.LastIndex(line, "(")]))
		}
	}
	assert.Equal(t, []string{
		`heartbeat 1 33% {"step":1}`,
		`heartbeat 2 67% {"step":2}`,
		`heartbeat 3 100% {"step":3}`,
	}, beats)
	assert.Contains(t, r.stderr, "progress returned after")
}

func TestCallArguments(t *testing.T) {
	argsFile := t.TempDir() + "/args.json"
	require.NoError(t, os.WriteFile(argsFile, []byte(`{"x": 12}`), 0o600))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"inline", []string{"square", "--args", `{"x": 12}`}, "144"},
		{"from a file", []string{"square", "--args", "@" + argsFile}, "144"},
		{"flags first", []string{"--args", `{"x": 3}`, "square"}, "9"},
		{"resume", []string{"progress", "--args", `{"steps": 3}`, "--resume", `{"step": 2}`}, "1"},
		{"no arguments", []string{"noop"}, "null"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"call", "--python", python(t), showcase}, c.args...)
			r := runCLI(t, args...)
			require.Equal(t, exitOK, r.code)
			assert.JSONEq(t, c.want, r.stdout)
		})
	}
}

func TestCallFailures(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"the tool raises", []string{showcase, "fail", "--args", `{"message": "boom"}`}, exitFailed,
			[]string{"fail failed after", "ValueError: boom (retryable)", "Traceback (most recent call last)", "raise ValueError(message)"}},
		{"a non-retryable error", []string{showcase, "fail_permanently"}, exitFailed,
			[]string{"NonRetryableError: permanent failure requested (non-retryable)"}},
		{"wrong arguments", []string{showcase, "square", "--args", `{"x": "twelve"}`}, exitFailed,
			[]string{`InvalidArguments: tool 'square': argument 'x': expected number, got string "twelve"`}},
		{"an unknown tool", []string{showcase, "cube"}, exitUsage,
			[]string{`has no tool "cube"; its tools: square, is_prime`}},
		{"args that are not JSON", []string{showcase, "square", "--args", `{x: 1}`}, exitUsage,
			[]string{"--args is not JSON"}},
		{"args that are not an object", []string{showcase, "square", "--args", `[12]`}, exitUsage,
			[]string{"--args must be a JSON object"}},
		{"an adapter that does not import", []string{"no_such_module:Adapter", "noop"}, exitStart,
			[]string{"no_such_module:Adapter cannot be loaded: ModuleNotFoundError: No module named 'no_such_module'",
				"fix: the adapter's module no_such_module is not importable"}},
		{"a setup that raises", []string{"cli_adapters:BrokenSetup", "noop", "--dir", "testdata"}, exitStart,
			[]string{"RuntimeError: the model file models/latest.pt is missing", "in setup"}},
		{"a timeout", []string{showcase, "compute", "--args", `{"x": 30}`, "--timeout", "300ms"}, exitFailed,
			[]string{"--timeout 300ms passed"}},
		{"no tool", []string{showcase}, exitUsage, []string{"no TOOL after the adapter " + showcase}},
		{"too many arguments", []string{showcase, "square", "x"}, exitUsage, []string{"usage: snakepool call"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"call", "--python", python(t)}, c.args...)...)
			assert.Equal(t, c.code, r.code)
			assert.Empty(t, r.stdout)
			for _, w := range c.want {
				assert.Contains(t, r.stderr, w)
			}
		})
	}
}

func TestCallShowsTheToolsPrintsAndLogLines(t *testing.T) {
	r := runCLI(t, "call", "cli_adapters:Talkative", "speak", "--args", `{"text": "hi"}`, "--dir", "testdata", "--python", python(t))
	require.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stderr, "[stdout] stdout says hi")
	assert.Contains(t, r.stderr, "[stderr] stderr says hi")
	assert.Contains(t, r.stderr, "[snakepool.tool.speak INFO] logger says hi")
	assert.NotContains(t, r.stderr, "serving cli_adapters:Talkative", "the server's own INFO lines only with -v")

	r = runCLI(t, "call", "cli_adapters:Talkative", "beats", "--args", `{"count": 1}`, "--dir", "testdata", "--python", python(t), "-v")
	require.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stderr, "serving cli_adapters:Talkative", "-v shows the server's log")
	assert.Contains(t, r.stderr, "heartbeat 1  (no details)")
}

// TestCtrlCCancelsTheCall: the first interrupt cancels the call in Python (wait_for_cancel
// returns only once ctx.cancelled is set, and then raises Cancelled), the command reports the
// cancellation and exits 130.
func TestCtrlCCancelsTheCall(t *testing.T) {
	s := newSession(nil)
	done := make(chan int, 1)
	go func() { done <- s.env.run([]string{"call", showcase, "wait_for_cancel", "--python", python(t)}) }()
	s.stderr.waitFor(t, `heartbeat 1  "started"`, time.Minute)
	s.interrupts <- os.Interrupt
	select {
	case code := <-done:
		assert.Equal(t, exitInterrupted, code)
	case <-time.After(time.Minute):
		t.Fatalf("the call did not end after Ctrl-C:\n%s", s.stderr.String())
	}
	stderr := s.stderr.String()
	assert.Contains(t, stderr, "interrupted: cancelling the call")
	assert.Contains(t, stderr, "wait_for_cancel was cancelled after")
	assert.Contains(t, stderr, "python Cancelled", "the tool saw ctx.cancelled and raised Cancelled")
	assert.Contains(t, stderr, errInterrupted.Error(), "the tool's cancel reason says why")
	assert.Empty(t, s.stdout.String())
}

// TestASecondCtrlCQuitsAtOnce: a tool that ignores the cancel keeps the call waiting for its
// cancel grace; a second interrupt exits at once, before the grace is over.
func TestASecondCtrlCQuitsAtOnce(t *testing.T) {
	s := newSession(nil)
	done := make(chan int, 1)
	go func() {
		done <- s.env.run([]string{"call", "cli_adapters:Talkative", "stubborn", "--args", `{"seconds": 60}`,
			"--dir", "testdata", "--cancel-grace", "5s", "--python", python(t)})
	}()
	s.stderr.waitFor(t, `heartbeat 1  "started"`, time.Minute)
	s.interrupts <- os.Interrupt
	s.stderr.waitFor(t, "interrupted: cancelling the call", time.Minute)
	s.interrupts <- os.Interrupt
	select {
	case code := <-s.exited:
		assert.Equal(t, exitInterrupted, code)
	case <-done:
		t.Fatal("the call ended before a second Ctrl-C quit (the tool ignores the cancel for its 5s grace)")
	case <-time.After(30 * time.Second):
		t.Fatal("a second Ctrl-C did not quit")
	}
	assert.Contains(t, s.stderr.String(), "second Ctrl-C: quitting now")
	// In the test the command goes on after its exit (which is the test's): the grace ends it.
	select {
	case code := <-done:
		assert.Equal(t, exitInterrupted, code)
	case <-time.After(2 * time.Minute):
		t.Error("the call did not end after its cancel grace")
	}
}

func TestCallOnAConfigsPool(t *testing.T) {
	config := examplestest.Config(t, "examples/snakepool.yaml")
	r := runCLI(t, "call", "--config", config, "--pool", "io", "thread_name")
	require.Equal(t, exitOK, r.code)
	var thread string
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &thread))
	assert.True(t, strings.HasPrefix(thread, "snakepool-tool-"), thread)
	assert.Contains(t, r.stderr, "starting pool io (snakepool.examples.showcase:ShowcaseAdapter")

	r = runCLI(t, "call", "--config", config, "square", "--args", `{"x": 2}`)
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "has 2 pools (math, io): choose one with --pool")

	r = runCLI(t, "call", "--config", config, "--pool", "gpu", "square")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, `has no pool "gpu" (its pools: math, io)`)
}

func TestCallFindsTheConfigOfTheCurrentDirectory(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/snakepool.yaml", []byte(fmt.Sprintf(
		"pools:\n  - name: one\n    size: 1\n    adapter: %s\n    python: %s\n", showcase, python(t))), 0o600))
	t.Chdir(dir)
	r := runCLI(t, "call", "square", "--args", `{"x": 5}`)
	require.Equal(t, exitOK, r.code)
	assert.JSONEq(t, "25", r.stdout)

	t.Chdir(t.TempDir())
	r = runCLI(t, "call", "square")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "no adapter given and no snakepool.yaml here")
}

func TestCallTheThreadProfile(t *testing.T) {
	r := runCLI(t, "call", showcase, "stats", "--profile", "thread", "--threads", "3", "--python", python(t))
	require.Equal(t, exitOK, r.code)
	var stats map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &stats))
	assert.EqualValues(t, 3, stats["max_workers"])
}
