package workflows

import (
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// runSleep waits for the step's duration on a Temporal timer.
func (r *runner) runSleep(ctx workflow.Context, n *node) (json.RawMessage, error) {
	timer := workflow.NewTimerWithOptions(ctx, n.sleep, workflow.TimerOptions{Summary: n.label()})
	if err := timer.Get(ctx, nil); err != nil {
		return nil, err
	}
	return json.RawMessage("null"), nil
}

// runWait takes one signal of the step's name (one received before the step started counts) and
// returns its payload; with a timeout, it fails with WaitTimedOut when none came in time.
func (r *runner) runWait(ctx workflow.Context, n *node) (json.RawMessage, error) {
	name := n.step.Wait.Signal
	if queued := r.signals[name]; len(queued) > 0 {
		r.signals[name] = queued[1:]
		return queued[0], nil
	}
	var payload json.RawMessage
	received := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, name), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, &payload)
		received = true
	})
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	if n.waitTimeout > 0 {
		timer := workflow.NewTimerWithOptions(tctx, n.waitTimeout, workflow.TimerOptions{Summary: n.label() + " timeout"})
		sel.AddFuture(timer, func(workflow.Future) {})
	}
	sel.Select(ctx)
	switch {
	case received:
		return orNull(payload), nil
	case ctx.Err() != nil:
		return nil, temporal.NewCanceledError()
	}
	msg := fmt.Sprintf("step %s: no signal %q came within %s", n.label(), name, n.waitTimeout)
	details := StepFailure{Step: n.label(), Path: n.key, ErrorType: ErrTypeWaitTimedOut, Message: fmt.Sprintf("no signal %q within %s", name, n.waitTimeout)}
	return nil, temporalNonRetryable(msg, ErrTypeWaitTimedOut, nil, details)
}

// runDAG starts each step of a dag as soon as the steps it depends on have finished (succeeded,
// been skipped, or failed with on_error "continue"). The first failure cancels the running steps,
// and the steps that have not started do not.
func (r *runner) runDAG(ctx workflow.Context, n *node) (json.RawMessage, error) {
	gctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	results := make([]json.RawMessage, len(n.children))
	finished := make([]bool, len(n.children))
	var firstErr error
	pending := len(n.children)
	for i, ch := range n.children {
		workflow.Go(gctx, func(bctx workflow.Context) {
			defer func() { pending-- }()
			ready := func() bool {
				if firstErr != nil {
					return true
				}
				for _, d := range ch.deps {
					if !finished[d] {
						return false
					}
				}
				return true
			}
			if err := workflow.Await(bctx, ready); err != nil || firstErr != nil {
				return
			}
			out, err := r.run(bctx, ch)
			if err != nil {
				if firstErr == nil && !(temporal.IsCanceledError(err) && gctx.Err() != nil && ctx.Err() == nil) {
					firstErr = err
					cancel() // the running steps are cancelled
				}
				return
			}
			results[i] = out
			finished[i] = true
		})
	}
	if err := workflow.Await(ctx, func() bool { return pending == 0 }); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return marshalList(results)
}
