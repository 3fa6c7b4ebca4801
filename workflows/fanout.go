package workflows

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// fanOut runs a map's calls, at most limit at once, each in a coroutine of its own, and keeps the
// first failure, which cancels the calls in flight and starts no more.
type fanOut struct {
	// ctx is the calls' context; cancel cancels it (the caller defers it).
	ctx     workflow.Context
	cancel  workflow.CancelFunc
	limit   int
	running int
	err     error
}

func startFanOut(ctx workflow.Context, limit int) *fanOut {
	cctx, cancel := workflow.WithCancel(ctx)
	return &fanOut{ctx: cctx, cancel: cancel, limit: limit}
}

// ready waits (on ctx) until a call may start: true, or false once a call failed.
func (f *fanOut) ready(ctx workflow.Context) (bool, error) {
	if err := workflow.Await(ctx, func() bool { return f.running < f.limit || f.err != nil }); err != nil {
		return false, err
	}
	return f.err == nil, nil
}

// eachRange calls start(a, b) for the ranges [0, size), [size, 2*size), ... of n items, in
// order, each once a call may start. It stops once a call has failed or start returns false, and
// returns ctx's error when the wait ends with one.
func (f *fanOut) eachRange(ctx workflow.Context, n, size int, start func(a, b int) bool) error {
	for a := 0; a < n; a += size { // a += size cannot overflow: a is 0 or below n
		if ok, err := f.ready(ctx); err != nil || !ok {
			return err
		}
		if !start(a, min(a+size, n)) {
			return nil
		}
	}
	return nil
}

// goCall runs a started call's end, ended(gctx), in a coroutine; the call counts as running
// until it returns.
func (f *fanOut) goCall(ended func(gctx workflow.Context)) {
	f.running++
	workflow.Go(f.ctx, func(gctx workflow.Context) {
		defer func() { f.running-- }()
		ended(gctx)
	})
}

// fail records the fan-out's failure (the first one counts) and cancels the calls in flight.
func (f *fanOut) fail(err error) {
	if f.err == nil {
		f.err = err
		f.cancel()
	}
}

// cancelled handles a call that ended with err when it is a cancellation: the workflow's own (ctx
// is done: the fan-out fails with it) or the fan-out's (another call failed). It reports whether
// it was one of them.
func (f *fanOut) cancelled(ctx workflow.Context, err error) bool {
	switch {
	case temporal.IsCanceledError(err) && ctx.Err() != nil:
		f.fail(err)
		return true
	case temporal.IsCanceledError(err) && f.ctx.Err() != nil:
		return true
	}
	return false
}

// wait waits until no call runs, and returns the first failure.
func (f *fanOut) wait(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return f.running == 0 }); err != nil {
		return err
	}
	return f.err
}
