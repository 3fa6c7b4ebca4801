package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/pools"
)

// The batch activity (contract C2) runs one tool over a list of items in one Python worker, one
// item after the other (pools.Pool.CallBatch), so that a map of many quick items costs one
// activity per batch instead of one per item. Its heartbeats record the outcomes of the items
// ended so far (batchbeat.go): a retried attempt starts after the last recorded item and keeps
// their outcomes.

// BatchActivityName is the activity type of the batch activity, registered by Register on every
// pool's task queue beside the tools (a tool's name is an identifier, so it cannot clash).
const BatchActivityName = "snakepool.batch"

// What a failing item of a batch does (BatchInput.OnError).
const (
	// BatchOnErrorFail fails the batch at the first failing item.
	BatchOnErrorFail = "fail"
	// BatchOnErrorCollect makes every item's outcome a BatchEntry.
	BatchOnErrorCollect = "collect"
)

// ErrTypeInvalidBatch is the error type of a batch activity whose input is not a BatchInput (a
// caller's bug). Non-retryable.
const ErrTypeInvalidBatch = "InvalidBatch"

// BatchInput is the input of the batch activity.
type BatchInput struct {
	// Tool is the tool run on every item. Required.
	Tool string `json:"tool"`
	// Items holds one JSON arguments object per item, bound to the tool's parameters as a single
	// call's arguments are. Default: none (the result is []).
	Items []json.RawMessage `json:"items"`
	// OnError is BatchOnErrorFail or BatchOnErrorCollect. Default: BatchOnErrorFail.
	OnError string `json:"on_error,omitempty"`
}

// The result of the batch activity is a JSON array with one entry per item, in item order:
// with BatchOnErrorFail, what the tool returned for it; with BatchOnErrorCollect, a BatchEntry.
//
// With BatchOnErrorFail, the first failing item fails the activity with an ApplicationError whose
// message begins with "batch item <index>: " (the index within the batch) and whose details[0] is
// a BatchItemFailure: of the Python exception's type, retryable as the tool said (a retry starts
// at that item, keeping the outcomes before it), with the traceback as details[1]; or a
// WorkerCrashed, ProgressTimeout or PayloadTooLarge (heartbeat details) error of that item. Errors
// that concern the whole batch (InvalidBatch, ToolNotFound, PayloadTooLarge of the arguments or
// of the result, PoolClosed, a cancellation) have no BatchItemFailure.

// BatchItemFailure is details[0] of the error of a batch activity that failed at one item.
type BatchItemFailure struct {
	// Item is the index of the item within the batch.
	Item int `json:"item"`
}

// BatchEntry is the outcome of one item of a batch with BatchOnErrorCollect (contract C3):
// {"ok": true, "value": ...} or {"ok": false, "error": {...}}.
type BatchEntry struct {
	OK    bool            `json:"ok"`
	Value json.RawMessage `json:"value,omitempty"`
	Error *EntryError     `json:"error,omitempty"`
}

// EntryError is the error of a collected item.
type EntryError struct {
	// Type is the Python exception's class, or WorkerCrashed, ProgressTimeout, PayloadTooLarge.
	Type    string `json:"type"`
	Message string `json:"message"`
	// NonRetryable is whether the error was marked non-retryable (by the tool or by snakepool).
	NonRetryable bool `json:"non_retryable"`
}

// BatchRunner runs batches; *pools.Pool implements it.
type BatchRunner interface {
	CallBatch(ctx context.Context, call pools.BatchCall) error
}

