// Package workflows holds the Pipeline workflow, which runs a declarative tree of tool calls on
// snakepool pools (sequences, parallel groups, maps, references between steps), the types of its
// input, output and progress, and CallTool, a typed helper for Go workflow authors:
//
//	square, err := workflows.CallTool[float64](ctx, "math", "square", map[string]any{"x": 12})
//
// Every tool of a pool is an activity named after the tool on the pool's task queue
// ("snakepool.<pool>" by default), whose input is the JSON object of its arguments.
package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Pipeline runs spec's steps in order and returns their results. It answers the "progress" query
// (ProgressQuery) with a Progress. An invalid spec fails the workflow at once with a non-retryable
// ApplicationError of type ErrTypeInvalidPipeline naming the step and field; a failed step fails
// it with a non-retryable ApplicationError of type ErrTypeStepFailed whose message names the step
// (and map item) and the root cause (e.g. "ValueError: boom"), whose cause is the activity error
// and whose details are a StepFailure. Maps too big for one workflow's history run in chunks, as
// child Pipeline workflows on the same task queue.
//
// Register it under PipelineName:
//
//	w.RegisterWorkflowWithOptions(workflows.Pipeline, workflow.RegisterOptions{Name: workflows.PipelineName})
func Pipeline(ctx workflow.Context, spec PipelineSpec) (PipelineResult, error) {
	p, err := compile(spec)
	if err != nil {
		failed := &progressState{status: StatusFailed, err: err.Error()}
		if qerr := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return failed.snapshot(), nil }); qerr != nil {
			return PipelineResult{}, fmt.Errorf("register the %s query: %w", ProgressQuery, qerr)
		}
		return PipelineResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidPipeline, nil)
	}
	r := &runner{plan: p, progress: newProgress(p), results: map[string]any{}, raw: map[string]json.RawMessage{}}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return r.progress.snapshot(), nil }); err != nil {
		return PipelineResult{}, fmt.Errorf("register the %s query: %w", ProgressQuery, err)
	}
	logger := workflow.GetLogger(ctx)
	result := PipelineResult{Results: make([]StepResult, 0, len(p.roots))}
	for i, n := range p.roots {
		out, err := r.run(ctx, n)
		if err != nil {
			r.progress.status = StatusFailed
			if temporal.IsCanceledError(err) && ctx.Err() != nil {
				r.progress.status = StatusCancelled
				return PipelineResult{}, err // the workflow was cancelled: end as cancelled, not failed
			}
			r.progress.err = err.Error()
			return PipelineResult{}, err
		}
		logger.Info("Pipeline step done", "step", i, "name", n.step.Name, "kind", n.kind, "pool", n.step.Pool, "tool", n.step.Tool)
		result.Results = append(result.Results, StepResult{
			Step: i, Name: n.step.Name, Pool: n.step.Pool, Tool: n.step.Tool, Result: out,
		})
	}
	r.progress.status = StatusDone
	return result, nil
}

// runner runs one Pipeline workflow's plan.
type runner struct {
	plan     *plan
	progress *progressState
	// results are the decoded results of finished named steps (for references), raw their JSON.
	results map[string]any
	raw     map[string]json.RawMessage
	// inlineCalls counts the map items this workflow run called itself.
	inlineCalls int
}

func (r *runner) run(ctx workflow.Context, n *node) (json.RawMessage, error) {
	sp := r.progress.step(n)
	sp.Status = StatusRunning
	var out json.RawMessage
	var err error
	switch n.kind {
	case kindTool:
		out, err = r.runTool(ctx, n)
	case kindMap:
		out, err = r.runMap(ctx, n)
	case kindParallel:
		out, err = r.runParallel(ctx, n)
	case kindSequence:
		out, err = r.runSequence(ctx, n)
	}
	if err != nil {
		sp.Status = StatusFailed
		if temporal.IsCanceledError(err) {
			sp.Status = StatusCancelled
		} else if n.kind == kindTool || n.kind == kindMap {
			sp.Error = err.Error()
		}
		return nil, err
	}
	sp.Status = StatusDone
	if n.step.Name != "" {
		r.raw[n.step.Name] = out
	}
	return out, nil
}

