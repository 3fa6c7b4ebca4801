// Package workflows holds the Pipeline workflow, which runs a declarative list of tool calls on
// snakepool pools, and the types of its input and output.
//
// Every tool of a pool is an activity named after the tool on the pool's task queue
// ("snakepool.<pool>" by default), so Go workflow authors can also call tools directly:
//
//	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
//		TaskQueue: workflows.PoolTaskQueue("math"), StartToCloseTimeout: time.Minute,
//	})
//	var out json.RawMessage
//	err := workflow.ExecuteActivity(ctx, "square", map[string]any{"x": 12}).Get(ctx, &out)
package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Pipeline runs spec's steps in order, each as the activity named after its tool on its pool's task
// queue, and returns their results. An invalid spec fails the workflow at once with a non-retryable
// ApplicationError of type ErrTypeInvalidPipeline naming the field; a failed step fails it with a
// non-retryable ApplicationError of type ErrTypeStepFailed whose message names the step and the
// root cause (e.g. "ValueError: boom") and whose cause is the activity error.
//
// Register it under PipelineName:
//
//	w.RegisterWorkflowWithOptions(workflows.Pipeline, workflow.RegisterOptions{Name: workflows.PipelineName})
func Pipeline(ctx workflow.Context, spec PipelineSpec) (PipelineResult, error) {
	if err := spec.Validate(); err != nil {
		return PipelineResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidPipeline, nil)
	}
	logger := workflow.GetLogger(ctx)
	result := PipelineResult{Results: make([]StepResult, 0, len(spec.Steps))}
	for i, step := range spec.Steps {
		actx := workflow.WithActivityOptions(ctx, step.activityOptions(spec.Defaults))
		var out json.RawMessage
		if err := workflow.ExecuteActivity(actx, step.Tool, stepArgs(step.Args)).Get(actx, &out); err != nil {
			if temporal.IsCanceledError(err) && ctx.Err() != nil {
				return PipelineResult{}, err // the workflow was cancelled: end as cancelled, not failed
			}
			return PipelineResult{}, stepFailed(i, step, err)
		}
		logger.Info("Pipeline step done", "step", i, "name", step.Name, "pool", step.Pool, "tool", step.Tool)
		result.Results = append(result.Results, StepResult{
			Step: i, Name: step.Name, Pool: step.Pool, Tool: step.Tool, Result: out,
		})
	}
	return result, nil
}

// stepArgs is the activity input of a step: its args, or {} when it has none.
func stepArgs(args json.RawMessage) json.RawMessage {
	trimmed := bytes.TrimSpace(args)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return json.RawMessage("{}")
	}
	return args
}

func stepFailed(index int, step Step, err error) error {
	msg := fmt.Sprintf("step %s (tool %q on pool %q) failed: %s", step.DisplayName(index), step.Tool, step.Pool, RootCause(err))
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeStepFailed, err)
}

// RootCause describes the cause of a failed step in one line: "Type: message" for the innermost
// ApplicationError (such as a Python exception), "activity StartToClose timeout (type: ...)" for a
// timeout (followed by the last attempt's failure, if any), the innermost message otherwise.
func RootCause(err error) string {
	var innermostApp *temporal.ApplicationError
	last := err
	for e := err; e != nil; e = errors.Unwrap(e) {
		last = e
		switch e := e.(type) {
		case *temporal.TimeoutError:
			msg := fmt.Sprintf("%s (type: %s)", e.Message(), e.TimeoutType())
			if cause := errors.Unwrap(e); cause != nil {
				msg += "; last failure: " + RootCause(cause)
			}
			return msg
		case *temporal.ApplicationError:
			innermostApp = e
		}
	}
	if innermostApp != nil {
		if innermostApp.Type() == "" {
			return innermostApp.Message()
		}
		return innermostApp.Type() + ": " + innermostApp.Message()
	}
	return last.Error()
}