// Batch returns the batch activity of a pool with the given tools, run on runner; pool names the
// pool in errors.
func Batch(runner BatchRunner, pool string, tools []string, opts Options) Func {
	opts = opts.withDefaults()
	tools = slices.Sorted(slices.Values(tools))
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		in, err := decodeBatchInput(pool, raw)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(tools, in.Tool) {
			msg := fmt.Sprintf("pool %q has no tool %q (its tools: %s)", pool, in.Tool, strings.Join(tools, ", "))
			return nil, temporal.NewNonRetryableApplicationError(msg, ErrTypeToolNotFound, nil)
		}
		if err := checkSize(pool, in.Tool, "the batch's arguments are", len(raw), opts.MaxPayloadBytes); err != nil {
			return nil, err
		}
		if len(in.Items) == 0 {
			return json.RawMessage("[]"), nil
		}
		r := &batchRun{runner: runner, pool: pool, in: in, collect: in.OnError == BatchOnErrorCollect, opts: opts}
		return r.run(ctx, previousHeartbeat(ctx))
	}
}

// decodeBatchInput decodes the activity's input strictly.
func decodeBatchInput(pool string, raw json.RawMessage) (BatchInput, error) {
	bad := func(problem string) error {
		msg := fmt.Sprintf("pool %q: the input of activity %s is not a batch: %s", pool, BatchActivityName, problem)
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeInvalidBatch, nil)
	}
	var in BatchInput
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return BatchInput{}, bad(`want {"tool": "<tool>", "items": [{...}, ...], "on_error": "fail" | "collect"}: ` + err.Error())
	}
	switch {
	case in.Tool == "":
		return BatchInput{}, bad(`"tool" is required`)
	case in.OnError != "" && in.OnError != BatchOnErrorFail && in.OnError != BatchOnErrorCollect:
		return BatchInput{}, bad(fmt.Sprintf(`"on_error" must be "fail" or "collect", not %q`, in.OnError))
	}
	for i, item := range in.Items {
		if t := bytes.TrimSpace(item); len(t) == 0 || t[0] != '{' {
			return BatchInput{}, bad(fmt.Sprintf("items[%d] must be a JSON object (the tool's arguments by name)", i))
		}
	}
	return in, nil
}

// batchRun is one attempt of a batch activity. It runs the items from where the previous attempt
// got to, as one or more CallBatch calls:
//
//   - every item ends: the attempt returns the outcomes;
//   - an item fails (fail): the attempt fails with the item's error, after recording the outcomes
//     before it (a retry starts at that item);
//   - an item fails, is cut short by its progress timeout or oversized heartbeat details, or
//     crashes its worker for the last time allowed (collect): its entry is the error, and a new
//     CallBatch goes on with the next item;
//   - the worker crashes otherwise: the attempt fails, retryable until the item crashed
//     MaxCrashedAttempts attempts;
//   - the result grows over the payload limit: the attempt fails for good;
//   - the activity is cancelled or times out, or the pool closes: the attempt ends so.
type batchRun struct {
	runner  BatchRunner
	pool    string
	in      BatchInput
	collect bool
	opts    Options

	hb *heartbeater
	// next is the item to run next: the items before it have their outcome (in hb).
	next int
	// size is the size of the result so far, in bytes.
	size int
	// failed is the item that ended the batch by failing (fail); nil: none.
	failed *pools.ItemResult
	// tooLarge is the error of a result that grew over the payload limit; nil: none.
	tooLarge error
}

// run runs the attempt; prev is the previous attempt's last heartbeat.
func (r *batchRun) run(ctx context.Context, prev previous) (json.RawMessage, error) {
	info := activity.GetInfo(ctx)
	done := r.resumed(ctx, prev)
	r.next = len(done)
	r.size = 1
	for _, o := range done {
		r.size += len(o) + 1
	}
	r.hb = startBatchHeartbeats(ctx, heartbeatInterval(info.HeartbeatTimeout, r.opts.HeartbeatInterval), prev,
		len(r.in.Items), done, r.opts.MaxPayloadBytes, func(values ...any) { activity.RecordHeartbeat(ctx, values...) })
	var resume json.RawMessage
	if p := prev.book.Batch; p != nil && p.DetailsItem != nil && *p.DetailsItem == r.next {
		resume = prev.resume
	}
	for r.next < len(r.in.Items) {
		from := r.next
		err := r.callFrom(ctx, callInfo(info), resume)
		resume = nil
		if err == nil && r.failed == nil {
			if r.next == from { // CallBatch returns nil once every item has ended: cannot happen
				err = fmt.Errorf("pool %q tool %q: the batch ended at item %d of %d without reporting it", r.pool, r.in.Tool, r.next, len(r.in.Items))
			} else {
				continue
			}
		}
		if err := r.afterCall(ctx, &info, err); err != nil {
			r.hb.stop()
			if ctx.Err() == nil {
				r.hb.flush() // the next attempt starts after the last recorded item
			}
			return nil, err
		}
	}
	r.hb.stop()
	result := r.hb.batchResult()
	if limit := r.opts.MaxPayloadBytes; limit >= 0 && len(result) > limit {
		return nil, r.resultTooLarge(len(result))
	}
	return result, nil
}

