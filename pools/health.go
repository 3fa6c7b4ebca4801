package pools

import (
	"context"
	"log/slog"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// ping runs one health check of w.
func (p *Pool) ping(w *worker) bool {
	ctx, cancel := context.WithTimeout(w.ctx, p.opts.HealthCheckTimeout)
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()
	_, err := w.client.Ping(ctx, &bridgev1.PingRequest{})
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
