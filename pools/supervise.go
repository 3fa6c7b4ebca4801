package pools

import (
	"log/slog"
	"time"
)

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
			w.stop(p.opts.StopTimeout)
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

// isFailure tells whether an exit reason counts toward the crash loop and the backoff.
func isFailure(reason string) bool {
	switch reason {
	case "crash", "unhealthy", "start_failed", "session_lost", "control_lost":
		return true
	}
	return false
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
		return p.closing.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.closing.Done():
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
		w, err := p.startWorker(p.closing, slot)
		if err != nil {
			if p.closing.Err() != nil {
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
