package workflows

import (
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// MapOptions are the options of MapTool. Every field is optional; a zero field takes the default
// it documents.
type MapOptions struct {
	// CallOptions are the options of every activity of the map, with CallTool's defaults; with
	// BatchSize, StartToCloseTimeout and RetryPolicy apply to a whole batch (size them for
	// BatchSize items). ActivityID, when set, is the prefix of the activity IDs:
	// "<ActivityID>/<index>", or "<ActivityID>/<first>-<last>" for a batch (default: Temporal's).
	// Summary likewise prefixes " item <index>" or " items <first>-<last>" (default: "<pool>.<tool>").
	CallOptions
	// BatchSize runs the items in batches of this many, each one activity of the worker's batch
	// activity (BatchActivityName) that runs the tool over its items in one Python worker, one
	// after the other. Default: 0, one activity (the tool's) per item.
	BatchSize int
	// Concurrency is how many activities (items, or batches) run at the same time. Default:
	// DefaultMapConcurrency (10).
	Concurrency int
}

func (o MapOptions) merge(later MapOptions) MapOptions {
	o.CallOptions = o.CallOptions.merge(later.CallOptions)
	if later.BatchSize != 0 {
		o.BatchSize = later.BatchSize
	}
	if later.Concurrency != 0 {
		o.Concurrency = later.Concurrency
	}
	return o
}

// MapError is the error of a MapTool whose item, or batch, failed.
type MapError struct {
	Pool, Tool string
	// Item is the index of the item that failed; -1 when a batch failed as a whole (a timeout, an
	// unknown tool...), First and Last then being its items.
	Item        int
	First, Last int
	// Err is the activity's error: a *temporal.ActivityError whose cause is the Python exception's
	// *temporal.ApplicationError (errors.As finds both), or the input's encoding error.
	Err error
}

func (e *MapError) Error() string {
	where := fmt.Sprintf("item %d", e.Item)
	if e.Item < 0 {
		where = fmt.Sprintf("items %d-%d", e.First, e.Last)
	}
	return fmt.Sprintf("tool %q on pool %q: %s: %s", e.Tool, e.Pool, where, RootCause(e.Err))
}

func (e *MapError) Unwrap() error { return e.Err }

// MapTool calls the tool of a pool once per item from a workflow and returns the results in the
// order of the items, decoded into Out, as Pipeline's map does. Each item is encoded as CallTool's
// input is (a JSON object of the tool's arguments). opts, merged in order (a later non-zero field
// wins), set the batch size, the concurrency and the activities' options.
//
//	squares, err := workflows.MapTool[float64](ctx, "math", "square", xs, workflows.MapOptions{BatchSize: 100})
//
// A negative BatchSize or Concurrency is an error, before any activity starts. The first item
// that fails fails the map: no further activity starts, those running are
// cancelled, and the error is a *MapError naming the item. With BatchSize, a batch's items share
// its attempts: a retry of a batch starts at the item that failed, keeping the results before it.
func MapTool[Out, In any](ctx workflow.Context, pool, tool string, items []In, opts ...MapOptions) ([]Out, error) {
	var o MapOptions
	for _, opt := range opts {
		o = o.merge(opt)
	}
	args := make([]json.RawMessage, len(items))
	for i, in := range items {
		raw, err := encodeToolInput(in)
		if err != nil {
			return nil, &MapError{Pool: pool, Tool: tool, Item: i, First: i, Last: i, Err: err}
		}
		args[i] = raw
	}
	switch {
	case o.BatchSize < 0:
		return nil, fmt.Errorf("map tool %q on pool %q: MapOptions.BatchSize must be at least 1 (or 0: one activity per item), not %d", tool, pool, o.BatchSize)
	case o.Concurrency < 0:
		return nil, fmt.Errorf("map tool %q on pool %q: MapOptions.Concurrency must be at least 1 (or 0: the default), not %d", tool, pool, o.Concurrency)
	}
	size, limit := max(o.BatchSize, 1), o.Concurrency
	if limit <= 0 {
		limit = DefaultMapConcurrency
	}
	f := startFanOut(ctx, limit)
	defer f.cancel()
	results := make([]json.RawMessage, len(items))
	err := f.eachRange(ctx, len(items), size, func(a, b int) bool {
		batched := o.BatchSize > 0
		call := o.CallOptions
		call.ActivityID = mapLabel(o.ActivityID, "/", a, b, batched)
		call.Summary = mapLabel(o.Summary, " ", a, b, batched)
		if call.Summary == "" {
			call.Summary = mapLabel(pool+"."+tool, " ", a, b, batched)
		}
		actx := workflow.WithActivityOptions(f.ctx, call.ActivityOptions(pool, tool))
		var future workflow.Future
		if batched {
			future = workflow.ExecuteActivity(actx, BatchActivityName, batchInput{Tool: tool, Items: args[a:b], OnError: onErrorFail})
		} else {
			future = workflow.ExecuteActivity(actx, tool, args[a])
		}
		f.goCall(func(gctx workflow.Context) {
			out := make([]json.RawMessage, 1)
			var err error
			if batched {
				err = future.Get(gctx, &out)
				if err == nil && len(out) != b-a {
					err = fmt.Errorf("the batch activity returned %d results for %d items", len(out), b-a)
				}
			} else {
				err = future.Get(gctx, &out[0])
			}
			switch {
			case err == nil:
				copy(results[a:b], out)
			case f.cancelled(ctx, err):
			default:
				e := &MapError{Pool: pool, Tool: tool, Item: -1, First: a, Last: b - 1, Err: err}
				if !batched {
					e.Item = a
				} else if k, ok := failedBatchItem(err); ok && k >= 0 && k < b-a {
					e.Item = a + k
				}
				f.fail(e)
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
	outs := make([]Out, len(items))
	for i, raw := range results {
		if err := json.Unmarshal(raw, &outs[i]); err != nil {
			return nil, &MapError{Pool: pool, Tool: tool, Item: i, First: i, Last: i,
				Err: fmt.Errorf("decode the result %s into %T: %w", truncate(string(raw), 100), outs[i], err)}
		}
	}
	return outs, nil
}

// mapLabel names items [a, b) after prefix: "<prefix>/<a>" or "<prefix>/<a>-<b-1>" (sep "/", an
// activity ID), "<prefix> item <a>" or "<prefix> items <a>-<b-1>" (sep " ", a summary); empty
// when prefix is.
func mapLabel(prefix, sep string, a, b int, batched bool) string {
	switch {
	case prefix == "":
		return ""
	case !batched && sep == "/":
		return fmt.Sprintf("%s/%d", prefix, a)
	case !batched:
		return fmt.Sprintf("%s item %d", prefix, a)
	case sep == "/":
		return fmt.Sprintf("%s/%d-%d", prefix, a, b-1)
	default:
		return fmt.Sprintf("%s items %d-%d", prefix, a, b-1)
	}
}
