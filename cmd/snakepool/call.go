package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/snakepool/snakepool/pools"
)

// errInterrupted is the cancel cause of a call interrupted by Ctrl-C (the tool's ctx.cancel_reason).
var errInterrupted = errors.New("interrupted by Ctrl-C (snakepool call)")

func runCall(ctx context.Context, e *env, args []string) int {
	var t targetFlags
	var argsJSON, resumeJSON string
	var timeout, cancelGrace time.Duration
	var verbose, fullHeartbeats bool
	c := newCommand("call", "snakepool call ADAPTER TOOL [flags]\n       snakepool call [--config FILE] [--pool NAME] TOOL [flags]",
		`Runs one tool through a real pool: the Go supervisor starts one Python process of the adapter
(python -m snakepool.server, with the handshake, health checks, cancellation and error mapping of
the worker), calls the tool once, and stops it. No Temporal is involved.

Heartbeats are printed on stderr as they come, the tool's prints and its ctx.logger lines too;
the result goes to stdout as JSON. Ctrl-C cancels the call: the tool sees ctx.cancelled and has the
pool's cancel grace to return (a second Ctrl-C quits at once).

Exit codes: 0 the tool returned, 1 it raised (its error and traceback on stderr), 2 bad usage,
3 the pool could not start (the adapter's import error and traceback on stderr), 130 cancelled
by Ctrl-C.`, e.stderr,
		`snakepool call snakepool.examples.showcase:ShowcaseAdapter square --args '{"x": 12}'`,
		`snakepool call mypkg.mod:Adapter train --args '{"epochs": 3}' --python .venv/bin/python --profile thread`,
		`snakepool call --config snakepool.yaml --pool ml train --args '{"epochs": 3}'`,
		`snakepool call train --resume '{"epoch": 2}'   # in a directory with a snakepool.yaml of one pool`)
	t.register(c.flags)
	c.flags.StringVar(&argsJSON, "args", "{}", "the tool's arguments, a JSON `object`; @FILE reads it from a file")
	c.flags.StringVar(&resumeJSON, "resume", "", "`JSON` the tool sees as ctx.resume, as a retry after a heartbeat with these details would")
	c.flags.DurationVar(&timeout, "timeout", 0, "cancel the call after this `duration` (0: no limit)")
	c.flags.DurationVar(&cancelGrace, "cancel-grace", 0, "how long a cancelled tool may take to return before its process is killed (default: the config's, else 10s)")
	c.flags.BoolVar(&verbose, "v", false, "also show the pool's and the Python server's own log records")
	c.flags.BoolVar(&fullHeartbeats, "full-heartbeats", false, fmt.Sprintf("print heartbeat details in full (default: their first %d characters)", heartbeatWidth))
	positional, err := c.parse(args)
	if err != nil {
		return usageExit(err)
	}
	var adapter, tool string
	switch len(positional) {
	case 1:
		tool = positional[0]
		if strings.Contains(tool, ":") {
			return e.usageError("call", fmt.Errorf("no TOOL after the adapter %s (snakepool describe %s lists its tools)", tool, tool))
		}
	case 2:
		adapter, tool = positional[0], positional[1]
	default:
		c.flags.Usage()
		return exitUsage
	}
	sel, err := t.resolve(c.flags, adapter, true, e.getenv)
	if err != nil {
		return e.usageError("call", err)
	}
	callArgs, err := readJSONArg("--args", argsJSON, true)
	if err != nil {
		return e.usageError("call", err)
	}
	var resume json.RawMessage
	if resumeJSON != "" {
		if resume, err = readJSONArg("--resume", resumeJSON, false); err != nil {
			return e.usageError("call", err)
		}
	}
	target := sel.Targets[0]
	opts := target.Options
	if cancelGrace > 0 {
		opts.CancelGrace = cancelGrace
	}
	out := &console{w: e.stderr}
	opts.Logger = newPoolLogger(out, verbose)

	if e.adoptOrphans != nil {
		if undo, err := e.adoptOrphans(); err != nil {
			out.printf("snakepool: warning: %v; processes the tool starts may outlive its Python worker\n", err)
		} else {
			defer undo()
		}
	}
	out.printf("snakepool: starting %s\n", describeTarget(target))
	startCtx, cancelStart := context.WithCancel(ctx)
	stopWatching := e.onInterrupt(func(first bool) {
		if first {
			out.printf("snakepool: interrupted while the pool starts; stopping (Ctrl-C again quits at once)\n")
			cancelStart()
		} else {
			e.exit(exitInterrupted)
		}
	})
	pool, err := pools.Start(startCtx, opts)
	stopWatching()
	cancelStart()
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.Canceled) {
			out.printf("snakepool: interrupted: %v\n", err)
			return exitInterrupted
		}
		printStartError(out, target, err)
		return exitStart
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), opts.StopTimeout+time.Minute)
		defer cancel()
		if err := pool.Stop(stopCtx); err != nil {
			out.printf("snakepool: stopping the pool: %v\n", err)
		}
	}()
	if !hasTool(pool.Tools(), tool) {
		out.printf("snakepool: %s has no tool %q; its tools: %s\n", opts.Adapter, tool, toolNames(pool.Tools()))
		return exitUsage
	}

	callCtx, cancelCall := context.WithCancelCause(ctx)
	defer cancelCall(nil)
	if timeout > 0 {
		var stopTimer context.CancelFunc
		callCtx, stopTimer = context.WithTimeoutCause(callCtx, timeout, fmt.Errorf("--timeout %s passed (snakepool call)", timeout))
		defer stopTimer()
	}
	var interrupted atomic.Bool
	stopWatching = e.onInterrupt(func(first bool) {
		if !first {
			out.printf("snakepool: second Ctrl-C: quitting now\n")
			e.exit(exitInterrupted)
			return
		}
		interrupted.Store(true)
		out.printf("snakepool: interrupted: cancelling the call (the tool sees ctx.cancelled and has %s to return; Ctrl-C again quits at once)\n",
			pool.Options().CancelGrace)
		cancelCall(errInterrupted)
	})
	defer stopWatching()

	out.printf("snakepool: calling %s %s\n", tool, compactJSON(callArgs))
	begin := time.Now()
	beats := 0
	result, err := pool.Call(callCtx, pools.Call{
		Tool:   tool,
		Args:   callArgs,
		Resume: resume,
		OnHeartbeat: func(h pools.Heartbeat) {
			beats++
			out.printf("heartbeat %d%s  %s  (%.2fs)\n", beats, progressText(h.Progress), detailsText(h.Details, fullHeartbeats),
				time.Since(begin).Seconds())
		},
	})
	stopWatching()
	elapsed := time.Since(begin).Round(time.Millisecond)
	if err != nil {
		return printCallError(out, tool, elapsed, err, interrupted.Load())
	}
	out.printf("snakepool: %s returned after %s, %d heartbeat(s)\n", tool, elapsed, beats)
	fmt.Fprintln(e.stdout, indentJSON(result))
	return exitOK
}

