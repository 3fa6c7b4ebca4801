package pools

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// availableLocked is the number of calls the pool can take now. Under p.mu.
func (p *Pool) availableLocked() int {
	if p.closed {
		return 0
	}
	free := 0
	for _, w := range p.workers {
		free += w.free()
	}
	return max(0, free-p.reserved)
}

// pickLocked returns the least-loaded ready worker with a free slot, or nil. Ties are broken
// round-robin so that equally loaded workers share the calls. Under p.mu.
func (p *Pool) pickLocked() *worker {
	n := len(p.workers)
	var best *worker
	bestLoad := 0
	for i := range n {
		w := p.workers[(p.rr+i)%n]
		if w.free() <= 0 {
			continue
		}
		load := w.inflight + w.stuck
		if best == nil || load < bestLoad {
			best, bestLoad = w, load
			if load == 0 {
				break
			}
		}
	}
	p.rr++
	return best
}

// Lease is a slot of a pool reserved for one call. It is what a slot supplier hands out: take it
// with Reserve or TryReserve, use it once with Call, and Release it (which returns the slot if
// Call was not used; Release after Call is a no-op, so `defer lease.Release()` is always right).
type Lease struct {
	p *Pool
	// state: leaseReserved, then leaseUsed or leaseReleased.
	state atomic.Int32
}

const (
	leaseReserved int32 = iota
	leaseUsed
	leaseReleased
)

// Reserve reserves a slot, waiting while the pool is full. It returns an error wrapping
// ErrPoolClosed once Stop has begun, or one wrapping ctx.Err() when ctx ends first.
func (p *Pool) Reserve(ctx context.Context) (*Lease, error) {
	begin := time.Now()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, p.closedError()
		}
		if p.availableLocked() > 0 {
			p.reserved++
			p.notifyLocked()
			p.mu.Unlock()
			p.metrics.slotWait.Record(time.Since(begin))
			return &Lease{p: p}, nil
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("pools: pool %q: waiting for a free slot: %w", p.opts.Name, ctx.Err())
		}
	}
}

// TryReserve reserves a slot if one is free now.
func (p *Pool) TryReserve() (*Lease, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.availableLocked() <= 0 {
		return nil, false
	}
	p.reserved++
	p.notifyLocked()
	return &Lease{p: p}, true
}

// Release returns the lease's slot to the pool if Call was not used. It is idempotent.
func (l *Lease) Release() {
	if !l.state.CompareAndSwap(leaseReserved, leaseReleased) {
		return
	}
	l.p.mu.Lock()
	l.p.reserved--
	l.p.notifyLocked()
	l.p.mu.Unlock()
}

// Call runs one call in the reserved slot (see Pool.Call for the results and errors). A lease
// runs one call: a second Call, or a Call after Release, returns an error at once. If the worker
// the slot was counted on has gone meanwhile (a crash), Call waits for a free slot, honouring ctx.
func (l *Lease) Call(ctx context.Context, call Call) (json.RawMessage, error) {
	w, err := l.use(ctx, 1)
	if err != nil {
		return nil, err
	}
	defer l.p.releaseSlot(w)
	return l.p.execute(ctx, w, call)
}

// use turns the lease into a slot on a worker (see acquire), once.
func (l *Lease) use(ctx context.Context, requests int) (*worker, error) {
	if !l.state.CompareAndSwap(leaseReserved, leaseUsed) {
		return nil, fmt.Errorf("pools: pool %q: the lease was already used or released", l.p.opts.Name)
	}
	return l.p.acquire(ctx, requests)
}

// acquire turns a reservation into a call on a worker: it picks the least-loaded worker with a
// free slot, waiting for one if needed, and counts requests tool invocations on it. On error the
// reservation is given back.
func (p *Pool) acquire(ctx context.Context, requests int) (*worker, error) {
	var begin time.Time
	for {
		p.mu.Lock()
		if p.closed {
			p.reserved--
			p.notifyLocked()
			p.mu.Unlock()
			return nil, p.closedError()
		}
		if w := p.pickLocked(); w != nil {
			p.reserved--
			p.startCallLocked(w, requests)
			p.mu.Unlock()
			if !begin.IsZero() {
				p.metrics.slotWait.Record(time.Since(begin))
			}
			return w, nil
		}
		if begin.IsZero() {
			begin = time.Now()
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			p.reserved--
			p.notifyLocked()
			p.mu.Unlock()
			return nil, fmt.Errorf("pools: pool %q: waiting for a free slot: %w", p.opts.Name, ctx.Err())
		}
	}
}

// tryAcquire starts a call of requests tool invocations on the least-loaded worker if the pool
// has a slot free now that no lease has a claim on (Reserve and Lease.Call in one step), or
// returns nil.
func (p *Pool) tryAcquire(requests int) *worker {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.availableLocked() <= 0 {
		return nil
	}
	w := p.pickLocked()
	if w == nil {
		return nil
	}
	p.startCallLocked(w, requests)
	p.metrics.slotWait.Record(0)
	return w
}

// startCallLocked counts a call of requests tool invocations (a batch's items) starting on w.
// Under p.mu.
func (p *Pool) startCallLocked(w *worker, requests int) {
	w.inflight++
	w.requests += requests
	p.inflight++
	if w.maxRequests > 0 && w.requests >= w.maxRequests {
		w.requestRecycle("requests")
	}
	p.notifyLocked()
}

// releaseSlot ends a call on w.
func (p *Pool) releaseSlot(w *worker) {
	p.mu.Lock()
	w.inflight--
	p.inflight--
	if w.state == stateDraining && w.inflight == 0 {
		w.signalDrained()
	}
	p.notifyLocked()
	p.mu.Unlock()
}

func (p *Pool) closedError() error {
	return fmt.Errorf("pools: pool %q: %w", p.opts.Name, ErrPoolClosed)
}
