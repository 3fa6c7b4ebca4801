// Command snakepool-starter starts a Pipeline workflow from a JSON file, prints the link to the run
// in the Temporal Web UI, waits for it and prints its result.
//
//	snakepool-starter --pipeline examples/pipelines/demo.json [--json]
//
// The exit code is 0 when the pipeline succeeded, 1 when it failed (the error, e.g. a Python
// exception's type and message, goes to stderr) and 2 for bad usage.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	pipeline   string
	address    string
	namespace  string
	taskQueue  string
	workflowID string
	json       bool
	ui         string
	timeout    time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, int) {
	var o options
	flags := flag.NewFlagSet("snakepool-starter", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&o.pipeline, "pipeline", "", "the pipeline spec, a JSON file (required)")
	flags.StringVar(&o.address, "address", "localhost:7233", "Temporal frontend host:port")
	flags.StringVar(&o.namespace, "namespace", "default", "Temporal namespace")
	flags.StringVar(&o.taskQueue, "task-queue", workflows.TaskQueue, "the worker's workflow task queue (temporal.task_queue in its config)")
	flags.StringVar(&o.workflowID, "workflow-id", "", "workflow ID (default: <file name>-<random>)")
	flags.BoolVar(&o.json, "json", false, "print the result as JSON")
	flags.StringVar(&o.ui, "ui", "http://localhost:8233", "Temporal Web UI base URL for the run's link (empty: no link)")
	flags.DurationVar(&o.timeout, "timeout", 0, "stop waiting after this long (the workflow keeps running); 0 waits for ever")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: snakepool-starter --pipeline FILE [flags]")
		fmt.Fprintln(stderr, "Starts a Pipeline workflow, waits for it and prints its result.")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0
		}
		return o, 2
	}
	if o.pipeline == "" || flags.NArg() > 0 {
		flags.Usage()
		return o, 2
	}
	return o, -1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code := parseFlags(args, stderr)
	if code >= 0 {
		return code
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "snakepool-starter: "+format+"\n", args...)
		return 1
	}
	data, err := os.ReadFile(o.pipeline)
	if err != nil {
		return fail("%v", err)
	}
	spec, err := workflows.ParseSpec(data)
	if err != nil {
		return fail("%s: %v", o.pipeline, err)
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
		return fail("connect to Temporal at %s (namespace %q): %v", o.address, o.namespace, err)
	}
	defer c.Close()

	wfRun, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: o.workflowID, TaskQueue: o.taskQueue},
		workflows.PipelineName, spec)
	if err != nil {
		return fail("start the pipeline: %v", err)
	}
	fmt.Fprintf(stderr, "Started Pipeline %s (run %s) on task queue %q\n", wfRun.GetID(), wfRun.GetRunID(), o.taskQueue)
	link := ""
	if o.ui != "" {
		link = uiURL(o.ui, o.namespace, wfRun.GetID(), wfRun.GetRunID())
		fmt.Fprintf(stderr, "Web UI: %s\n", link)
	}

	waitCtx := ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	var result workflows.PipelineResult
	if err := wfRun.Get(waitCtx, &result); err != nil {
		if waitCtx.Err() != nil {
			return fail("stopped waiting (%v); the pipeline keeps running: %s", waitCtx.Err(), or(link, wfRun.GetID()))
		}
		fmt.Fprintf(stderr, "snakepool-starter: pipeline failed: %s\n", describeFailure(err))
		if tb := pythonTraceback(err); tb != "" {
			fmt.Fprintf(stderr, "\n%s\n", strings.TrimRight(tb, "\n"))
		}
		return 1
	}
	if err := printResult(stdout, result, o.json); err != nil {
		return fail("print the result: %v", err)
	}
	return 0
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

// describeFailure is the one-line message of a failed pipeline: the message of the workflow's
// ApplicationError (which names the step and the Python exception), else the error's own.
func describeFailure(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var wfErr *temporal.WorkflowExecutionError
	if errors.As(err, &wfErr) && errors.Unwrap(wfErr) != nil {
		return workflows.RootCause(errors.Unwrap(wfErr))
	}
	return err.Error()
}

// pythonTraceback returns the traceback carried by the innermost ApplicationError, if any.
func pythonTraceback(err error) string {
	var innermost *temporal.ApplicationError
	for e := err; e != nil; e = errors.Unwrap(e) {
		if app, ok := e.(*temporal.ApplicationError); ok {
			innermost = app
		}
	}
	if innermost == nil || !innermost.HasDetails() {
		return ""
	}
	var tb string
	if innermost.Details(&tb) != nil {
		return ""
	}
	return tb
}

func printResult(w io.Writer, result workflows.PipelineResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(result)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tPOOL\tTOOL\tRESULT")
	for _, r := range result.Results {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("#%d", r.Step)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, r.Pool, r.Tool, compactJSON(r.Result))
	}
	return tw.Flush()
}

func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}