// readJSONArg reads a JSON flag value (or @FILE), checking that it is JSON (an object when object
// is set).
func readJSONArg(flagName, value string, object bool) (json.RawMessage, error) {
	data := []byte(value)
	if file, ok := strings.CutPrefix(value, "@"); ok {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("%s: %w", flagName, err)
		}
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s is not JSON: %w (got %s)", flagName, err, truncate(string(data), 80))
	}
	if _, ok := v.(map[string]any); object && !ok {
		return nil, fmt.Errorf("%s must be a JSON object of the tool's arguments, e.g. '{\"x\": 12}' (got %s)", flagName, truncate(string(data), 80))
	}
	return json.RawMessage(bytes.TrimSpace(data)), nil
}

func hasTool(tools []pools.ToolSpec, name string) bool {
	for _, t := range tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

func toolNames(tools []pools.ToolSpec) string {
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.Name
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func progressText(p float64) string {
	if p < 0 {
		return ""
	}
	return fmt.Sprintf(" %3.0f%%", p*100)
}

// heartbeatWidth is how much of a heartbeat's details call prints without --full-heartbeats (a
// checkpoint can hold a whole model).
const heartbeatWidth = 160

func detailsText(details json.RawMessage, full bool) string {
	if len(details) == 0 {
		return "(no details)"
	}
	text := compactJSON(details)
	if full || len(text) <= heartbeatWidth {
		return text
	}
	return fmt.Sprintf("%s... (%d bytes)", text[:heartbeatWidth], len(text))
}

func compactJSON(data json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, data) != nil {
		return string(data)
	}
	return b.String()
}

func indentJSON(data json.RawMessage) string {
	var b bytes.Buffer
	if json.Indent(&b, data, "", "  ") != nil {
		return string(data)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// printStartError says why the pool could not start, with the Python traceback of an adapter
// that does not load, and what to do about it.
func printStartError(out *console, t target, err error) {
	var ae *pools.AdapterError
	if errors.As(err, &ae) {
		out.printf("snakepool: %s cannot be loaded: %s: %s\n", t.Options.Adapter, ae.Type, ae.Message)
		if ae.Traceback != "" {
			out.printf("%s\n", strings.TrimRight(ae.Traceback, "\n"))
		}
		out.printf("fix: %s\n", adapterFix(t.Options, ae.Type, ae.Message))
		return
	}
	out.printf("snakepool: the pool of %s did not start: %v\n", describeTarget(t), err)
	out.printf("fix: run `snakepool doctor` with the same arguments: it checks the interpreter, its packages and the adapter one by one\n")
}

// printCallError prints a failed call's error and returns the exit code.
func printCallError(out *console, tool string, elapsed time.Duration, err error, interrupted bool) int {
	var te *pools.ToolError
	var crashed *pools.WorkerCrashedError
	switch {
	case interrupted || errors.Is(err, context.Canceled):
		out.printf("snakepool: %s was cancelled after %s: %v\n", tool, elapsed, err)
		return exitInterrupted
	case errors.As(err, &te):
		retry := "retryable"
		if te.NonRetryable {
			retry = "non-retryable"
		}
		out.printf("snakepool: %s failed after %s: %s: %s (%s)\n", tool, elapsed, te.Type, te.Message, retry)
		if te.Traceback != "" {
			out.printf("%s\n", strings.TrimRight(te.Traceback, "\n"))
		}
	case errors.As(err, &crashed):
		out.printf("snakepool: %s failed after %s: WorkerCrashed: %v\n", tool, elapsed, err)
	default:
		out.printf("snakepool: %s failed after %s: %v\n", tool, elapsed, err)
	}
	return exitFailed
}
