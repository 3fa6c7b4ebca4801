// Command snakepool-starter starts a Pipeline workflow from a JSON file, prints the link to the run
// in the Temporal Web UI, shows its progress while it runs and prints its result.
//
//	snakepool-starter --pipeline examples/pipelines/fanout.json [--input input.json] [--json] [--wait=false]
//
// The spec is checked before anything is started, with the same validator the workflow uses.
// While it waits, the starter polls the pipeline's progress (workflows.DescribeProgress: the
// "progress" query plus the heartbeats of running calls) every --interval and shows it on stderr:
// as a progress bar redrawn in place when stderr is a terminal, as a line each time it changes
// otherwise (--progress picks one). The result goes to stdout: a table, or JSON with --json.
//
// Exit codes:
//
//	0  the pipeline succeeded (with --wait=false: it was started)
//	1  the pipeline failed, was cancelled, terminated or timed out (the failed step, the error
//	   type and message, and the Python traceback go to stderr)
//	2  bad usage, or the pipeline file cannot be read or is invalid: nothing was started
//	3  Temporal could not be reached, the start was refused, or the starter stopped waiting
//	   (--timeout, Ctrl-C): the pipeline's outcome is unknown (it may still be running)
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/snakepool/snakepool/workflows"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitTemporal = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	pipeline   string
	input      string
	address    string
	namespace  string
	taskQueue  string
	workflowID string
	wait       bool
	json       bool
	ui         string
	timeout    time.Duration
	progress   string
	interval   time.Duration
}

// Progress display modes.
const (
	progressAuto  = "auto"
	progressBar   = "bar"
	progressLines = "lines"
	progressNone  = "none"
)

