package pools

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// callIDPrefix makes call ids unique per Go process (the bridge requires it).
var (
	callIDPrefix = func() string {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}()
	callSeq atomic.Uint64
)

func newCallID() string {
	return callIDPrefix + "-" + strconv.FormatUint(callSeq.Add(1), 10)
}

// exitWait is how long a call whose stream broke waits for the process to be reaped, to report
// its exit code.
const exitWait = 2 * time.Second

// execute runs call on w, which has a slot taken for it, over w's call channel.
func (p *Pool) execute(ctx context.Context, w *worker, call Call) (json.RawMessage, error) {
	return p.executeSession(ctx, w, w.session, newRequest(newCallID(), call), call, time.Now())
}

func newRequest(callID string, call Call) *bridgev1.ExecuteRequest {
	args := []byte(call.Args)
	if len(args) == 0 {
		args = []byte("{}")
	}
	return &bridgev1.ExecuteRequest{
		CallId:     callID,
		Tool:       call.Tool,
		ArgsJson:   args,
		ResumeJson: call.Resume,
		Info:       callInfo(call.Info),
	}
}

func callInfo(i CallInfo) *bridgev1.CallInfo {
	return &bridgev1.CallInfo{
		WorkflowId:   i.WorkflowID,
		RunId:        i.RunID,
		ActivityId:   i.ActivityID,
		ActivityType: i.ActivityType,
		Attempt:      i.Attempt,
		TaskQueue:    i.TaskQueue,
		Namespace:    i.Namespace,
	}
}

func toolError(e *bridgev1.Error) *ToolError {
	return &ToolError{
		Type:         e.GetType(),
		Message:      e.GetMessage(),
		Traceback:    e.GetTraceback(),
		NonRetryable: e.GetNonRetryable(),
	}
}

func heartbeat(hb *bridgev1.Heartbeat) Heartbeat {
	return Heartbeat{Details: hb.GetDetailsJson(), Progress: hb.GetProgress(), Item: int(hb.GetItem())}
}

// executeSession runs a call over w's call channel. The caller's goroutine waits for the call's
// events, ctx and the cancel grace at once, and runs OnHeartbeat in order.
func (p *Pool) executeSession(ctx context.Context, w *worker, s *session, req *bridgev1.ExecuteRequest, call Call, begin time.Time) (json.RawMessage, error) {
	callID := req.GetCallId()
	mb, err := s.start(ctx, callID, &bridgev1.SessionRequest{Request: &bridgev1.SessionRequest_Start{Start: req}})
	if err != nil {
		return nil, p.sendError(ctx, w, callID, call.Tool, err)
	}
	defer s.forget(callID)
	var result json.RawMessage
	err = p.await(ctx, w, s, mb, callID, call.Tool, func(ev *bridgev1.SessionEvent, cancelled bool) (bool, error) {
		switch e := ev.GetEvent().(type) {
		case *bridgev1.SessionEvent_Heartbeat:
			relayHeartbeat(call.OnHeartbeat, e.Heartbeat, cancelled)
			return false, nil
		case *bridgev1.SessionEvent_Result:
			var err error
			result, err = p.outcome(ctx, w, callID, call.Tool, begin, cancelled, e.Result, nil)
			return true, err
		case *bridgev1.SessionEvent_Error:
			_, err := p.outcome(ctx, w, callID, call.Tool, begin, cancelled, nil, e.Error)
			return true, err
		default:
			return true, p.unexpected(w, callID, call.Tool, ev)
		}
	})
	return result, err
}

// relayHeartbeat hands a heartbeat to f, unless there is no f or the call was cancelled.
func relayHeartbeat(f func(Heartbeat), hb *bridgev1.Heartbeat, cancelled bool) {
	if f != nil && !cancelled {
		f(heartbeat(hb))
	}
}

// eventHandler takes one event of a call (cancelled: ctx has ended and the cancel was sent), and
// says whether the call has ended, with the call's error.
type eventHandler func(ev *bridgev1.SessionEvent, cancelled bool) (ended bool, err error)

// await hands the events of call callID to handle, in order, until it says the call has ended.
// Meanwhile it honours ctx: when ctx ends it sends the cancel and gives the call CancelGrace to
// end, then abandons it. When the channel ends first, it returns the channel's story (a
// *WorkerCrashedError, ErrPoolClosed, or the context's error once cancelled).
func (p *Pool) await(ctx context.Context, w *worker, s *session, mb *mailbox, callID, tool string, handle eventHandler) error {
	ctxDone := ctx.Done()
	var graceC <-chan time.Time
	cancelled := false
	var buf []*bridgev1.SessionEvent
	for {
		select {
		case <-mb.signal:
			for {
				var err error
				buf, err = mb.take(buf)
				for _, ev := range buf {
					if ended, err := handle(ev, cancelled); ended {
						return err
					}
				}
				if err != nil {
					if cancelled {
						return p.cancelledError(ctx, callID, tool, "the session ended: "+err.Error())
					}
					return p.streamError(w, callID, tool, err)
				}
				if len(buf) == 0 {
					break
				}
			}
		case <-ctxDone:
			ctxDone = nil
			cancelled = true
			s.cancelCall(callID, context.Cause(ctx).Error(), w.log)
			timer := time.NewTimer(p.opts.CancelGrace)
			defer timer.Stop()
			graceC = timer.C
		case <-graceC:
			what := p.abandon(w, callID, tool)
			return p.cancelledError(ctx, callID, tool,
				fmt.Sprintf("the tool did not stop within %s; %s", p.opts.CancelGrace, what))
		}
	}
}

