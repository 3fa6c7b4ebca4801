package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// A batched map (map.batch_size) runs its items in batches: one activity of the worker's batch
// activity (contract C2, activities.BatchActivityName) per batch, which runs the tool over the
// batch's items in one Python worker and returns one outcome per item. This package does not
// import activities (workflow code stays free of the pool machinery), so the wire types of C2 are
// restated here; the tests run the real activities.Batch on what this code sends, so that both
// sides agree.

// BatchActivityName is the activity type of a batch: activities.BatchActivityName.
const BatchActivityName = "snakepool.batch"

// batchInput is the batch activity's input (activities.BatchInput).
type batchInput struct {
	Tool    string            `json:"tool"`
	Items   []json.RawMessage `json:"items"`
	OnError string            `json:"on_error"`
}

// failedBatchItem returns the index within its batch of the item a batch activity's error is
// about, when it is about one.
func failedBatchItem(err error) (int, bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return 0, false
	}
	return batchItemOf(appErr)
}

// batchItemOf returns the item of a batch activity's error about one item: its message begins
// with "batch item " and its details[0] is {"item": <index within the batch>}
// (activities.BatchItemFailure).
func batchItemOf(e *temporal.ApplicationError) (item int, ok bool) {
	if !strings.HasPrefix(e.Message(), "batch item ") || !e.HasDetails() {
		return 0, false
	}
	// The details of an error made in this workflow (not decoded from a payload) are Go values,
	// which Details assigns with reflection, panicking on another type.
	defer func() {
		if recover() != nil {
			item, ok = 0, false
		}
	}()
	var raw json.RawMessage
	if e.Details(&raw) != nil {
		return 0, false
	}
	var f struct {
		Item *int `json:"item"`
	}
	if json.Unmarshal(raw, &f) != nil || f.Item == nil {
		return 0, false
	}
	return *f.Item, true
}

// appMessage is an ApplicationError's message, without the "batch item <index>: " that the batch
// activity puts before an item's error when fromBatch (the error came from a batch activity): a
// batched map's failures read as the unbatched map's (the step's error names the item's index in
// the whole map). Other errors keep their message as the tool made it.
func appMessage(e *temporal.ApplicationError, fromBatch bool) string {
	msg := e.Message()
	if !fromBatch {
		return msg
	}
	if k, ok := batchItemOf(e); ok {
		return strings.TrimPrefix(msg, fmt.Sprintf("batch item %d: ", k))
	}
	return msg
}

// isBatchActivity reports whether e is the error of a batch activity.
func isBatchActivity(e *temporal.ActivityError) bool {
	return e.ActivityType().GetName() == BatchActivityName
}

// mapBatches runs a batched map in this workflow: one batch activity per batch_size items, at
// most concurrency batches at once. The results are the items' outcomes in item order, as
// mapInline's: with on_error "collect" the batch activity makes the entries itself, and a batch
// that fails as a whole (a timeout, say) makes every item of it an entry of its error.
func (r *runner) mapBatches(ctx workflow.Context, n *node, items []any, template any) (json.RawMessage, error) {
	f := startFanOut(ctx, n.concurrency())
	defer f.cancel()
	sp := r.progress.step(n)
	opts := n.activityOptions(r.version, r.taskQueue(n))
	offset, size := n.step.Map.Offset, n.batchSize()
	onError := onErrorFail
	if n.onError == onErrorCollect {
		onError = onErrorCollect
	}
	results := make([]json.RawMessage, len(items))
	err := f.eachRange(ctx, len(items), size, func(a, b int) bool {
		in := batchInput{Tool: n.step.Tool, Items: make([]json.RawMessage, b-a), OnError: onError}
		for i := a; i < b && f.err == nil; i++ {
			args, err := r.itemArgs(n, template, items[i])
			if err != nil {
				index := offset + i
				f.fail(r.invalidReference(n, &index, err))
			}
			in.Items[i-a] = args
		}
		if f.err != nil {
			return false
		}
		o := opts
		o.ActivityID = fmt.Sprintf("%s/%d-%d", n.id(), offset+a, offset+b-1)
		o.Summary = fmt.Sprintf("%s items %d-%d", n.label(), offset+a, offset+b-1)
		future := workflow.ExecuteActivity(workflow.WithActivityOptions(f.ctx, o), BatchActivityName, in)
		sp.Items.Running += b - a
		f.goCall(func(gctx workflow.Context) {
			var out []json.RawMessage
			err := future.Get(gctx, &out)
			sp.Items.Running -= b - a
			if err == nil && len(out) != b-a {
				err = temporal.NewNonRetryableApplicationError(fmt.Sprintf("the batch activity returned %d outcomes for %d items", len(out), b-a), "InvalidBatchResult", nil)
			}
			switch {
			case err == nil:
				copy(results[a:b], out)
				failed := 0
				if n.onError == onErrorCollect {
					failed = countFailedEntries(out)
				}
				sp.Items.Done += b - a - failed
				sp.Items.Failed += failed
			case f.cancelled(ctx, err):
			case n.onError == onErrorCollect:
				sp.Items.Failed += b - a
				for i := a; i < b; i++ {
					results[i] = collected(nil, err)
				}
			default:
				sp.Items.Failed++
				if k, ok := failedBatchItem(err); ok && k >= 0 && k < b-a {
					index := offset + a + k
					f.fail(stepFailed(n, &index, err))
				} else {
					f.fail(batchFailed(n, offset+a, offset+b-1, err))
				}
			}
		})
		return true
	})
	if err != nil {
		return nil, err
	}
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	return marshalList(results)
}

// batchFailed is the error of a map whose batch of items first..last failed as a whole (not at
// one of its items): a timeout, a result over the payload limit, an unknown tool...
func batchFailed(n *node, first, last int, err error) error {
	msg := fmt.Sprintf("step %s items %d-%d (tool %q on pool %q) failed: %s", n.label(), first, last, n.step.Tool, n.step.Pool, RootCause(err))
	details := StepFailure{Step: n.label(), Path: n.key, Pool: n.step.Pool, Tool: n.step.Tool, ErrorType: rootType(err), Message: rootMessage(err)}
	return temporal.NewApplicationErrorWithOptions(msg, ErrTypeStepFailed,
		temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err, Details: []any{details}})
}