func parseFlags(args []string, stderr io.Writer) (options, int) {
	var o options
	flags := flag.NewFlagSet("snakepool-starter", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&o.pipeline, "pipeline", "", "the pipeline spec, a JSON file (required)")
	flags.StringVar(&o.input, "input", "", "the pipeline's input, a JSON file (the workflow's second argument; default: the spec's input)")
	flags.StringVar(&o.address, "address", "localhost:7233", "Temporal frontend host:port")
	flags.StringVar(&o.namespace, "namespace", "default", "Temporal namespace")
	flags.StringVar(&o.taskQueue, "task-queue", workflows.TaskQueue, "the worker's workflow task queue (temporal.task_queue in its config)")
	flags.StringVar(&o.workflowID, "workflow-id", "", "workflow ID (default: pipeline-<file name>-<random>)")
	flags.BoolVar(&o.wait, "wait", true, "wait for the pipeline, showing its progress, and print its result; false: start it and exit")
	flags.BoolVar(&o.json, "json", false, "print the result as JSON")
	flags.StringVar(&o.ui, "ui", "http://localhost:8233", "Temporal Web UI base URL for the run's link (empty: no link)")
	flags.DurationVar(&o.timeout, "timeout", 0, "stop waiting after this long (the pipeline keeps running; exit code 3); 0 waits for ever")
	flags.StringVar(&o.progress, "progress", progressAuto, "progress display on stderr: auto (bar on a terminal, lines otherwise), bar, lines or none")
	flags.DurationVar(&o.interval, "interval", time.Second, "how often to poll the progress")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: snakepool-starter --pipeline FILE [flags]")
		fmt.Fprintln(stderr, "Starts a Pipeline workflow, shows its progress, waits for it and prints its result.")
		fmt.Fprintln(stderr, "Exit codes: 0 ok, 1 pipeline failed, 2 usage or invalid spec, 3 Temporal unreachable or stopped waiting.")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, exitOK
		}
		return o, exitUsage
	}
	switch {
	case o.pipeline == "" || flags.NArg() > 0:
		flags.Usage()
		return o, exitUsage
	case o.progress != progressAuto && o.progress != progressBar && o.progress != progressLines && o.progress != progressNone:
		fmt.Fprintf(stderr, "snakepool-starter: --progress must be auto, bar, lines or none, not %q\n", o.progress)
		return o, exitUsage
	case o.interval <= 0:
		fmt.Fprintf(stderr, "snakepool-starter: --interval must be positive, not %s\n", o.interval)
		return o, exitUsage
	}
	return o, -1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code := parseFlags(args, stderr)
	if code >= 0 {
		return code
	}
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "snakepool-starter: "+format+"\n", args...)
		return code
	}
	data, err := os.ReadFile(o.pipeline)
	if err != nil {
		return fail(exitUsage, "read the pipeline: %v", err)
	}
	spec, err := workflows.ParseSpec(data)
	if err != nil {
		return fail(exitUsage, "%s: %v", o.pipeline, err)
	}
	wfArgs := []any{spec}
	if o.input != "" {
		input, err := os.ReadFile(o.input)
		if err != nil {
			return fail(exitUsage, "read the input: %v", err)
		}
		value, err := workflows.ParseInput(input)
		if err != nil {
			return fail(exitUsage, "%s: %v", o.input, err)
		}
		wfArgs = append(wfArgs, value)
	}
	if o.workflowID == "" {
		o.workflowID = defaultWorkflowID(o.pipeline)
	}

	c, err := client.DialContext(ctx, client.Options{
		HostPort:  o.address,
		Namespace: o.namespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	})
	if err != nil {
		return fail(exitTemporal, "connect to Temporal at %s (namespace %q): %v", o.address, o.namespace, err)
	}
	defer c.Close()

	wfRun, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: o.workflowID, TaskQueue: o.taskQueue,
		WorkflowExecutionErrorWhenAlreadyStarted: true, // never attach to another run by mistake
	}, workflows.PipelineName, wfArgs...)
	if err != nil {
		return fail(exitTemporal, "start the pipeline %s: %v", o.workflowID, err)
	}
	fmt.Fprintf(stderr, "Started Pipeline %s (run %s) on task queue %q\n", wfRun.GetID(), wfRun.GetRunID(), o.taskQueue)
	link := ""
	if o.ui != "" {
		link = uiURL(o.ui, o.namespace, wfRun.GetID(), wfRun.GetRunID())
		fmt.Fprintf(stderr, "Web UI: %s\n", link)
	}
	if !o.wait {
		if o.json {
			return printStarted(stdout, wfRun, link)
		}
		return exitOK
	}

	waitCtx := ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	display := newDisplay(o.progress, stderr)
	var watcher *progressWatcher
	if display != nil {
		// The latest run: a long pipeline continues as new under the same workflow ID.
		watcher = watchProgress(waitCtx, c, wfRun.GetID(), "", o.taskQueue, o.interval, display)
	}
	var result workflows.PipelineResult
	err = wfRun.Get(waitCtx, &result)
	stoppedWaiting := err != nil && stoppedWaitingFor(waitCtx, err)
	if watcher != nil {
		watcher.stop(!stoppedWaiting)
	}
	if err != nil {
		if stoppedWaiting {
			why := context.Cause(waitCtx)
			if why == nil { // the server enforced our deadline a moment before ctx expired
				why = context.DeadlineExceeded
			}
			return fail(exitTemporal, "stopped waiting (%v); the pipeline keeps running: %s\n"+
				"  follow it:  temporal workflow result --workflow-id %s --address %s\n"+
				"  cancel it:  temporal workflow cancel --workflow-id %s --address %s",
				why, or(link, wfRun.GetID()), wfRun.GetID(), o.address, wfRun.GetID(), o.address)
		}
		printFailure(stderr, err)
		return exitFailed
	}
	if err := printResult(stdout, result, o.json); err != nil {
		return fail(exitFailed, "print the result: %v", err)
	}
	return exitOK
}

// stoppedWaitingFor reports whether err ended a wait on ctx because ctx ended, rather than because
// the pipeline did. The SDK hands ctx's deadline to the server, which may answer DeadlineExceeded
// a moment before ctx itself expires, so the error counts as well as ctx.Err().
func stoppedWaitingFor(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	_, hasDeadline := ctx.Deadline()
	var deadline *serviceerror.DeadlineExceeded
	return hasDeadline && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &deadline))
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// uiURL is the link to a workflow run's history in the Temporal Web UI.
func uiURL(base, namespace, workflowID, runID string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history",
		strings.TrimRight(base, "/"), url.PathEscape(namespace), url.PathEscape(workflowID), url.PathEscape(runID))
}

func defaultWorkflowID(pipelinePath string) string {
	name := strings.TrimSuffix(filepath.Base(pipelinePath), filepath.Ext(pipelinePath))
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	return fmt.Sprintf("pipeline-%s-%s", name, hex.EncodeToString(suffix[:]))
}
