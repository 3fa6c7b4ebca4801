package pools

import (
	"log/slog"
	"time"
)

// requestRecycle asks w's monitor to recycle it. Under p.mu; it never blocks.
func (w *worker) requestRecycle(reason string) {
	if w.recycling || w.state != stateReady {
		return
	}
	select {
	case w.recycleCh <- reason:
	default: // one request is pending already
	}
}

// signalDrained tells w's monitor that w, draining, has no call left. Under p.mu.
func (w *worker) signalDrained() {
	if !w.drainedSent {
		w.drainedSent = true
		close(w.drained)
	}
}

// checkMemory reads w's resident memory, reports it and recycles w past its limit.
func (p *Pool) checkMemory(w *worker) {
	rss, err := residentMemory(w.pid)
	if err != nil {
		return // the process is going; its exit is handled elsewhere
	}
	p.metrics.workerMemory(w.slot).Update(float64(rss))
	if w.maxMemory > 0 && rss > w.maxMemory {
		w.log.Info("resident memory over the limit; recycling", slog.Int64("rss", rss), slog.Int64("limit", w.maxMemory))
		p.recycle(w, "memory")
	}
}

// adopt adds a new ready worker to the pool (and starts its monitor); when old is not nil it is
// drained in the same step, so that the pool's free slots never dip. locked runs under p.mu. It
// returns false (having stopped w) when the pool is stopping.
func (p *Pool) adopt(w *worker, old *worker, locked func()) bool {
	p.mu.Lock()
	locked()
	if p.closed {
		p.mu.Unlock()
		w.stop(p.opts.StopTimeout)
		w.cleanup()
		return false
	}
	p.workers = append(p.workers, w)
	if old != nil && old.state == stateReady {
		old.state = stateDraining
		if old.inflight == 0 {
			old.signalDrained()
		}
	}
	p.notifyLocked()
	p.mu.Unlock()
	p.bg.Add(1)
	go p.monitor(w)
	return true
}

// recycle replaces w: it starts the new worker first and drains w once the new one is ready.
// Runs in w's monitor.
func (p *Pool) recycle(w *worker, reason string) {
	p.mu.Lock()
	if p.closed || w.state != stateReady || w.recycling {
		p.mu.Unlock()
		return
	}
	w.recycling = true
	w.recycleReason = reason
	w.replaced = true
	p.pending++
	p.mu.Unlock()
	w.log.Info("recycling python worker", slog.String("reason", reason), slog.Int("requests", w.requestCount()),
		slog.Duration("age", time.Since(w.startedAt)))
	p.bg.Add(1)
	go p.startRecycle(w, reason)
}

func (w *worker) requestCount() int {
	w.pool.mu.Lock()
	defer w.pool.mu.Unlock()
	return w.requests
}

// startRecycle starts the replacement of old and swaps it in.
func (p *Pool) startRecycle(old *worker, reason string) {
	defer p.bg.Done()
	nw, err := p.startWorker(p.closing, old.slot)
	if err != nil {
		p.mu.Lock()
		p.pending--
		old.recycling = false
		old.replaced = false
		orphan := old.state == stateExited // old died meanwhile and nobody replaces it
		var delay time.Duration
		if p.closing.Err() == nil {
			delay = p.recordFailureLocked(err)
		}
		if orphan && !p.closed {
			p.pending++
		}
		p.mu.Unlock()
		if p.closing.Err() != nil {
			return
		}
		p.metrics.restart("start_failed")
		p.log.Error("cannot start the replacement of a recycled worker", slog.Any("error", err), slog.Duration("retry_in", delay))
		if orphan {
			p.bg.Add(1)
			go p.replace(old.slot, reason, delay)
			return
		}
		if p.sleep(delay) {
			p.mu.Lock()
			old.requestRecycle(reason)
			p.mu.Unlock()
		}
		return
	}
	if !p.adopt(nw, old, func() { p.pending--; p.metrics.recycle(reason) }) {
		return
	}
	nw.log.Info("recycled python worker", slog.String("reason", reason), slog.String("old_worker", old.id))
}