// resolver returns a resolver of references to finished steps.
func (r *runner) resolver(partial bool) resolver {
	return resolver{names: r.plan.byName, partial: partial, result: func(name string) (any, bool) {
		if v, ok := r.results[name]; ok {
			return v, true
		}
		raw, ok := r.raw[name]
		if !ok {
			return nil, false
		}
		v, err := decodeJSON(raw)
		if err != nil {
			return nil, false
		}
		r.results[name] = v
		return v, true
	}}
}

func (r *runner) runTool(ctx workflow.Context, n *node) (json.RawMessage, error) {
	args := rawArgs(n.step.Args)
	if n.argsSpecial {
		resolved, err := r.resolver(false).resolve(n.args, n.key+".args")
		if err != nil {
			return nil, r.invalidReference(n, nil, err)
		}
		if args, err = encodeArgs(resolved); err != nil {
			return nil, r.invalidReference(n, nil, &refError{path: n.key + ".args", problem: err.Error()})
		}
	}
	actx := workflow.WithActivityOptions(ctx, n.activityOptions())
	var out json.RawMessage
	if err := workflow.ExecuteActivity(actx, n.step.Tool, args).Get(actx, &out); err != nil {
		if temporal.IsCanceledError(err) {
			return nil, err
		}
		return nil, stepFailed(n, nil, err)
	}
	return out, nil
}

// encodeArgs encodes resolved args, which must be an object.
func encodeArgs(v any) (json.RawMessage, error) {
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("args must be an object, not %s", describeJSON(v))
	}
	return json.Marshal(v)
}

func (r *runner) runSequence(ctx workflow.Context, n *node) (json.RawMessage, error) {
	results := make([]json.RawMessage, len(n.children))
	for i, ch := range n.children {
		out, err := r.run(ctx, ch)
		if err != nil {
			return nil, err
		}
		results[i] = out
	}
	return marshalList(results)
}

