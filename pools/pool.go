// Package pools supervises local pools of Python worker processes that run the tools of a
// snakepool adapter, and routes calls to them over Unix socket pairs (calls.go, control.go).
//
// A pool has a profile: ProfileProcess runs Size processes that run one call each, ProfileThread
// runs Size processes that run ThreadsPerWorker calls each in threads. The pool sends each call to
// the least-loaded worker with a free slot (a call waits, honouring its context, while the pool is
// full), checks the workers' health, replaces crashed or hung workers with backoff, recycles
// workers by age, call count and resident memory (starting the replacement before draining the old
// one, so that capacity does not dip), cancels calls in Python, and stops everything it started:
// no Python process, nor any process a tool started, outlives its worker, the pool, or a SIGKILL
// of the Go process (process groups, a marker in the environment, a parent-death signal, a
// lifeline watcher process, and a child subreaper with AdoptOrphans; see docs/reliability.md).
//
// This package knows nothing of Temporal.
package pools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a supervised set of Python worker processes running one adapter. Its methods are safe
// for concurrent use.
type Pool struct {
	opts    Options
	log     *slog.Logger
	metrics *poolMetrics
	tools   []ToolSpec
	interp  InterpreterInfo

	workerSeq atomic.Int64

	// ctx is cancelled by Stop once the drain is over; it ends the monitors.
	ctx    context.Context
	cancel context.CancelFunc
	// closing is cancelled as soon as Stop begins: it ends the pending replacements and
	// recycles, and cuts short the starts in progress (no worker is started once Stop began).
	closing      context.Context
	closingEnded context.CancelFunc
	// bg counts the goroutines the pool runs (monitors, replacements). Add is only called from a
	// goroutine bg already counts, or before Start returns.
	bg sync.WaitGroup

	mu       sync.Mutex
	workers  []*worker // live processes: ready, draining, stopping
	pending  int       // workers being started to replace others
	inflight int       // calls running
	reserved int       // leases not used yet
	closed   bool
	changed  chan struct{} // closed and replaced on every change of the slot counts
	rr       int           // round-robin start of the least-loaded search
	failures []time.Time   // crashes, failed starts, unhealthy kills within CrashLoopWindow
	lastErr  error

	stopOnce sync.Once
	stopErr  error
}

// PoolHealth is a snapshot of a pool's state for health endpoints.
type PoolHealth struct {
	// Degraded is true while the pool is in a crash loop and short of workers: at least
	// CrashLoopThreshold failures (crashes, failed starts, unhealthy workers) within
	// CrashLoopWindow, and fewer than Size workers taking calls. The pool keeps replacing workers,
	// with a backoff that grows up to MaxRestartBackoff; once it is back at full size it is not
	// degraded, even while the failures are still within the window.
	Degraded bool
	// LastError is the last failure, or nil.
	LastError error
	// Workers is the number of workers taking calls; Size the number wanted; Starting the number
	// of replacements being started.
	Workers  int
	Size     int
	Starting int
	// Closed is true once Stop has begun.
	Closed bool
}

// Stats is a consistent snapshot of a pool's slot counts.
type Stats struct {
	// Capacity is Size * ThreadsPerWorker.
	Capacity int
	// Available is the number of calls the pool can take now without waiting.
	Available int
	// InFlight is the number of calls running; Reserved the number of leases not used yet.
	InFlight int
	Reserved int
	// Workers is the number of live Python processes (taking calls or draining).
	Workers int
}

