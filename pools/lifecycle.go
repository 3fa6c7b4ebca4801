package pools

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// The Go side owns the life of its Python workers. A worker ignores the signals a service manager
// sends to every process of the service (SIGTERM, SIGINT, SIGHUP) and stops only when asked: by
// the stop command, one JSON line on its stdin (bridge.proto, "The lifeline"). End of file on its
// stdin means that the Go process is gone, and the worker exits at once.
//
// The stop budget is Options.StopTimeout, from the stop command to SIGKILL of the process group:
// the running calls are cancelled and get the first half (stopGrace) to end, teardown() runs in
// the rest once they have. A call still running after its half means a tool that ignores its
// cancel: Python then skips teardown (it never runs beside a tool) and exits.

// stopCommand is the line that asks a Python worker to stop.
type stopCommand struct {
	Stop stopArgs `json:"stop"`
}

type stopArgs struct {
	// GraceSeconds is how long the running calls get to end once cancelled.
	GraceSeconds float64 `json:"grace_seconds"`
	// TimeoutSeconds is how long the process has to exit before its group gets SIGKILL.
	TimeoutSeconds float64 `json:"timeout_seconds"`
}

// stopWriteTimeout bounds the write of the stop command (a pipe that a live process drains).
const stopWriteTimeout = time.Second

// stopGrace is the part of a stop timeout that running calls get to end after their cancel;
// teardown() has the rest.
func stopGrace(timeout time.Duration) time.Duration { return timeout / 2 }

// stop ends the process and returns once it has been reaped: it sends the stop command and
// waits up to timeout for the exit, then SIGKILLs the process group. With timeout 0 (or when the
// command cannot be written) it kills at once. (Stdin stays open until cleanup: its end means
// "the parent died" to Python.)
func (w *worker) stop(timeout time.Duration) {
	if w.cmd == nil {
		return
	}
	if timeout > 0 {
		if err := w.requestStop(timeout); err != nil {
			w.log.Warn("cannot ask the python worker to stop; killing it", slog.Any("error", err))
		} else {
			t := time.NewTimer(timeout)
			select {
			case <-w.exited:
			case <-t.C:
				w.log.Warn("python worker did not exit within the stop timeout; killing it", slog.Duration("stop_timeout", timeout))
			}
			t.Stop()
		}
	}
	w.kill()
	<-w.exited
}

// requestStop writes the stop command to the worker's stdin.
func (w *worker) requestStop(timeout time.Duration) error {
	line, err := json.Marshal(stopCommand{Stop: stopArgs{
		GraceSeconds:   stopGrace(timeout).Seconds(),
		TimeoutSeconds: timeout.Seconds(),
	}})
	if err != nil {
		return fmt.Errorf("encode the stop command: %w", err)
	}
	select {
	case <-w.exited:
		return nil // nothing to stop
	default:
	}
	_ = w.stdin.SetWriteDeadline(time.Now().Add(stopWriteTimeout))
	if _, err := w.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write the stop command: %w", err)
	}
	return nil
}
