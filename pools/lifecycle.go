package pools

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// The Go side owns the life of its Python workers. A worker ignores the signals a service manager
// sends to every process of the service (SIGTERM, SIGINT, SIGHUP) and stops only when asked: by
// the Stop request on its control channel (control.go). The end of the control channel means that
// the Go process is gone, and the worker exits at once.
//
// The stop budget is Options.StopTimeout, from the Stop request to SIGKILL of the process group:
// the running calls are cancelled and get the first half (stopGrace) to end, teardown() runs in
// the rest once they have. A call still running after its half means a tool that ignores its
// cancel: Python then skips teardown (it never runs beside a tool) and exits.

// stopWriteTimeout bounds the write of the Stop request (a channel that a live process drains).
const stopWriteTimeout = time.Second

// stopGrace is the part of a stop timeout that running calls get to end after their cancel;
// teardown() has the rest.
func stopGrace(timeout time.Duration) time.Duration { return timeout / 2 }

// stop ends the process and returns once it has been reaped: it sends the Stop request and waits
// up to timeout for the exit, then SIGKILLs the process group. With timeout 0 (or when the request
// cannot be written) it kills at once. (The control channel stays open until cleanup: its end
// means "the parent died" to Python.)
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

// requestStop sends the Stop request on the worker's control channel.
func (w *worker) requestStop(timeout time.Duration) error {
	select {
	case <-w.exited:
		return nil // nothing to stop
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopWriteTimeout)
	defer cancel()
	if err := w.control.stop(ctx, stopGrace(timeout), timeout); err != nil {
		return fmt.Errorf("send the stop request: %w", err)
	}
	return nil
}
