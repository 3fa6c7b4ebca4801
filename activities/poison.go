package activities

import (
	"fmt"
	"syscall"

	"go.temporal.io/sdk/temporal"
	"golang.org/x/sys/unix"

	"github.com/snakepool/snakepool/pools"
)

// A poison input crashes the Python worker that runs it, on every attempt. Temporal's default
// retry policy retries without end, so each attempt that ends with a crash is counted in the
// activity's heartbeat bookkeeping (which travels with the activity to whichever machine runs the
// next attempt), and past Options.MaxCrashedAttempts the activity fails without retrying.

// crashDescription says how a worker ended: "signal segmentation fault (SIGSEGV)", "exit code 7".
func crashDescription(e *pools.WorkerCrashedError) string {
	how := fmt.Sprintf("exit code %d", e.ExitCode)
	if e.Signal != "" {
		how = "signal " + e.Signal
		if name := signalName(e.Signal); name != "" {
			how += " (" + name + ")"
		}
	}
	if e.Reason != "" {
		how += ", " + e.Reason
	}
	return how
}

// signalName returns the SIGXXX name of a signal described as Go's syscall.Signal.String does
// ("segmentation fault"), or "".
func signalName(description string) string {
	for sig := syscall.Signal(1); sig < 65; sig++ {
		if sig.String() == description {
			return unix.SignalName(sig)
		}
	}
	return ""
}

// crashedError is the activity's error for a call whose worker crashed, book counting this
// attempt: retryable WorkerCrashed while fewer than limit attempts crashed (limit < 1: no limit),
// non-retryable once limit did.
func crashedError(pool, tool string, crashed *pools.WorkerCrashedError, book bookkeeping, limit int) error {
	opts := temporal.ApplicationErrorOptions{}
	if crashed.StderrTail != "" {
		opts.Details = []any{crashed.StderrTail}
	}
	if limit > 0 && book.CrashedAttempts >= limit {
		opts.NonRetryable = true
		msg := fmt.Sprintf("pool %q tool %q: the python worker crashed in %d attempts of this activity (the last: %s); "+
			"not retrying, as the pool's max_crashed_attempts is %d: the input may crash the tool (%s)",
			pool, tool, book.CrashedAttempts, book.LastCrash, limit, crashed.Error())
		return temporal.NewApplicationErrorWithOptions(msg, ErrTypeWorkerCrashed, opts)
	}
	msg := fmt.Sprintf("%s (crashed attempts of this activity: %d", crashed.Error(), book.CrashedAttempts)
	if limit > 0 {
		msg += fmt.Sprintf(" of at most %d", limit)
	}
	return temporal.NewApplicationErrorWithOptions(msg+")", ErrTypeWorkerCrashed, opts)
}
