package pools

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallResults: calls reach the adapter's tools and their JSON results come back untouched.
func TestCallResults(t *testing.T) {
	p := startPool(t, testOptions(t, showcase, 2))
	tests := []struct {
		name string
		tool string
		args any
		want string
	}{
		{"square", "square", map[string]any{"x": 7}, "49"},
		{"square float", "square", map[string]any{"x": 1.5}, "2.25"},
		{"prime", "is_prime", map[string]any{"n": 97}, "true"},
		{"not prime", "is_prime", map[string]any{"n": 91}, "false"},
		{"noop", "noop", nil, "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := call(t, p, tt.tool, tt.args)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
		})
	}
	assert.Equal(t, 2, p.Capacity())
	assert.Equal(t, 2, p.Available())
	names := map[string]bool{}
	for _, tool := range p.Tools() {
		names[tool.Name] = true
	}
	for _, want := range []string{"square", "is_prime", "compute", "noop", "fail"} {
		assert.True(t, names[want], "Tools() lacks %q: %v", want, p.Tools())
	}
	info := p.Interpreter()
	assert.NotEmpty(t, info.Version)
	assert.Equal(t, "process", info.Mode)
	assert.Equal(t, 1, info.MaxWorkers)
}

// TestToolErrors: a Python exception becomes a *ToolError with its type and message; an unknown
// tool is a non-retryable ToolNotFound naming it.
func TestToolErrors(t *testing.T) {
	p := startPool(t, testOptions(t, showcase, 1))
	tests := []struct {
		name         string
		tool         string
		args         any
		wantType     string
		wantMessage  string
		nonRetryable bool
	}{
		{"raised", "fail", map[string]any{"message": "boom"}, "ValueError", "boom", false},
		{"unknown tool", "no_such_tool", nil, "ToolNotFound", "no_such_tool", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := call(t, p, tt.tool, tt.args)
			var te *ToolError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tt.wantType, te.Type)
			assert.Contains(t, te.Message, tt.wantMessage)
			assert.Equal(t, tt.nonRetryable, te.NonRetryable)
			if tt.wantType == "ValueError" {
				assert.Contains(t, te.Traceback, "ValueError")
			}
		})
	}
	// The worker survived the errors.
	got, err := call(t, p, "square", map[string]any{"x": 3})
	require.NoError(t, err)
	assert.JSONEq(t, "9", string(got))
}

// TestAdapterLoadFailure: a pool whose adapter cannot be imported fails to start, fast, with the
// Python error and traceback naming the module, and leaves no process behind.
func TestAdapterLoadFailure(t *testing.T) {
	tests := []struct {
		name     string
		adapter  string
		wantType string
		wantText string
	}{
		{"missing module", "no_such_module:X", "ModuleNotFoundError", "no_such_module"},
		{"missing class", "pooltest_adapter:NoSuchClass", "", "NoSuchClass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(t, tt.adapter, 3)
			begin := time.Now()
			p, err := Start(context.Background(), opts)
			require.Error(t, err)
			require.Nil(t, p)
			var ae *AdapterError
			require.ErrorAs(t, err, &ae, "error: %v", err)
			if tt.wantType != "" {
				assert.Equal(t, tt.wantType, ae.Type)
			}
			assert.Contains(t, ae.Message+ae.Traceback, tt.wantText)
			assert.NotEmpty(t, ae.Traceback)
			assert.Contains(t, err.Error(), tt.wantText)
			assert.Equal(t, opts.Name, ae.Pool)
			assert.Less(t, time.Since(begin), 20*time.Second)
			requireNoProcesses(t, opts.Name)
		})
	}
}

// TestStartErrors: a missing interpreter, one that exits without a handshake, or a bad option
// fail Start with an error that says what went wrong.
func TestStartErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Options)
		want   []string
	}{
		{"missing interpreter", func(o *Options) { o.Python = "/nonexistent/python3" }, []string{"exec /nonexistent/python3"}},
		{"no handshake", func(o *Options) { o.Python = "/bin/false" },
			[]string{"closed the handshake pipe without writing the handshake", "python exited with exit code 1"}},
		{"bad option", func(o *Options) { o.Size = 0 }, []string{"size must be >= 1, got 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(t, showcase, 1)
			tt.mutate(&opts)
			p, err := Start(context.Background(), opts)
			require.Error(t, err)
			require.Nil(t, p)
			for _, want := range tt.want {
				assert.Contains(t, err.Error(), want)
			}
			assert.Contains(t, err.Error(), opts.Name)
		})
	}
}