func (r *runner) runParallel(ctx workflow.Context, n *node) (json.RawMessage, error) {
	gctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	results := make([]json.RawMessage, len(n.children))
	var firstErr error
	pending := len(n.children)
	for i, ch := range n.children {
		workflow.Go(gctx, func(bctx workflow.Context) {
			defer func() { pending-- }()
			out, err := r.run(bctx, ch)
			if err != nil {
				if firstErr == nil && !(temporal.IsCanceledError(err) && gctx.Err() != nil && ctx.Err() == nil) {
					firstErr = err
					cancel() // the other branches' calls are cancelled
				}
				return
			}
			results[i] = out
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

// runMap calls the tool once per item, in this workflow when the map is small enough, in child
// workflows of at most chunk_size items otherwise.
func (r *runner) runMap(ctx workflow.Context, n *node) (json.RawMessage, error) {
	over, err := r.resolver(false).resolve(n.over, n.key+".map.over")
	if err != nil {
		return nil, r.invalidReference(n, nil, err)
	}
	items, ok := over.([]any)
	if !ok {
		return nil, r.invalidReference(n, nil, &refError{path: n.key + ".map.over", problem: "must be a list, not " + describeJSON(over)})
	}
	var args any = map[string]any{}
	if n.args != nil {
		if args, err = r.resolver(true).resolve(n.args, n.key+".args"); err != nil {
			return nil, r.invalidReference(n, nil, err)
		}
	}
	sp := r.progress.step(n)
	sp.Items.Known, sp.Items.Total = true, len(items)
	if len(items) <= n.chunkSize() && r.inlineCalls+len(items) <= MaxInlineCalls {
		r.inlineCalls += len(items)
		return r.mapInline(ctx, n, items, args)
	}
	return r.mapChunks(ctx, n, items, args)
}

// itemArgs are the args of one item's call: template resolved with the item, plus the item as
// the "as" argument.
func (r *runner) itemArgs(n *node, template, item any) (json.RawMessage, error) {
	res := r.resolver(false)
	res.item, res.hasItem = item, true
	resolved, err := res.resolve(template, n.key+".args")
	if err != nil {
		return nil, err
	}
	obj, ok := resolved.(map[string]any)
	if !ok {
		return nil, &refError{path: n.key + ".args", problem: "must be an object, not " + describeJSON(resolved)}
	}
	if as := n.step.Map.As; as != "" {
		obj[as] = item
	}
	return json.Marshal(obj)
}

func (r *runner) mapInline(ctx workflow.Context, n *node, items []any, template any) (json.RawMessage, error) {
	mctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	sp := r.progress.step(n)
	opts := n.activityOptions()
	offset, limit := n.step.Map.Offset, n.concurrency()
	results := make([]json.RawMessage, len(items))
	running := 0
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
			cancel() // the calls in flight are cancelled
		}
	}
	for i, item := range items {
		if err := workflow.Await(ctx, func() bool { return running < limit || firstErr != nil }); err != nil {
			return nil, err
		}
		if firstErr != nil {
			break
		}
		index := offset + i
		args, err := r.itemArgs(n, template, item)
		if err != nil {
			fail(r.invalidReference(n, &index, err))
			break
		}
		o := opts
		o.ActivityID = fmt.Sprintf("%s/%d", n.id(), index)
		o.Summary = fmt.Sprintf("%s item %d", n.label(), index)
		future := workflow.ExecuteActivity(workflow.WithActivityOptions(mctx, o), n.step.Tool, args)
		running++
		sp.Items.Running++
		workflow.Go(mctx, func(gctx workflow.Context) {
			var out json.RawMessage
			err := future.Get(gctx, &out)
			running--
			sp.Items.Running--
			switch {
			case err == nil:
				results[i] = out
				sp.Items.Done++
			case temporal.IsCanceledError(err) && ctx.Err() != nil:
				fail(err) // the workflow is cancelled
			case temporal.IsCanceledError(err) && mctx.Err() != nil:
				// cancelled because another item failed
			default:
				sp.Items.Failed++
				fail(stepFailed(n, &index, err))
			}
		})
	}
	if err := workflow.Await(ctx, func() bool { return running == 0 }); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return marshalList(results)
}

// chunkWorkflowID is the workflow ID of the child that runs chunk k of map step key.
func chunkWorkflowID(parentID, key string, k int) string {
	return fmt.Sprintf("%s/%s/chunk-%d", parentID, key, k)
}

// mapChunks runs the map's items in child Pipeline workflows of at most chunk_size items each. It
// runs up to ceil(concurrency / chunk_size) children at once (at least two when concurrency allows,
// so that one chunk's tail overlaps the next one's start) and splits the concurrency among them, so
// that no more than concurrency items run at once in all.
func (r *runner) mapChunks(ctx workflow.Context, n *node, items []any, template any) (json.RawMessage, error) {
	tmpl, err := json.Marshal(template)
	if err != nil {
		return nil, fmt.Errorf("encode the args of step %s: %w", n.label(), err)
	}
	size, limit := n.chunkSize(), n.concurrency()
	var chunks [][2]int
	for a := 0; a < len(items); a += size {
		chunks = append(chunks, [2]int{a, min(a+size, len(items))})
	}
	lanes := min(len(chunks), max((limit+size-1)/size, min(2, limit)))
	sp := r.progress.step(n)
	sp.Items.Chunks = len(chunks)

	cctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	info := workflow.GetInfo(ctx)
	results := make([]json.RawMessage, len(items))
	next, active := 0, lanes
	var firstErr error
	for lane := range lanes {
		laneLimit := limit / lanes
		if lane < limit%lanes {
			laneLimit++
		}
		workflow.Go(cctx, func(gctx workflow.Context) {
			defer func() { active-- }()
			for firstErr == nil && next < len(chunks) {
				k := next
				next++
				a, b := chunks[k][0], chunks[k][1]
				over, err := json.Marshal(map[string]any{literalKey: items[a:b]})
				if err != nil {
					firstErr = fmt.Errorf("encode chunk %d of step %s: %w", k, n.label(), err)
					cancel()
					return
				}
				child := PipelineSpec{Steps: []Step{{
					Name: n.step.Name, Pool: n.step.Pool, Tool: n.step.Tool, TaskQueue: n.step.TaskQueue, Args: tmpl,
					Map:         &MapSpec{Over: over, As: n.step.Map.As, Concurrency: laneLimit, ChunkSize: b - a, Offset: n.step.Map.Offset + a},
					StepOptions: n.opts,
				}}}
				id := chunkWorkflowID(info.WorkflowExecution.ID, n.key, k)
				wctx := workflow.WithChildOptions(gctx, workflow.ChildWorkflowOptions{
					WorkflowID:    id,
					StaticSummary: fmt.Sprintf("%s items %d-%d", n.label(), n.step.Map.Offset+a, n.step.Map.Offset+b-1),
				})
				sp.Items.Children = append(sp.Items.Children, id)
				var res PipelineResult
				err = workflow.ExecuteChildWorkflow(wctx, PipelineName, child).Get(gctx, &res)
				sp.Items.Children = slices.DeleteFunc(sp.Items.Children, func(c string) bool { return c == id })
				if err == nil {
					err = copyChunk(res, results[a:b])
				}
				switch {
				case err == nil:
					sp.Items.Done += b - a
					sp.Items.ChunksDone++
				case temporal.IsCanceledError(err) && cctx.Err() != nil:
					if firstErr == nil && ctx.Err() != nil {
						firstErr = err
					}
				default:
					if firstErr == nil {
						sp.Items.Failed++
						firstErr = chunkFailed(n, k, err)
						cancel()
					}
				}
			}
		})
	}
	if err := workflow.Await(ctx, func() bool { return active == 0 }); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return marshalList(results)
}

// copyChunk copies a chunk child's results into dst.
func copyChunk(res PipelineResult, dst []json.RawMessage) error {
	if len(res.Results) != 1 {
		return fmt.Errorf("the chunk's result has %d steps, not 1", len(res.Results))
	}
	var list []json.RawMessage
	if err := json.Unmarshal(res.Results[0].Result, &list); err != nil {
		return fmt.Errorf("decode the chunk's result: %w", err)
	}
	if len(list) != len(dst) {
		return fmt.Errorf("the chunk returned %d results for %d items", len(list), len(dst))
	}
	copy(dst, list)
	return nil
}

func marshalList(results []json.RawMessage) (json.RawMessage, error) {
	for i, r := range results {
		if len(r) == 0 {
			results[i] = json.RawMessage("null")
		}
	}
	out, err := json.Marshal(results)
	if err != nil {
		return nil, fmt.Errorf("encode the results: %w", err)
	}
	return out, nil
}

// StepFailure is the details of a StepFailed or InvalidReference error: which step failed and why.
type StepFailure struct {
	// Step names the step as messages do (its name, or its position and tool).
	Step string `json:"step"`
	// Path is the step's JSON path in the spec, e.g. "steps[2].parallel[0]".
	Path string `json:"path"`
	// Item is the index of the map item that failed, if the step is a map.
	Item *int `json:"item,omitempty"`
	// Pool and Tool are the step's.
	Pool string `json:"pool,omitempty"`
	Tool string `json:"tool,omitempty"`
	// ErrorType is the type of the root cause: the Python exception class (e.g. "ValueError"),
	// "ToolNotFound", "WorkerCrashed", "Timeout", or ErrTypeInvalidReference.
	ErrorType string `json:"error_type,omitempty"`
	// Message is the root cause's message.
	Message string `json:"message"`
}

func stepFailed(n *node, item *int, err error) error {
	itemText := ""
	if item != nil {
		itemText = fmt.Sprintf(" item %d", *item)
	}
	msg := fmt.Sprintf("step %s%s (tool %q on pool %q) failed: %s", n.label(), itemText, n.step.Tool, n.step.Pool, RootCause(err))
	details := StepFailure{Step: n.label(), Path: n.key, Item: item, Pool: n.step.Pool, Tool: n.step.Tool,
		ErrorType: rootType(err), Message: rootMessage(err)}
	return temporal.NewApplicationErrorWithOptions(msg, ErrTypeStepFailed,
		temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err, Details: []any{details}})
}

// invalidReference is the error of a reference that cannot be resolved at run time.
func (r *runner) invalidReference(n *node, item *int, err error) error {
	itemText := ""
	if item != nil {
		itemText = fmt.Sprintf(" item %d", *item)
	}
	msg := fmt.Sprintf("step %s%s: %v", n.label(), itemText, err)
	details := StepFailure{Step: n.label(), Path: n.key, Item: item, Pool: n.step.Pool, Tool: n.step.Tool,
		ErrorType: ErrTypeInvalidReference, Message: err.Error()}
	return temporal.NewApplicationErrorWithOptions(msg, ErrTypeInvalidReference,
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{details}})
}

