package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/pools"
)

// Error types of the ApplicationErrors that Error returns besides Python exception class names.
const (
	// ErrTypeWorkerCrashed: the Python process died during the call. Retryable, until
	// Options.MaxCrashedAttempts attempts of the activity crashed: then non-retryable.
	ErrTypeWorkerCrashed = "WorkerCrashed"
	// ErrTypeProgressTimeout: the tool did not heartbeat within Options.ProgressTimeout; its call
	// was cancelled. Retryable.
	ErrTypeProgressTimeout = "ProgressTimeout"
	// ErrTypePoolClosed: the pool is stopping (the worker shuts down). Retryable, on another worker.
	ErrTypePoolClosed = "PoolClosed"
	// ErrTypePayloadTooLarge: the call's arguments, its result or its heartbeat details are
	// larger than Options.MaxPayloadBytes. Non-retryable.
	ErrTypePayloadTooLarge = "PayloadTooLarge"
	// ErrTypeToolNotFound: a call of a tool the pool does not have. Non-retryable. It is also the
	// type the Python bridge uses for the same error.
	ErrTypeToolNotFound = "ToolNotFound"
)

// Error maps an error of pools.Pool.Call to what the activity returns:
//
//   - *pools.ToolError: an ApplicationError whose type is the Python exception class (e.g.
//     "ValueError"), whose message is the exception's, non-retryable as the tool said, with the
//     traceback as its details (when there is one);
//   - *pools.WorkerCrashedError: a retryable ApplicationError of type "WorkerCrashed", with the
//     process's last stderr lines as details;
//   - pools.ErrPoolClosed: a retryable ApplicationError of type "PoolClosed";
//   - any error once ctx is done (Temporal cancelled the activity, or it timed out): an error that
//     wraps ctx.Err(), so that a cancellation is reported as such;
//   - anything else: the error, wrapped with the pool and tool names (retryable).
func Error(ctx context.Context, pool, tool string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("pool %q tool %q: %w (%v)", pool, tool, ctxErr, err)
	}
	var toolErr *pools.ToolError
	var crashed *pools.WorkerCrashedError
	switch {
	case errors.As(err, &toolErr):
		opts := temporal.ApplicationErrorOptions{NonRetryable: toolErr.NonRetryable}
		if toolErr.Traceback != "" {
			opts.Details = []any{toolErr.Traceback}
		}
		return temporal.NewApplicationErrorWithOptions(toolErr.Message, toolErr.Type, opts)
	case errors.As(err, &crashed):
		opts := temporal.ApplicationErrorOptions{}
		if crashed.StderrTail != "" {
			opts.Details = []any{crashed.StderrTail}
		}
		return temporal.NewApplicationErrorWithOptions(crashed.Error(), ErrTypeWorkerCrashed, opts)
	case errors.Is(err, pools.ErrPoolClosed):
		return temporal.NewApplicationError(fmt.Sprintf("pool %q is closed", pool), ErrTypePoolClosed)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	default:
		return fmt.Errorf("pool %q tool %q: %w", pool, tool, err)
	}
}