// resumed returns the outcomes the previous attempt recorded, if they fit this batch.
func (r *batchRun) resumed(ctx context.Context, prev previous) []json.RawMessage {
	p := prev.book.Batch
	if p == nil {
		return nil
	}
	var done []json.RawMessage
	if err := json.Unmarshal(p.Results, &done); err != nil || len(done) != p.Next || p.Next > len(r.in.Items) {
		activity.GetLogger(ctx).Warn("Ignoring the batch progress of the previous attempt: it does not fit this batch; starting from the first item",
			"next", p.Next, "items", len(r.in.Items), "error", err)
		return nil
	}
	return done
}

// callFrom runs the items from r.next on, in one CallBatch guarded by the progress timeout and
// the payload limit.
func (r *batchRun) callFrom(ctx context.Context, info pools.CallInfo, resume json.RawMessage) error {
	guard := newCallGuard(ctx, r.pool, r.in.Tool, r.opts.progressTimeout(r.in.Tool), r.opts.MaxPayloadBytes)
	defer guard.stop()
	err := r.runner.CallBatch(guard.ctx, pools.BatchCall{
		Tool:            r.in.Tool,
		Items:           r.in.Items,
		First:           r.next,
		ContinueOnError: r.collect,
		Resume:          resume,
		Info:            info,
		OnItem:          func(item pools.ItemResult) { r.itemEnded(guard, item) },
		OnHeartbeat: func(b pools.Heartbeat) {
			if guard.heartbeat(b) {
				r.hb.record(b)
			}
		},
	})
	if gerr := guard.err(); gerr != nil && ctx.Err() == nil {
		return gerr
	}
	return err
}

// itemEnded takes an item's outcome, in item order.
func (r *batchRun) itemEnded(guard *callGuard, item pools.ItemResult) {
	guard.progressed()
	if item.Err != nil && !r.collect {
		r.failed = &item // the batch ends with it
		return
	}
	var outcome json.RawMessage
	switch {
	case item.Err != nil:
		outcome = entry(nil, &EntryError{Type: item.Err.Type, Message: item.Err.Message, NonRetryable: item.Err.NonRetryable})
	case r.collect:
		outcome = entry(orNull(item.Result), nil)
	default:
		outcome = orNull(item.Result)
	}
	r.record(outcome)
	if limit := r.opts.MaxPayloadBytes; limit >= 0 && r.size > limit && r.tooLarge == nil {
		r.tooLarge = r.resultTooLarge(r.size)
		guard.fail(r.tooLarge) // no use running the rest
	}
}

// record takes the outcome of item r.next.
func (r *batchRun) record(outcome json.RawMessage) {
	r.hb.itemEnded(outcome)
	r.size += len(outcome) + 1
	r.next++
}

