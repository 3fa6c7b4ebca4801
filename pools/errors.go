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
	// Reason is why the pool ended the process on purpose ("unhealthy" after missed health checks,
	// "cancel_timeout" when a cancelled tool did not stop in time), or empty for a crash.
	Reason string
	// StderrTail is the last lines the process wrote to stderr, possibly empty.
	StderrTail string
	// BatchItem is the index of the item that was running when the process died, in an error of
	// CallBatch; 0 for a Call.
	BatchItem int
}

func (e *WorkerCrashedError) Error() string {
	how := fmt.Sprintf("exit code %d", e.ExitCode)
	if e.Signal != "" {
		how = "signal " + e.Signal
	}
	if e.Reason != "" {
		how += " (" + e.Reason + ")"
	}
	return fmt.Sprintf("pool %q: python worker %s (pid %d) crashed: %s", e.Pool, e.WorkerID, e.PID, how)
}

// AdapterError is returned by Start when a Python worker cannot load the pool's adapter (the
// module does not import, the class does not exist, its constructor raised...). It carries the
// Python exception and traceback from the worker's handshake.
type AdapterError struct {
	// Pool and Adapter name the pool and its "module:Class".
	Pool    string
	Adapter string
	// Type, Message and Traceback describe the Python exception, e.g. "ModuleNotFoundError".
	Type      string
	Message   string
	Traceback string
}

func (e *AdapterError) Error() string {
	msg := fmt.Sprintf("pool %q: cannot load adapter %q: python %s: %s", e.Pool, e.Adapter, e.Type, e.Message)
	if e.Traceback != "" {
		msg += "\n" + e.Traceback
	}
	return msg
}
