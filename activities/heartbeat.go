package activities

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/snakepool/snakepool/pools"
)

// heartbeater records the heartbeats of one running call with activity.RecordHeartbeat, from a
// goroutine of its own so that a slow heartbeat RPC never holds up the call's event loop: the
// tool's heartbeats as they come, and the latest details again every interval while the call
// runs. The automatic heartbeat is what delivers Temporal's cancellation to the activity (the
// SDK cancels ctx when a heartbeat's response says so) and what keeps the HeartbeatTimeout from
// firing while a tool that never heartbeats runs.
type heartbeater struct {
	ctx  context.Context
	send func(values ...any) // activity.RecordHeartbeat

	mu sync.Mutex
	// values are what the next heartbeat records: the tool's latest, or the previous attempt's
	// until the tool heartbeats, or nothing.
	values []any
	// details are the last non-empty details the tool gave: a heartbeat without details (a
	// progress report) keeps them, so that it does not wipe a checkpoint.
	details json.RawMessage

	fresh   chan struct{} // a tool heartbeat is waiting (1-buffered)
	done    chan struct{} // closed by stop
	stopped chan struct{} // closed when the goroutine has returned
}

// startHeartbeats starts the heartbeats of a call, recorded with send; previous are the previous
// attempt's heartbeat values, re-sent until the tool heartbeats (nil: none). Nothing is sent once
// ctx is done.
func startHeartbeats(ctx context.Context, interval time.Duration, previous []any, send func(values ...any)) *heartbeater {
	h := &heartbeater{
		ctx:     ctx,
		send:    send,
		values:  previous,
		fresh:   make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go h.run(interval)
	return h
}

// record takes a heartbeat of the tool. It does not block.
func (h *heartbeater) record(hb pools.Heartbeat) {
	h.mu.Lock()
	if len(hb.Details) > 0 {
		h.details = hb.Details
	}
	h.values = heartbeatDetails(h.details, hb.Progress)
	h.mu.Unlock()
	select {
	case h.fresh <- struct{}{}:
	default: // the goroutine will send the latest values anyway
	}
}

// stop ends the automatic heartbeats once the call has returned; a tool heartbeat not sent yet is
// sent first (the SDK flushes it to the server if the activity fails, for the next attempt).
func (h *heartbeater) stop() {
	close(h.done)
	<-h.stopped
}

func (h *heartbeater) run(interval time.Duration) {
	defer close(h.stopped)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	ctxDone := h.ctx.Done()
	for {
		select {
		case <-h.fresh:
		case <-ticker.C:
		case <-ctxDone:
			// Cancelled or timed out: the SDK refuses heartbeats now; wait for the call to end.
			<-h.done
			return
		case <-h.done:
			select {
			case <-h.fresh:
				h.beat()
			default:
			}
			return
		}
		h.beat()
	}
}

func (h *heartbeater) beat() {
	h.mu.Lock()
	values := h.values
	h.mu.Unlock()
	h.send(values...)
}