// chunkFailed is the error of a map whose chunk k failed: the chunk's StepFailed or
// InvalidReference error, restated with the map step's name in this workflow.
func chunkFailed(n *node, k int, err error) error {
	var appErr *temporal.ApplicationError
	var failure StepFailure
	if errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(&failure) == nil {
		switch appErr.Type() {
		case ErrTypeStepFailed:
			return stepFailedFromChunk(n, failure, err)
		case ErrTypeInvalidReference:
			failure.Step, failure.Path = n.label(), n.key
			msg := fmt.Sprintf("step %s item %d: %s", n.label(), deref(failure.Item), failure.Message)
			return temporal.NewApplicationErrorWithOptions(msg, ErrTypeInvalidReference,
				temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err, Details: []any{failure}})
		}
	}
	msg := fmt.Sprintf("step %s (tool %q on pool %q) failed: chunk %d: %s", n.label(), n.step.Tool, n.step.Pool, k, RootCause(err))
	details := StepFailure{Step: n.label(), Path: n.key, Pool: n.step.Pool, Tool: n.step.Tool, ErrorType: rootType(err), Message: rootMessage(err)}
	return temporal.NewApplicationErrorWithOptions(msg, ErrTypeStepFailed,
		temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err, Details: []any{details}})
}

func stepFailedFromChunk(n *node, failure StepFailure, err error) error {
	itemText := ""
	if failure.Item != nil {
		itemText = fmt.Sprintf(" item %d", *failure.Item)
	}
	msg := fmt.Sprintf("step %s%s (tool %q on pool %q) failed: %s", n.label(), itemText, n.step.Tool, n.step.Pool, RootCause(err))
	failure.Step, failure.Path = n.label(), n.key
	return temporal.NewApplicationErrorWithOptions(msg, ErrTypeStepFailed,
		temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err, Details: []any{failure}})
}