// Start starts a pool and returns once all its workers are ready. Workers start in batches of
// StartupBatchSize. When one cannot start (for example the adapter fails to import, reported as
// an *AdapterError carrying the Python traceback) Start stops the others and returns the error.
// ctx bounds the start; it does not bound the pool's life (use Stop).
func Start(ctx context.Context, opts Options) (*Pool, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{
		opts:    o,
		log:     o.Logger.With(slog.String("pool", o.Name)),
		changed: make(chan struct{}),
	}
	p.metrics = newPoolMetrics(o.Metrics, o.Name, o.capacity())
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.closing, p.closingEnded = context.WithCancel(context.Background())
	lifeline.acquire(p.log) // watcher_linux.go: tool processes do not outlive a SIGKILL of this process

	started := make([]*worker, 0, o.Size)
	fail := func(err error) (*Pool, error) {
		defer lifeline.release()
		p.closingEnded()
		p.cancel()
		var wg sync.WaitGroup
		for _, w := range started {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.stop(o.StopTimeout)
				w.cleanup()
			}()
		}
		wg.Wait()
		return nil, err
	}
	begin := time.Now()
	for first := 0; first < o.Size; first += o.StartupBatchSize {
		if first > 0 && o.StartupBatchDelay > 0 {
			t := time.NewTimer(o.StartupBatchDelay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return fail(fmt.Errorf("pools: pool %q: start: %w", o.Name, ctx.Err()))
			}
		}
		batch, err := p.startBatch(ctx, first, min(o.StartupBatchSize, o.Size-first))
		started = append(started, batch...)
		if err != nil {
			return fail(err)
		}
	}
	d := started[0].describe
	p.interp = InterpreterInfo{
		Version:    d.GetPythonVersion(),
		GILEnabled: d.GetGilEnabled(),
		Mode:       d.GetMode(),
		MaxWorkers: int(d.GetMaxWorkers()),
	}
	for _, t := range d.GetTools() {
		spec := ToolSpec{Name: t.GetName(), Description: t.GetDescription()}
		if s := t.GetInputSchemaJson(); s != "" {
			spec.InputSchema = []byte(s)
		}
		p.tools = append(p.tools, spec)
	}
	p.mu.Lock()
	p.workers = started
	p.updateGaugesLocked()
	p.mu.Unlock()
	for _, w := range started {
		p.bg.Add(1)
		go p.monitor(w)
	}
	p.log.Info("pool started",
		slog.String("profile", string(o.Profile)), slog.Int("size", o.Size), slog.Int("capacity", o.capacity()),
		slog.String("adapter", o.Adapter), slog.String("python", p.interp.Version),
		slog.Bool("gil_enabled", p.interp.GILEnabled), slog.Int("tools", len(p.tools)),
		slog.Duration("took", time.Since(begin)))
	return p, nil
}

// startBatch starts n workers at once, for slots first..first+n-1. On the first error it cancels
// the others and returns the ones that did start with that error.
func (p *Pool) startBatch(ctx context.Context, first, n int) ([]*worker, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		w   *worker
		err error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			w, err := p.startWorker(ctx, first+i)
			results <- result{w, err}
		}()
	}
	var started []*worker
	var firstErr error
	for range n {
		r := <-results
		switch {
		case r.err == nil:
			started = append(started, r.w)
		case firstErr == nil || (errors.Is(firstErr, context.Canceled) && !errors.Is(r.err, context.Canceled)):
			firstErr = r.err
			cancel() // fail fast: the other starts of the batch are cut short
		}
	}
	return started, firstErr
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.opts.Name }

// Options returns the pool's options with their defaults applied.
func (p *Pool) Options() Options { return p.opts }

// Tools returns the tools of the pool's adapter, as its first worker described them.
func (p *Pool) Tools() []ToolSpec { return append([]ToolSpec(nil), p.tools...) }

// Interpreter describes the Python interpreter of the pool's workers.
func (p *Pool) Interpreter() InterpreterInfo { return p.interp }

// Capacity returns the number of calls the pool runs at once when all its workers are up:
// Size * ThreadsPerWorker.
func (p *Pool) Capacity() int { return p.opts.capacity() }

// Available returns the number of calls the pool can take now without waiting: the free slots of
// its ready workers less the unused leases. It is 0 once Stop has begun.
func (p *Pool) Available() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.availableLocked()
}

