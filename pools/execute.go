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
		Info: &bridgev1.CallInfo{
			WorkflowId:   call.Info.WorkflowID,
			RunId:        call.Info.RunID,
			ActivityId:   call.Info.ActivityID,
			ActivityType: call.Info.ActivityType,
			Attempt:      call.Info.Attempt,
			TaskQueue:    call.Info.TaskQueue,
			Namespace:    call.Info.Namespace,
		},
	}
}

func heartbeat(hb *bridgev1.Heartbeat) Heartbeat {
	return Heartbeat{Details: hb.GetDetailsJson(), Progress: hb.GetProgress()}
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
					switch e := ev.GetEvent().(type) {
					case *bridgev1.SessionEvent_Heartbeat:
						if call.OnHeartbeat != nil && !cancelled {
							call.OnHeartbeat(heartbeat(e.Heartbeat))
						}
					case *bridgev1.SessionEvent_Result:
						return p.outcome(ctx, w, callID, call.Tool, begin, cancelled, e.Result, nil)
					case *bridgev1.SessionEvent_Error:
						return p.outcome(ctx, w, callID, call.Tool, begin, cancelled, nil, e.Error)
					default:
						return nil, fmt.Errorf("pools: pool %q: call %s (%s) on worker %s: unexpected event %T",
							p.opts.Name, callID, call.Tool, w.id, ev.GetEvent())
					}
				}
				if err != nil {
					if cancelled {
						return nil, p.cancelledError(ctx, callID, call.Tool, "the session ended: "+err.Error())
					}
					return nil, p.streamError(w, callID, call.Tool, err)
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
			what := p.abandon(w, callID, call.Tool)
			return nil, p.cancelledError(ctx, callID, call.Tool,
				fmt.Sprintf("the tool did not stop within %s; %s", p.opts.CancelGrace, what))
		}
	}
}

// outcome is the return of a call that ended with a result or an error event.
func (p *Pool) outcome(ctx context.Context, w *worker, callID, tool string, begin time.Time, cancelled bool,
	result *bridgev1.Result, e *bridgev1.Error) (json.RawMessage, error) {
	p.metrics.callLatency.RecordDuration(time.Since(begin))
	if result != nil {
		if cancelled {
			return nil, p.cancelledError(ctx, callID, tool, "the tool returned a result anyway")
		}
		return result.GetResultJson(), nil
	}
	if cancelled {
		return nil, p.cancelledError(ctx, callID, tool, "python "+e.GetType()+": "+e.GetMessage())
	}
	te := &ToolError{
		Type:         e.GetType(),
		Message:      e.GetMessage(),
		Traceback:    e.GetTraceback(),
		NonRetryable: e.GetNonRetryable(),
	}
	if (te.Type == "Cancelled" || te.Type == "WorkerBusy") && p.stoppingWorker(w) {
		// Stop's stop command cancelled the calls the drain left running (or refused one that raced it).
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
