package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/pools"
)

// callGuard ends a running call early for snakepool's own reasons, while the activity's context
// still runs: a tool that has not heartbeated for its progress timeout (alive but stuck), and a
// heartbeat whose details are over the payload limit. It cancels the call's context with the
// error the activity then returns; the pool cancels the call in Python with its usual grace.
type callGuard struct {
	ctx    context.Context
	cancel context.CancelCauseFunc

	pool, tool string
	limit      int // MaxPayloadBytes; negative: none

	mu      sync.Mutex
	timeout time.Duration // progress timeout; 0: none
	timer   *time.Timer
}

// guardError is the cause a guard cancels a call with; err is what the activity returns.
type guardError struct{ err error }

func (e *guardError) Error() string { return e.err.Error() }
func (e *guardError) Unwrap() error { return e.err }

// newCallGuard guards a call of tool, run under parent: progressTimeout 0 means no progress
// timeout, limit < 0 no limit on heartbeat details.
func newCallGuard(parent context.Context, pool, tool string, progressTimeout time.Duration, limit int) *callGuard {
	ctx, cancel := context.WithCancelCause(parent)
	g := &callGuard{ctx: ctx, cancel: cancel, pool: pool, tool: tool, limit: limit, timeout: progressTimeout}
	if progressTimeout > 0 {
		g.timer = time.AfterFunc(progressTimeout, func() {
			msg := fmt.Sprintf("pool %q tool %q: no heartbeat from the tool for %s (the progress_timeout of the tool); "+
				"the call was cancelled: is the tool stuck? It must call ctx.heartbeat at least every %s",
				pool, tool, progressTimeout, progressTimeout)
			cancel(&guardError{temporal.NewApplicationError(msg, ErrTypeProgressTimeout)})
		})
	}
	return g
}

// heartbeat checks one tool heartbeat: it restarts the progress timeout, and reports false (and
// ends the call) when the details are over the limit, which must then not be recorded.
func (g *callGuard) heartbeat(hb pools.Heartbeat) bool {
	if g.limit >= 0 && len(hb.Details) > g.limit {
		msg := fmt.Sprintf("pool %q tool %q: the heartbeat details are %d bytes (%s), over the limit of %d bytes "+
			"(%s, the pool's max_payload_bytes); the call was cancelled: keep checkpoints passed to ctx.heartbeat small "+
			"(a path or an id, not the data)", g.pool, g.tool, len(hb.Details), mib(len(hb.Details)), g.limit, mib(g.limit))
		g.cancel(&guardError{temporal.NewNonRetryableApplicationError(msg, ErrTypePayloadTooLarge, nil)})
		return false
	}
	g.progressed()
	return true
}

// progressed restarts the progress timeout: a batch's item ended.
func (g *callGuard) progressed() {
	if g.timer != nil {
		g.mu.Lock()
		g.timer.Reset(g.timeout)
		g.mu.Unlock()
	}
}

// fail ends the call with err, which the activity then returns (see err).
func (g *callGuard) fail(err error) { g.cancel(&guardError{err}) }

// err returns the error the guard ended the call with, or nil.
func (g *callGuard) err() error {
	var ge *guardError
	if errors.As(context.Cause(g.ctx), &ge) {
		return ge.err
	}
	return nil
}

// stop releases the guard once the call has returned.
func (g *callGuard) stop() {
	if g.timer != nil {
		g.mu.Lock()
		g.timer.Stop()
		g.mu.Unlock()
	}
	g.cancel(nil)
}