// unexpected is the error of an event that has no place in a call.
func (p *Pool) unexpected(w *worker, callID, tool string, ev *bridgev1.SessionEvent) error {
	return fmt.Errorf("pools: pool %q: call %s (%s) on worker %s: unexpected event %T",
		p.opts.Name, callID, tool, w.id, ev.GetEvent())
}

// outcome is the return of a call that ended with a result or an error event (begin: when it
// started, for the latency metric; zero: not recorded).
func (p *Pool) outcome(ctx context.Context, w *worker, callID, tool string, begin time.Time, cancelled bool,
	result *bridgev1.Result, e *bridgev1.Error) (json.RawMessage, error) {
	if !begin.IsZero() {
		p.metrics.callLatency.RecordDuration(time.Since(begin))
	}
	if result != nil {
		if cancelled {
			return nil, p.cancelledError(ctx, callID, tool, "the tool returned a result anyway")
		}
		return result.GetResultJson(), nil
	}
	if cancelled {
		return nil, p.cancelledError(ctx, callID, tool, "python "+e.GetType()+": "+e.GetMessage())
	}
	te := toolError(e)
	if (te.Type == "Cancelled" || te.Type == "WorkerBusy") && p.stoppingWorker(w) {
		// Stop's Stop request cancelled the calls the drain left running (or refused one that raced it).
		return nil, fmt.Errorf("pools: pool %q: call %s (%s) interrupted by Stop: %w (%w)",
			p.opts.Name, callID, tool, ErrPoolClosed, te)
	}
	return nil, te
}

// abandon gives up on a cancelled call whose tool did not stop in time. In the process profile
// the worker is killed and replaced; in the thread profile the busy thread's slot stays taken and
// the worker is drained and recycled. It says what it did.
func (p *Pool) abandon(w *worker, callID, tool string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.opts.Profile == ProfileThread {
		w.stuck++
		w.requestRecycle("cancel_timeout")
		p.notifyLocked()
		w.log.Warn("cancelled call did not stop; recycling the worker", slog.String("call_id", callID), slog.String("tool", tool))
		return "worker " + w.id + " is being recycled"
	}
	if w.state == stateReady || w.state == stateDraining {
		w.state = stateStopping
		w.exitReason = "cancel_timeout"
		p.notifyLocked()
		w.log.Warn("cancelled call did not stop; killing the worker", slog.String("call_id", callID), slog.String("tool", tool))
		w.kill()
	}
	return "worker " + w.id + " was killed"
}

// sendError is the error of a call whose Start could not be sent.
func (p *Pool) sendError(ctx context.Context, w *worker, callID, tool string, err error) error {
	switch {
	case errors.Is(err, errNotSent):
		return p.cancelledError(ctx, callID, tool, "before the worker took it")
	case errors.Is(err, errHalfSent):
		return p.cancelledError(ctx, callID, tool, fmt.Sprintf(
			"worker %s did not read the call within %s of the cancel, and was killed", w.id, p.opts.CancelGrace))
	default:
		return p.streamError(w, callID, tool, err)
	}
}

// cancelledError is the error of a call whose context ended.
func (p *Pool) cancelledError(ctx context.Context, callID, tool, how string) error {
	return fmt.Errorf("pools: pool %q: call %s (%s) cancelled (%s): %w", p.opts.Name, callID, tool, how, ctx.Err())
}

// streamError turns the failure of a call's channel into the call's error: a *WorkerCrashedError
// when the process died, an error wrapping ErrPoolClosed when Stop ended it. The channel ends
// when the process exits, so it waits a moment for the exit to be seen.
func (p *Pool) streamError(w *worker, callID, tool string, err error) error {
	t := time.NewTimer(exitWait)
	defer t.Stop()
	select {
	case <-w.exited:
	case <-t.C:
	}
	select {
	case <-w.exited:
	default:
		return fmt.Errorf("pools: pool %q: call %s (%s) on worker %s: %w", p.opts.Name, callID, tool, w.id, err)
	}
	p.mu.Lock()
	closed, state, reason := p.closed, w.state, w.exitReason
	p.mu.Unlock()
	if closed && state == stateStopping && reason == "" {
		return fmt.Errorf("pools: pool %q: call %s (%s) interrupted by Stop: %w", p.opts.Name, callID, tool, ErrPoolClosed)
	}
	return w.crashError(reason)
}

// stoppingWorker reports whether Stop is ending w.
func (p *Pool) stoppingWorker(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed && w.state == stateStopping && w.exitReason == ""
}