// TestWorkerCrashDuringCall: a call whose process dies returns *WorkerCrashedError naming the
// signal (SIGKILL) or the exit code (os._exit), at once; the worker is replaced.
func TestWorkerCrashDuringCall(t *testing.T) {
	opts := testOptions(t, testAdap, 1)
	p := startPool(t, opts)

	t.Run("signal", func(t *testing.T) {
		pid := workerPIDs(p)[0]
		started := make(chan struct{}, 1)
		errc := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := p.Call(ctx, Call{Tool: "sleep", Args: mustJSON(t, map[string]any{"seconds": 20}),
				OnHeartbeat: func(Heartbeat) {
					select {
					case started <- struct{}{}:
					default:
					}
				}})
			errc <- err
		}()
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			t.Fatal("the sleep tool sent no heartbeat")
		}
		killed := time.Now()
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		var err error
		select {
		case err = <-errc:
		case <-time.After(10 * time.Second):
			t.Fatal("the call did not fail after its worker was killed")
		}
		assert.Less(t, time.Since(killed), 3*time.Second, "the call should fail at once")
		var ce *WorkerCrashedError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, pid, ce.PID)
		assert.Equal(t, "killed", ce.Signal)
		assert.Equal(t, -1, ce.ExitCode)
		assert.Equal(t, opts.Name, ce.Pool)
		assert.Contains(t, err.Error(), "signal killed")
		waitFor(t, p, 20*time.Second, "a replacement worker", func() bool { return p.Available() == 1 })
	})

	t.Run("exit code", func(t *testing.T) {
		_, err := call(t, p, "exit_process", map[string]any{"code": 7})
		var ce *WorkerCrashedError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, 7, ce.ExitCode)
		assert.Empty(t, ce.Signal)
		assert.Contains(t, err.Error(), "exit code 7")
		waitFor(t, p, 20*time.Second, "a replacement worker", func() bool { return p.Available() == 1 })
		got, err := call(t, p, "square", map[string]any{"x": 4})
		require.NoError(t, err)
		assert.JSONEq(t, "16", string(got))
	})
}

// TestStopLeavesNothing: Stop ends every Python process; calls after Stop fail with
// ErrPoolClosed.
func TestStopLeavesNothing(t *testing.T) {
	opts := testOptions(t, showcase, 3)
	p, err := Start(context.Background(), opts)
	require.NoError(t, err)
	_, err = call(t, p, "square", map[string]any{"x": 2})
	require.NoError(t, err)
	pids := workerPIDs(p)
	require.Len(t, pids, 3)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, p.Stop(ctx))
	require.NoError(t, p.Stop(ctx), "Stop is idempotent")
	for _, pid := range pids {
		assert.True(t, processGone(pid), "pid %d survived Stop", pid)
	}
	assert.Empty(t, poolProcesses(opts.Name))
	_, err = call(t, p, "square", map[string]any{"x": 2})
	require.ErrorIs(t, err, ErrPoolClosed)
	assert.Equal(t, 0, p.Available())
}

const helperEnv = "SNAKEPOOL_POOLS_HELPER"

// TestHelperProcess is not a test: TestSIGKILLOfGoProcessKillsPython runs the test binary with
// it as a helper process that starts a pool, prints its Python pids and waits to be killed.
func TestHelperProcess(t *testing.T) {
	name := os.Getenv(helperEnv)
	if name == "" {
		return // not the helper
	}
	opts := testOptions(t, showcase, 3)
	opts.Name = name
	opts.Logger = nil
	p, err := Start(context.Background(), opts)
	if err != nil {
		os.Stdout.WriteString("ERROR " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("PIDS " + fmtPIDs(workerPIDs(p)) + "\n")
	select {} // until killed
}

// TestSIGKILLOfGoProcessKillsPython: when the Go process holding a pool dies by SIGKILL (no
// chance to clean up), its Python processes die too.
func TestSIGKILLOfGoProcessKillsPython(t *testing.T) {
	name := uniqueName(t)
	h := startHelperProcess(t, "TestHelperProcess", helperEnv+"="+name)
	got := h.waitLines(t, 60*time.Second, "PIDS ")
	pids := parsePIDs(t, got["PIDS "])
	require.Len(t, pids, 3)
	for _, pid := range pids {
		require.False(t, processGone(pid), "python pid %d should run before the kill", pid)
	}

	h.sigkill(t)
	waitGone(t, pids, 10*time.Second)
	assert.Empty(t, poolProcesses(name))
}

// TestStartTimeout: a worker that is not ready within StartTimeout fails the start, naming the
// timeout, and is killed.
func TestStartTimeout(t *testing.T) {
	opts := testOptions(t, testAdap, 2)
	opts.Env["POOLTEST_SETUP_SECONDS"] = "60"
	opts.StartTimeout = time.Second
	begin := time.Now()
	_, err := Start(context.Background(), opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no handshake within the start timeout (1s)")
	assert.Less(t, time.Since(begin), 15*time.Second)
	requireNoProcesses(t, opts.Name)
}

// TestPythonRoundTrip: results, heartbeats in order and a cooperative cancel through a real
// Python worker, whose log names what serves it.
func TestPythonRoundTrip(t *testing.T) {
	var logs syncBuffer
	opts := testOptions(t, testAdap, 1)
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	p := startPool(t, opts)
	waitFor(t, p, 10*time.Second, "the Python log line saying it serves", func() bool {
		return strings.Contains(logs.String(), "serving "+testAdap)
	})

	res, err := call(t, p, "square", map[string]any{"x": 7})
	require.NoError(t, err)
	assert.JSONEq(t, "49", string(res))

	var progress []float64
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = p.Call(ctx, Call{Tool: "heartbeats", Args: json.RawMessage(`{"n": 3}`),
		OnHeartbeat: func(hb Heartbeat) { progress = append(progress, hb.Progress) }})
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{1.0 / 3, 2.0 / 3, 1}, progress, 1e-9)

	pid, stop, done := blockingCall(t, p)
	stop()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled call did not return")
	}
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []int{pid}, workerPIDs(p), "the worker survives a cooperative cancel")
}