func deref(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// RootCause describes the cause of a failed step in one line: "Type: message" for the innermost
// ApplicationError (such as a Python exception), "activity StartToClose timeout (type: ...)" for a
// timeout (followed by the last attempt's failure, if any), the innermost message otherwise.
func RootCause(err error) string {
	var innermostApp *temporal.ApplicationError
	last := err
	for e := err; e != nil; e = errors.Unwrap(e) {
		last = e
		switch e := e.(type) {
		case *temporal.TimeoutError:
			msg := fmt.Sprintf("%s (type: %s)", e.Message(), e.TimeoutType())
			if cause := errors.Unwrap(e); cause != nil {
				msg += "; last failure: " + RootCause(cause)
			}
			return msg
		case *temporal.ApplicationError:
			innermostApp = e
		}
	}
	if innermostApp != nil {
		if innermostApp.Type() == "" {
			return innermostApp.Message()
		}
		return innermostApp.Type() + ": " + innermostApp.Message()
	}
	return last.Error()
}

// rootType is the type of the root cause: the innermost ApplicationError's type, or "Timeout".
func rootType(err error) string {
	var innermost *temporal.ApplicationError
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e := e.(type) {
		case *temporal.TimeoutError:
			return "Timeout"
		case *temporal.ApplicationError:
			innermost = e
		}
	}
	if innermost != nil {
		return innermost.Type()
	}
	return ""
}

// rootMessage is the message of the root cause, without its type.
func rootMessage(err error) string {
	var innermost *temporal.ApplicationError
	last := err
	for e := err; e != nil; e = errors.Unwrap(e) {
		last = e
		switch e := e.(type) {
		case *temporal.TimeoutError:
			return RootCause(e)
		case *temporal.ApplicationError:
			innermost = e
		}
	}
	if innermost != nil {
		return innermost.Message()
	}
	return last.Error()
}
