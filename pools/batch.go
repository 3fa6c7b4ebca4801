package pools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// CallBatch runs call.Tool over call.Items, from call.First on, in one Python worker, in item
// order: one item at a time on one tool thread, in one slot of the pool (the thread profile
// included: a batch never takes more of a worker than the one slot it holds, so the pool's
// capacity stays what it says; run several batches at once for parallelism). Each item ends
// through OnItem as it ends, in order; its heartbeats reach OnHeartbeat tagged with its index.
//
// It returns nil once the batch has run to its end: every item, or, without ContinueOnError, up
// to and including the first item that failed. Otherwise it returns the errors of Call: a
// *ToolError when the batch could not run at all (ToolNotFound, or the resume details are not
// JSON), a *WorkerCrashedError when the process died (BatchItem says which item was running;
// the items before it were reported), an error wrapping ErrPoolClosed once Stop has begun, or one
// wrapping ctx.Err() when ctx ended (the item running is cancelled in Python, with CancelGrace to
// stop, and no further item runs). A batch counts len(Items)-First requests toward
// MaxRequestsPerWorker.
func (p *Pool) CallBatch(ctx context.Context, call BatchCall) error {
	if call.Tool == "" {
		return fmt.Errorf("pools: pool %q: a batch needs a tool", p.opts.Name)
	}
	if call.First < 0 || call.First > len(call.Items) {
		return fmt.Errorf("pools: pool %q: batch of %s: first item %d is not in [0, %d]",
			p.opts.Name, call.Tool, call.First, len(call.Items))
	}
	items := len(call.Items) - call.First
	if items == 0 {
		return nil
	}
	if w := p.tryAcquire(items); w != nil {
		defer p.releaseSlot(w)
		return p.executeBatch(ctx, w, call)
	}
	lease, err := p.Reserve(ctx)
	if err != nil {
		return err
	}
	defer lease.Release()
	w, err := lease.use(ctx, items)
	if err != nil {
		return err
	}
	defer p.releaseSlot(w)
	return p.executeBatch(ctx, w, call)
}

// executeBatch runs a batch on w, which has a slot taken for it, over w's call channel.
func (p *Pool) executeBatch(ctx context.Context, w *worker, call BatchCall) error {
	callID := newCallID()
	s := w.session
	mb, err := s.start(ctx, callID, &bridgev1.SessionRequest{Request: &bridgev1.SessionRequest_Batch{Batch: newBatchRequest(callID, call)}})
	if err != nil {
		return p.sendError(ctx, w, callID, call.Tool, err)
	}
	defer s.forget(callID)
	next := call.First // the item running: the items end in order
	err = p.await(ctx, w, s, mb, callID, call.Tool, func(ev *bridgev1.SessionEvent, cancelled bool) (bool, error) {
		switch e := ev.GetEvent().(type) {
		case *bridgev1.SessionEvent_Heartbeat:
			relayHeartbeat(call.OnHeartbeat, e.Heartbeat, cancelled)
			return false, nil
		case *bridgev1.SessionEvent_Item:
			index := int(e.Item.GetIndex())
			if index < next || index >= len(call.Items) {
				return true, fmt.Errorf("pools: pool %q: batch %s (%s) on worker %s: item %d ended, expected item %d",
					p.opts.Name, callID, call.Tool, w.id, index, next)
			}
			next = index + 1
			if call.OnItem != nil {
				call.OnItem(itemResult(index, e.Item))
			}
			return false, nil
		case *bridgev1.SessionEvent_Result:
			if cancelled {
				return true, p.cancelledError(ctx, callID, call.Tool, "the batch ran to its end anyway")
			}
			return true, nil
		case *bridgev1.SessionEvent_Error:
			_, err := p.outcome(ctx, w, callID, call.Tool, time.Time{}, cancelled, nil, e.Error)
			return true, err
		default:
			return true, p.unexpected(w, callID, call.Tool, ev)
		}
	})
	var crash *WorkerCrashedError
	if errors.As(err, &crash) {
		crash.BatchItem = next
		return fmt.Errorf("pools: pool %q: batch of %s: item %d of %d was running: %w",
			p.opts.Name, call.Tool, next, len(call.Items), err)
	}
	return err
}

func newBatchRequest(callID string, call BatchCall) *bridgev1.BatchRequest {
	items := make([][]byte, len(call.Items))
	for i, args := range call.Items[call.First:] {
		i += call.First // the items before First are done: not sent
		if len(args) == 0 {
			args = json.RawMessage("{}")
		}
		items[i] = args
	}
	return &bridgev1.BatchRequest{
		CallId:          callID,
		Tool:            call.Tool,
		ItemsJson:       items,
		First:           int32(call.First),
		ContinueOnError: call.ContinueOnError,
		ResumeJson:      call.Resume,
		Info:            callInfo(call.Info),
	}
}

func itemResult(index int, e *bridgev1.ItemEnd) ItemResult {
	r := ItemResult{Index: index}
	if e.GetError() != nil {
		r.Err = toolError(e.GetError())
	} else {
		r.Result = e.GetResult().GetResultJson()
	}
	return r
}
