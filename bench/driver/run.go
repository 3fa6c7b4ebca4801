package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.temporal.io/sdk/client"
)

// runResult is what the run command prints.
type runResult struct {
	WorkflowID string          `json:"workflow_id"`
	Seconds    float64         `json:"seconds"` // from the start request to the result
	Result     json.RawMessage `json:"result"`
}

// runCommand starts one workflow of type --workflow on --task-queue with the JSON in --input as its
// only argument, waits for its result and prints it with the time it took. A workflow still
// running at --timeout (or when the command is interrupted) is terminated, so that it does not
// load the server during the next measurement.
func runCommand(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("run", flag.ContinueOnError)
	address := flags.String("address", "", "Temporal frontend host:port (required)")
	queue := flags.String("task-queue", "", "the workflow's task queue (required)")
	workflowType := flags.String("workflow", "", "workflow type, e.g. Pipeline (required)")
	input := flags.String("input", "", "file holding the workflow's JSON argument (required)")
	timeout := flags.Duration("timeout", 10*time.Minute, "terminate the workflow and fail after this long")
	if err := flags.Parse(args); err != nil || *address == "" || *queue == "" || *workflowType == "" || *input == "" {
		return usageError{"run --address HOST:PORT --task-queue Q --workflow TYPE --input FILE [--timeout D]"}
	}
	data, err := os.ReadFile(*input)
	if err != nil {
		return fmt.Errorf("read the workflow input: %w", err)
	}
	if !json.Valid(data) {
		return fmt.Errorf("%s: not valid JSON", *input)
	}
	c, err := dial(ctx, *address)
	if err != nil {
		return err
	}
	defer c.Close()

	waitCtx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	id := "bench-" + randomSuffix()
	begin := time.Now()
	wf, err := c.ExecuteWorkflow(waitCtx, client.StartWorkflowOptions{
		ID: id, TaskQueue: *queue, WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, *workflowType, json.RawMessage(data))
	if err != nil {
		return fmt.Errorf("start %s on %q: %w", *workflowType, *queue, err)
	}
	var result json.RawMessage
	err = wf.Get(waitCtx, &result)
	elapsed := time.Since(begin)
	if err != nil {
		if waitCtx.Err() != nil {
			terminateCtx, cancelTerminate := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancelTerminate()
			terr := c.TerminateWorkflow(terminateCtx, id, wf.GetRunID(), "bench: stopped waiting")
			return fmt.Errorf("%s %s on %q did not finish within %s (terminated: %v): %w",
				*workflowType, id, *queue, *timeout, terr == nil, errors.Join(waitCtx.Err(), err))
		}
		return fmt.Errorf("%s %s on %q failed: %w", *workflowType, id, *queue, err)
	}
	return writeJSON(stdout, runResult{WorkflowID: id, Seconds: elapsed.Seconds(), Result: result})
}

// randomSuffix makes workflow IDs unique across runs on one server.
func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