// Stats returns a consistent snapshot of the pool's slot counts.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Capacity:  p.opts.capacity(),
		Available: p.availableLocked(),
		InFlight:  p.inflight,
		Reserved:  p.reserved,
		Workers:   len(p.workers),
	}
}

// AvailableChanged returns a channel that is closed the next time Available() may have changed
// (a call started or ended, a lease was taken or released, a worker joined or left, Stop began).
// Call it again after each close to wait for the next change.
func (p *Pool) AvailableChanged() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// Health returns the pool's health.
func (p *Pool) Health() PoolHealth {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := PoolHealth{
		LastError: p.lastErr,
		Size:      p.opts.Size,
		Starting:  p.pending,
		Closed:    p.closed,
	}
	for _, w := range p.workers {
		if w.state == stateReady && !w.dead {
			h.Workers++
		}
	}
	h.Degraded = h.Workers < h.Size && p.recentFailuresLocked(time.Now()) >= p.opts.CrashLoopThreshold
	return h
}

// Call runs one tool call on the least-loaded worker with a free slot, waiting for one while the
// pool is full. It returns the tool's JSON result, or an error: a *ToolError when the tool raised,
// a *WorkerCrashedError when the Python process died during the call, an error wrapping
// ErrPoolClosed once Stop has begun, or one wrapping ctx.Err() when ctx ended (the call is then
// cancelled in Python; see Options.CancelGrace).
func (p *Pool) Call(ctx context.Context, call Call) (json.RawMessage, error) {
	// Fast path: a slot no lease has a claim on is free now.
	if w := p.tryAcquire(1); w != nil {
		defer p.releaseSlot(w)
		return p.execute(ctx, w, call)
	}
	lease, err := p.Reserve(ctx)
	if err != nil {
		return nil, err
	}
	defer lease.Release()
	return lease.Call(ctx, call)
}

// notifyLocked wakes everything waiting on a change of the slot counts. Under p.mu.
func (p *Pool) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
	p.updateGaugesLocked()
}

// Stop stops the pool: it stops taking calls at once (Call and Reserve return ErrPoolClosed) and
// starting workers (a replacement not started yet is dropped), waits for the in-flight calls to
// finish for up to DrainTimeout (or until ctx ends), then ends every Python process (the stop
// command; SIGKILL to its process group after StopTimeout; see lifecycle.go) and removes the
// sockets. Calls still running then fail with an error wrapping ErrPoolClosed, and
// Stop reports how many there were. ctx bounds the drain only: the processes are always ended,
// which takes at most StopTimeout more. Calling Stop again waits for the first and returns its
// result.
func (p *Pool) Stop(ctx context.Context) error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(ctx) })
	return p.stopErr
}

func (p *Pool) stop(ctx context.Context) error {
	begin := time.Now()
	p.mu.Lock()
	p.closed = true
	p.notifyLocked()
	p.mu.Unlock()
	p.closingEnded()

	// Drain.
	drainCtx, cancel := context.WithTimeout(ctx, p.opts.DrainTimeout)
	interrupted := 0
drain:
	for {
		p.mu.Lock()
		n, ch := p.inflight, p.changed
		p.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-ch:
		case <-drainCtx.Done():
			interrupted = n
			break drain
		}
	}
	cancel()

	// No more monitors or replacements; then end every process left.
	p.cancel()
	p.bg.Wait()
	p.mu.Lock()
	workers := append([]*worker(nil), p.workers...)
	for _, w := range workers {
		w.state = stateStopping
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.stop(p.opts.StopTimeout)
			w.cleanup()
		}()
	}
	wg.Wait()
	p.mu.Lock()
	p.workers = nil
	p.notifyLocked()
	p.mu.Unlock()
	lifeline.release()
	p.log.Info("pool stopped", slog.Duration("took", time.Since(begin)), slog.Int("interrupted_calls", interrupted))
	if interrupted > 0 {
		return fmt.Errorf("pools: pool %q: stopped with %d calls still running after the drain: %w",
			p.opts.Name, interrupted, context.DeadlineExceeded)
	}
	return nil
}
