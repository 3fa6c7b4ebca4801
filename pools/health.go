package pools

import (
	"context"
	"log/slog"
	"time"
)

// ping runs one health check of w: a Ping on its control channel, answered by a thread of
// Python's own (also while a tool runs), within HealthCheckTimeout.
func (p *Pool) ping(w *worker) bool {
	ctx, cancel := context.WithTimeout(w.ctx, p.opts.HealthCheckTimeout)
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()
	_, err := w.control.ping(ctx)
	if err != nil && p.ctx.Err() == nil && w.ctx.Err() == nil {
		w.log.Debug("ping failed", slog.Any("error", err))
		return false
	}
	return true
}

// killWorker kills w on purpose (it is replaced when its exit is seen).
func (p *Pool) killWorker(w *worker, reason string) {
	p.mu.Lock()
	if w.state == stateExited || w.state == stateStopping || w.dead {
		p.mu.Unlock()
		return // already going
	}
	w.state = stateStopping
	w.exitReason = reason
	p.notifyLocked()
	p.mu.Unlock()
	w.log.Warn("killing python worker", slog.String("reason", reason))
	w.kill()
}

// channelLost is the broken callback of one of w's channels (name, for the log): unless the
// process is gone or the worker is being cleaned up (closing), a channel that ends on its own means
// a process that cannot serve any more, and w is killed (reason, e.g. "session_lost").
func (w *worker) channelLost(name, reason string, closing func() bool) func(error) {
	return func(err error) {
		if w.ctx.Err() != nil || closing() {
			return // the process is gone, or the worker is being cleaned up: nothing to repair
		}
		// A process that died closes its channels before it is reaped: give it a moment.
		t := time.NewTimer(exitWait)
		defer t.Stop()
		select {
		case <-w.exited:
			return
		case <-t.C:
		}
		w.log.Error(name+" ended; replacing the worker", slog.Any("error", err))
		w.pool.killWorker(w, reason)
	}
}
