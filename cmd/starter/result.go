package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/workflows"
)

// maxResultWidth bounds a result in the readable table; --json prints results whole.
const maxResultWidth = 200

// printResult prints the pipeline's result: as indented JSON with asJSON, else as a table of the
// steps with their results (compact JSON in the tools' key order, fractional numbers shortened),
// followed by a table of each step whose result is a list of records (a map over records, e.g.
// a sweep's evaluations).
func printResult(w io.Writer, result workflows.PipelineResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(result)
	}
	type titled struct {
		title string
		table *recordTable
	}
	var tables []titled
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tPOOL\tTOOL\tRESULT")
	for _, r := range result.Results {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("#%d", r.Step)
		}
		shown := shorten(readableJSON(r.Result), r.Result)
		switch t, isTable := recordsOf(r.Result); {
		case r.Status == workflows.StatusSkipped:
			shown = "(skipped)"
		case r.Error != nil:
			shown = fmt.Sprintf("(failed, continued: %s: %s)", r.Error.Type, r.Error.Message)
		case result.Output != nil:
			shown = "(see the output)"
		case isTable:
			shown = fmt.Sprintf("%d results (table below)", len(t.rows))
			tables = append(tables, titled{name, t})
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, or(r.Pool, "-"), or(r.Tool, "-"), shown)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range tables {
		if err := t.table.print(w, t.title); err != nil {
			return err
		}
	}
	if result.Output != nil {
		_, err := fmt.Fprintf(w, "OUTPUT %s\n", shorten(readableJSON(result.Output), result.Output))
		return err
	}
	return nil
}

// printStarted prints the started run as JSON (--wait=false --json).
func printStarted(w io.Writer, run client.WorkflowRun, link string) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]string{"workflow_id": run.GetID(), "run_id": run.GetRunID(), "ui": link}); err != nil {
		return exitFailed
	}
	return exitOK
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

// shorten cuts a long result for the table, saying how long a list is.
func shorten(s string, raw json.RawMessage) string {
	if len(s) <= maxResultWidth {
		return s
	}
	suffix := fmt.Sprintf("... (%d bytes; --json prints it whole)", len(s))
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		suffix = fmt.Sprintf("... (a list of %d; --json prints it whole)", len(list))
	}
	return s[:maxResultWidth] + suffix
}

// printFailure explains a failed pipeline on stderr: the message (which names the step and the
// root cause), then the step, error type and message on their own lines, then the Python traceback.
func printFailure(w io.Writer, err error) {
	fmt.Fprintf(w, "snakepool-starter: pipeline failed: %s\n", describeFailure(err))
	if f, ok := stepFailure(err); ok {
		step := f.Step
		if f.Path != "" && f.Path != f.Step {
			step += " (" + f.Path + ")"
		}
		if f.Item != nil {
			step += fmt.Sprintf(", item %d", *f.Item)
		}
		fmt.Fprintf(w, "  step:    %s\n", step)
		if f.Tool != "" {
			fmt.Fprintf(w, "  tool:    %s on pool %s\n", f.Tool, f.Pool)
		}
		fmt.Fprintf(w, "  error:   %s\n", f.ErrorType)
		fmt.Fprintf(w, "  message: %s\n", f.Message)
	}
	if tb := pythonTraceback(err); tb != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(tb, "\n"))
	}
}

// describeFailure is the one-line message of a failed pipeline: the message of the workflow's
// ApplicationError (which names the step and the Python exception), what ended it otherwise.
func describeFailure(err error) string {
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	var terminated *temporal.TerminatedError
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &appErr):
		return appErr.Message()
	case errors.As(err, &canceled):
		return "the pipeline was cancelled"
	case errors.As(err, &terminated):
		return "the pipeline was terminated"
	case errors.As(err, &timeout):
		return fmt.Sprintf("the pipeline timed out (%s)", timeout.TimeoutType())
	}
	var wfErr *temporal.WorkflowExecutionError
	if errors.As(err, &wfErr) && errors.Unwrap(wfErr) != nil {
		return workflows.RootCause(errors.Unwrap(wfErr))
	}
	return err.Error()
}

// stepFailure returns the details of the pipeline's StepFailed or InvalidReference error.
func stepFailure(err error) (workflows.StepFailure, bool) {
	var appErr *temporal.ApplicationError
	var f workflows.StepFailure
	if !errors.As(err, &appErr) || !appErr.HasDetails() {
		return f, false
	}
	if t := appErr.Type(); t != workflows.ErrTypeStepFailed && t != workflows.ErrTypeInvalidReference {
		return f, false
	}
	if appErr.Details(&f) != nil {
		return f, false
	}
	return f, true
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
