package pools

import (
	"context"
	"log/slog"
	"time"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
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

// monitor watches one worker for its whole life: its exit, its health checks, its memory, its
// TTL, and the recycle and drain requests. It is the only goroutine that replaces the worker.
func (p *Pool) monitor(w *worker) {
	defer p.bg.Done()

	var healthC <-chan time.Time
	if p.opts.HealthCheckInterval > 0 {
		t := time.NewTicker(p.opts.HealthCheckInterval)
		defer t.Stop()
		healthC = t.C
	}
	memT := time.NewTicker(p.opts.MemoryCheckInterval)
	defer memT.Stop()
	var ttlC <-chan time.Time
	if w.ttl > 0 {
		t := time.NewTimer(time.Until(w.startedAt.Add(w.ttl)))
		defer t.Stop()
		ttlC = t.C
	}
	drained := w.drained
	missed := 0
	for {
		select {
		case <-w.exited:
			p.onExit(w)
			return
		case <-p.ctx.Done():
			return // Stop ends the process
		case <-drained:
			drained = nil
			p.mu.Lock()
			w.state = stateStopping
			p.mu.Unlock()
			w.log.Debug("drained; stopping the old worker")
			w.terminate(p.opts.StopTimeout)
		case reason := <-w.recycleCh:
			p.recycle(w, reason)
		case <-ttlC:
			p.recycle(w, "ttl")
		case <-memT.C:
			p.checkMemory(w)
		case <-healthC:
			if p.ping(w) {
				missed = 0
				continue
			}
			missed++
			p.metrics.missedHealthChecks.Inc(1)
			w.log.Warn("missed health check", slog.Int("missed", missed), slog.Int("max_missed", p.opts.MaxMissedHealthChecks))
			if missed >= p.opts.MaxMissedHealthChecks {
				p.killWorker(w, "unhealthy")
			}
		}
	}
}

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

// killWorker kills w on purpose (it is replaced when its exit is seen).
func (p *Pool) killWorker(w *worker, reason string) {
	p.mu.Lock()
	if w.state == stateExited {
		p.mu.Unlock()
		return
	}
	w.state = stateStopping
	w.exitReason = reason
	p.notifyLocked()
	p.mu.Unlock()
	w.log.Warn("killing python worker", slog.String("reason", reason))
	w.kill()
}

// isFailure tells whether an exit reason counts toward the crash loop and the backoff.
func isFailure(reason string) bool {
	return reason == "crash" || reason == "unhealthy" || reason == "start_failed" || reason == "session_lost"
}

// onExit handles the exit of w's process: it takes w out of the pool, and replaces it unless a
// replacement exists already or the pool is stopping.
func (p *Pool) onExit(w *worker) {
	p.mu.Lock()
	prev := w.state
	w.state = stateExited
	for i, x := range p.workers {
		if x == w {
			p.workers = append(p.workers[:i], p.workers[i+1:]...)
			break
		}
	}
	reason := w.exitReason
	if reason == "" && prev != stateStopping {
		reason = "crash"
	}
	replace := !p.closed && !w.replaced
	var delay time.Duration
	if isFailure(reason) {
		why := reason
		if why == "crash" {
			why = ""
		}
		delay = p.recordFailureLocked(w.crashError(why))
	}
	if replace {
		p.pending++
	}
	p.notifyLocked()
	p.mu.Unlock()

	if reason == "crash" {
		w.log.Warn("python worker crashed", slog.String("exit", describeExit(w.exitState)),
			slog.String("stderr_tail", w.stderr.String()))
	} else {
		w.log.Debug("python worker exited", slog.String("reason", reason), slog.String("exit", describeExit(w.exitState)))
	}
	if replace {
		p.bg.Add(1)
		go p.replace(w.slot, reason, delay)
	}
	w.cleanup()
}

// recordFailureLocked records a failure for the crash loop and returns the backoff before the
// next replacement. Under p.mu.
func (p *Pool) recordFailureLocked(err error) time.Duration {
	now := time.Now()
	p.failures = append(p.failures, now)
	p.lastErr = err
	n := p.recentFailuresLocked(now)
	if n == p.opts.CrashLoopThreshold {
		p.log.Error("pool degraded: crash loop", slog.Int("failures", n),
			slog.Duration("window", p.opts.CrashLoopWindow), slog.Any("last_error", err))
	}
	return p.backoff(n)
}

// recentFailuresLocked drops the failures older than the window and counts the others.
func (p *Pool) recentFailuresLocked(now time.Time) int {
	cut := 0
	for cut < len(p.failures) && now.Sub(p.failures[cut]) > p.opts.CrashLoopWindow {
		cut++
	}
	p.failures = p.failures[cut:]
	return len(p.failures)
}

// backoff is RestartBackoff doubled for each failure after the first, capped.
func (p *Pool) backoff(failures int) time.Duration {
	d := p.opts.RestartBackoff
	for i := 1; i < failures && d < p.opts.MaxRestartBackoff; i++ {
		d *= 2
	}
	return min(d, p.opts.MaxRestartBackoff)
}

// sleep waits d or until the pool stops; it reports whether the pool is still running.
func (p *Pool) sleep(d time.Duration) bool {
	if d <= 0 {
		return p.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// replace starts a worker in slot after delay, retrying with backoff until it starts or the pool
// stops. It runs in its own goroutine, counted by p.bg.
func (p *Pool) replace(slot int, reason string, delay time.Duration) {
	defer p.bg.Done()
	for {
		if !p.sleep(delay) {
			p.mu.Lock()
			p.pending--
			p.mu.Unlock()
			return
		}
		w, err := p.startWorker(p.ctx, slot)
		if err != nil {
			if p.ctx.Err() != nil {
				continue // sleep returns false
			}
			p.mu.Lock()
			delay = p.recordFailureLocked(err)
			p.mu.Unlock()
			p.metrics.restart("start_failed")
			p.log.Error("cannot start a replacement worker", slog.Any("error", err), slog.Duration("retry_in", delay))
			continue
		}
		if !p.adopt(w, nil, func() { p.pending--; p.metrics.restart(reason) }) {
			return
		}
		w.log.Info("replacement worker ready", slog.String("reason", reason))
		return
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
		w.terminate(p.opts.StopTimeout)
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
	nw, err := p.startWorker(p.ctx, old.slot)
	if err != nil {
		p.mu.Lock()
		p.pending--
		old.recycling = false
		old.replaced = false
		orphan := old.state == stateExited // old died meanwhile and nobody replaces it
		var delay time.Duration
		if p.ctx.Err() == nil {
			delay = p.recordFailureLocked(err)
		}
		if orphan && !p.closed {
			p.pending++
		}
		p.mu.Unlock()
		if p.ctx.Err() != nil {
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