// afterCall decides what the end of a CallBatch that did not run every item means: nil to go on
// with the next item (r.next), or the error that ends the attempt.
func (r *batchRun) afterCall(ctx context.Context, info *activity.Info, err error) error {
	var crashed *pools.WorkerCrashedError
	var appErr *temporal.ApplicationError
	switch {
	case r.tooLarge != nil:
		return r.tooLarge
	case err == nil: // fail: an item failed
		e := r.failed.Err
		var details []any
		if e.Traceback != "" {
			details = []any{e.Traceback}
		}
		return r.itemError(r.failed.Index, e.Type, e.Message, e.NonRetryable, details...)
	case ctx.Err() != nil:
		return Error(ctx, r.pool, r.in.Tool, err)
	case errors.As(err, &crashed):
		return r.crashed(info, crashed)
	case errors.As(err, &appErr) && (appErr.Type() == ErrTypeProgressTimeout || appErr.Type() == ErrTypePayloadTooLarge):
		// The guard cut the running item short.
		if r.collect {
			r.record(entry(nil, &EntryError{Type: appErr.Type(), Message: appErr.Message(), NonRetryable: appErr.NonRetryable()}))
			return nil
		}
		return r.itemError(r.next, appErr.Type(), appErr.Message(), appErr.NonRetryable())
	default:
		return Error(ctx, r.pool, r.in.Tool, err)
	}
}

// crashed handles a crash of the worker while item r.next ran (crashed.BatchItem).
func (r *batchRun) crashed(info *activity.Info, crashed *pools.WorkerCrashedError) error {
	item := r.next
	book := r.hb.countBatchCrash(crashDescription(crashed), item)
	err := crashedError(r.pool, r.in.Tool, crashed, book, r.opts.MaxCrashedAttempts)
	var appErr *temporal.ApplicationError
	errors.As(err, &appErr)
	if r.collect && (appErr.NonRetryable() || lastAttempt(info)) {
		r.record(entry(nil, &EntryError{Type: ErrTypeWorkerCrashed, Message: appErr.Message(), NonRetryable: appErr.NonRetryable()}))
		r.hb.forgetCrashes()
		return nil
	}
	var details []any
	if crashed.StderrTail != "" {
		details = []any{crashed.StderrTail}
	}
	return r.itemError(item, ErrTypeWorkerCrashed, appErr.Message(), appErr.NonRetryable(), details...)
}

// lastAttempt reports whether the retry policy allows no attempt after this one.
func lastAttempt(info *activity.Info) bool {
	p := info.RetryPolicy
	return p != nil && p.MaximumAttempts > 0 && info.Attempt >= p.MaximumAttempts
}

// itemError is the activity's error for item's failure: message prefixed with the item, details
// [BatchItemFailure, more...].
func (r *batchRun) itemError(item int, errType, message string, nonRetryable bool, more ...any) error {
	return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("batch item %d: %s", item, message), errType,
		temporal.ApplicationErrorOptions{NonRetryable: nonRetryable, Details: append([]any{BatchItemFailure{Item: item}}, more...)})
}

func (r *batchRun) resultTooLarge(size int) error {
	limit := r.opts.MaxPayloadBytes
	msg := fmt.Sprintf("pool %q tool %q: the batch's result is %d bytes (%s) after %d of its %d items, over the limit of %d bytes "+
		"(%s, the pool's max_payload_bytes): use a smaller batch_size, or have the tool return less (a path or an id, not the data)",
		r.pool, r.in.Tool, size, mib(size), r.next, len(r.in.Items), limit, mib(limit))
	return temporal.NewNonRetryableApplicationError(msg, ErrTypePayloadTooLarge, nil)
}

// entry encodes a BatchEntry: value on success, else e.
func entry(value json.RawMessage, e *EntryError) json.RawMessage {
	raw, err := json.Marshal(BatchEntry{OK: e == nil, Value: value, Error: e})
	if err != nil { // value is valid JSON: cannot happen
		raw, _ = json.Marshal(BatchEntry{Error: &EntryError{Type: "InvalidResult", Message: err.Error(), NonRetryable: true}})
	}
	return raw
}

func orNull(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// batchResult is the JSON array of the outcomes recorded. Call it after stop.
func (h *heartbeater) batchResult() json.RawMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append(append(json.RawMessage(nil), h.batch.outcomes...), ']')
}
