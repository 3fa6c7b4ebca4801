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
