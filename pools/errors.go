package pools

import (
	"errors"
	"fmt"
)

// ErrPoolClosed is returned by Call once Stop has begun.
var ErrPoolClosed = errors.New("pool is closed")

// ToolError is an exception raised by a Python tool (or by the bridge on its behalf, such as
// InvalidArguments, ToolNotFound or Cancelled).
type ToolError struct {
	// Type is the Python exception class name, e.g. "ValueError".
	Type string
	// Message is str(exception).
	Message string
	// Traceback is the formatted Python traceback, possibly empty.
	Traceback string
	// NonRetryable is true for NonRetryableError and its subclasses, InvalidArguments and ToolNotFound.
	NonRetryable bool
}

func (e *ToolError) Error() string {
	return fmt.Sprintf("python %s: %s", e.Type, e.Message)
}

// WorkerCrashedError reports that the Python process running a call died before answering.
// It is retryable: the pool replaces the worker.
type WorkerCrashedError struct {
	// Pool and WorkerID name the worker that died; PID is its process id.
	Pool     string
	WorkerID string
	PID      int
	// ExitCode is the process's exit code, or -1 when it was killed by a signal.
	ExitCode int
	// Signal is the name of the signal that killed it (e.g. "killed"), or empty.
	Signal string
	// StderrTail is the last lines the process wrote to stderr, possibly empty.
	StderrTail string
}

func (e *WorkerCrashedError) Error() string {
	how := fmt.Sprintf("exit code %d", e.ExitCode)
	if e.Signal != "" {
		how = "signal " + e.Signal
	}
	return fmt.Sprintf("pool %q: python worker %s (pid %d) crashed: %s", e.Pool, e.WorkerID, e.PID, how)
}
