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
	"bytes"
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
func Pipeline(ctx workflow.Context, spec PipelineSpec, input json.RawMessage) (PipelineResult, error) {
	p, err := compile(spec)
	if err != nil {
		failed := &progressState{status: StatusFailed, err: err.Error()}
		if qerr := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return failed.snapshot(), nil }); qerr != nil {
			return PipelineResult{}, fmt.Errorf("register the %s query: %w", ProgressQuery, qerr)
		}
		return PipelineResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidPipeline, nil)
	}
	r := newRunner(p)
	if err := r.setInput(spec.Input, input); err != nil {
		r.progress.status, r.progress.err = StatusFailed, err.Error()
		return PipelineResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidPipeline, nil)
	}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return r.progress.snapshot(), nil }); err != nil {
		return PipelineResult{}, fmt.Errorf("register the %s query: %w", ProgressQuery, err)
	}
	r.version = getVersion(ctx, pipelineChangeID, workflow.DefaultVersion, latestVersion)
	if spec.Continued != nil {
		r.restore(spec.Continued)
	}
	if r.version >= versionWorkerChecks {
		if err := r.inspect(ctx); err != nil {
			r.progress.status, r.progress.err = StatusFailed, err.Error()
			return PipelineResult{}, err
		}
		r.visibility.start(ctx, r)
	}
	result, err := r.runSteps(ctx)
	if isContinueAsNew(err) {
		return PipelineResult{}, err
	}
	err = r.runFinally(ctx, err)
	r.visibility.publish(ctx, r)
	if err != nil {
		r.progress.status = StatusFailed
		if temporal.IsCanceledError(err) && ctx.Err() != nil {
			r.progress.status = StatusCancelled
			return PipelineResult{}, err // the workflow was cancelled: end as cancelled, not failed
		}
		r.progress.err = err.Error()
		return PipelineResult{}, err
	}
	r.progress.status = StatusDone
	return result, nil
}

// runner runs one Pipeline workflow's plan.
type runner struct {
	plan     *plan
	progress *progressState
	// version is the Pipeline version the run recorded (see version.go).
	version workflow.Version
	// input is the pipeline's decoded input.
	input any
	// results are the decoded results of finished named steps (for references), raw their JSON.
	results map[string]any
	raw     map[string]json.RawMessage
	// errs are the failures of steps that failed with on_error "continue", by node index.
	errs map[int]*ErrorInfo
	// inlineCalls counts the map items this workflow run called itself.
	inlineCalls int
	// queues are the task queues of the pools, by poolKey (from the inspection when version >=
	// versionWorkerChecks).
	queues map[string]string
	// first is the top-level step this run starts at (0, or where the previous run continued as
	// new); previous holds the results of the steps before it.
	first    int
	previous []StepResult
	// signals are the signals a previous run received and no wait step took yet, by name.
	signals map[string][]json.RawMessage
	// finalStatus and finalError are what finally steps' conditions see as pipeline.status and
	// pipeline.error.
	finalStatus, finalError string
	visibility              visibility
}

func newRunner(p *plan) *runner {
	return &runner{plan: p, progress: newProgress(p), results: map[string]any{}, raw: map[string]json.RawMessage{},
		errs: map[int]*ErrorInfo{}, queues: map[string]string{}, signals: map[string][]json.RawMessage{}}
}

// setInput decodes the pipeline's input: the workflow's second argument when it has one (not
// null), else the spec's.
func (r *runner) setInput(fromSpec, fromArg json.RawMessage) error {
	raw := fromSpec
	if t := bytes.TrimSpace(fromArg); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		raw = fromArg
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return fmt.Errorf("invalid pipeline: input: not valid JSON: %v", err)
	}
	r.input = v
	return nil
}

// runSteps runs the top-level steps from r.first on, and returns their results (with those of
// previous runs), or a continue-as-new error.
func (r *runner) runSteps(ctx workflow.Context) (PipelineResult, error) {
	p := r.plan
	logger := workflow.GetLogger(ctx)
	result := PipelineResult{Results: make([]StepResult, 0, len(p.roots))}
	result.Results = append(result.Results, r.previous...)
	for i := r.first; i < len(p.roots); i++ {
		n := p.roots[i]
		if i > r.first && r.shouldContinueAsNew(ctx) {
			return PipelineResult{}, r.continueAsNew(ctx, i, result.Results)
		}
		out, err := r.run(ctx, n)
		if err != nil {
			return PipelineResult{}, err
		}
		logger.Info("Pipeline step done", "step", i, "name", n.step.Name, "kind", n.kind, "pool", n.step.Pool, "tool", n.step.Tool)
		sr := StepResult{Step: i, Name: n.step.Name, Pool: n.step.Pool, Tool: n.step.Tool, Result: out, Error: r.errs[n.index]}
		if st := r.progress.step(n).Status; st != StatusDone {
			sr.Status = st
		}
		result.Results = append(result.Results, sr)
	}
	if p.output != nil {
		out, err := r.resolver(false).resolve(p.output, "output")
		if err != nil {
			return PipelineResult{}, temporal.NewNonRetryableApplicationError("output: "+err.Error(), ErrTypeInvalidReference, nil)
		}
		if result.Output, err = json.Marshal(out); err != nil {
			return PipelineResult{}, fmt.Errorf("encode the output: %w", err)
		}
		for i := range result.Results {
			result.Results[i].Result = nil
		}
	}
	return result, nil
}

// runFinally runs the finally steps after the steps ended with mainErr (nil: they succeeded),
// in a disconnected context when the workflow was cancelled, and returns the pipeline's error:
// mainErr, else the first failure of a finally step.
func (r *runner) runFinally(ctx workflow.Context, mainErr error) error {
	if len(r.plan.finals) == 0 {
		return mainErr
	}
	r.finalStatus = StatusDone
	fctx := ctx
	switch {
	case mainErr != nil && temporal.IsCanceledError(mainErr) && ctx.Err() != nil:
		r.finalStatus = StatusCancelled
		fctx, _ = workflow.NewDisconnectedContext(ctx)
	case mainErr != nil:
		r.finalStatus, r.finalError = StatusFailed, mainErr.Error()
	}
	for _, n := range r.plan.finals {
		if _, err := r.run(fctx, n); err != nil {
			if mainErr != nil {
				workflow.GetLogger(ctx).Error("Pipeline finally step failed", "step", n.label(), "error", err)
				return mainErr
			}
			return err
		}
	}
	return mainErr
}

func (r *runner) run(ctx workflow.Context, n *node) (json.RawMessage, error) {
	sp := r.progress.step(n)
	if n.when != nil {
		run, err := n.when.evaluate(r.conditionEnv(n.final))
		if err != nil {
			err = r.invalidCondition(n, err)
			sp.Status, sp.Error = StatusFailed, err.Error()
			return nil, err
		}
		if !run {
			sp.Status = StatusSkipped
			r.finished(n, json.RawMessage("null"))
			return json.RawMessage("null"), nil
		}
	}
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
	case kindDAG:
		out, err = r.runDAG(ctx, n)
	case kindSleep:
		out, err = r.runSleep(ctx, n)
	case kindWait:
		out, err = r.runWait(ctx, n)
	}
	if err != nil {
		sp.Status = StatusFailed
		switch {
		case temporal.IsCanceledError(err):
			sp.Status = StatusCancelled
			return nil, err
		case !n.kind.isGroup():
			sp.Error = err.Error()
		}
		if n.onError != onErrorContinue {
			return nil, err
		}
		sp.Error = err.Error()
		r.errs[n.index] = errorInfo(err)
		r.finished(n, json.RawMessage("null"))
		return json.RawMessage("null"), nil
	}
	sp.Status = StatusDone
	r.finished(n, out)
	return out, nil
}

// finished records the outcome of a step that ended without failing the pipeline.
func (r *runner) finished(n *node, out json.RawMessage) {
	if n.step.Name != "" {
		r.raw[n.step.Name] = out
	}
	r.visibility.changed()
}

// conditionEnv is what conditions see (see when.go).
func (r *runner) conditionEnv(final bool) any {
	steps := make(map[string]any, len(r.plan.byName))
	for name, n := range r.plan.byName {
		entry := map[string]any{"status": r.progress.step(n).Status, "result": nil, "error": nil}
		if v, ok := r.resolver(false).result(name); ok {
			entry["result"] = exprValue(v)
		}
		if e := r.errs[n.index]; e != nil {
			entry["error"] = map[string]any{"type": e.Type, "message": e.Message, "non_retryable": e.NonRetryable}
		}
		steps[name] = entry
	}
	if final {
		return finalConditionVars{Input: exprValue(r.input), Steps: steps,
			Pipeline: map[string]any{"status": r.finalStatus, "error": r.finalError}}
	}
	return conditionVars{Input: exprValue(r.input), Steps: steps}
}

// invalidCondition is the error of a condition that could not be evaluated.
func (r *runner) invalidCondition(n *node, err error) error {
	msg := fmt.Sprintf("step %s: %s: %v", n.label(), n.key+".when", err)
	details := StepFailure{Step: n.label(), Path: n.key, Pool: n.step.Pool, Tool: n.step.Tool, ErrorType: ErrTypeInvalidCondition, Message: err.Error()}
	return temporalNonRetryable(msg, ErrTypeInvalidCondition, nil, details)
}

// temporalNonRetryable is a non-retryable ApplicationError with a cause and one detail.
func temporalNonRetryable(msg, errType string, cause error, details any) error {
	return temporal.NewApplicationErrorWithOptions(msg, errType,
		temporal.ApplicationErrorOptions{NonRetryable: true, Cause: cause, Details: []any{details}})
}

// errorInfo describes a failure for results: the root cause's type and message, and whether it
// was non-retryable.
func errorInfo(err error) *ErrorInfo {
	info := &ErrorInfo{Type: rootType(err), Message: rootMessage(err)}
	var innermost *temporal.ApplicationError
	for e := err; e != nil; e = errors.Unwrap(e) {
		if app, ok := e.(*temporal.ApplicationError); ok {
			innermost = app
		}
	}
	if innermost != nil {
		info.NonRetryable = innermost.NonRetryable()
	}
	return info
}

// poolKey identifies a pool and the step's own task queue, for r.queues.
func poolKey(n *node) string { return n.step.Pool + "\x00" + n.step.TaskQueue }

// taskQueue is the task queue of a tool or map step's calls.
func (r *runner) taskQueue(n *node) string {
	if r.version >= versionWorkerChecks {
		if q, ok := r.queues[poolKey(n)]; ok {
			return q
		}
	}
	if n.step.TaskQueue != "" {
		return n.step.TaskQueue
	}
	return PoolTaskQueue(n.step.Pool)
}

// inspect asks the worker where the pools are served (InspectActivityName) and fails with
// NoWorker when a step's pool has no worker. When the worker cannot answer (an older worker
// without the local activity, or it timed out), the run goes on with the default task queues.
func (r *runner) inspect(ctx workflow.Context) error {
	var req InspectRequest
	index := map[string]int{}
	for _, n := range r.plan.nodes {
		if n.kind != kindTool && n.kind != kindMap {
			continue
		}
		k := poolKey(n)
		i, seen := index[k]
		if !seen {
			i = len(req.Pools)
			index[k] = i
			req.Pools = append(req.Pools, PoolRequest{Pool: n.step.Pool, TaskQueue: n.step.TaskQueue})
		}
		req.Pools[i].Check = req.Pools[i].Check || n.requireWorker()
	}
	req.SearchAttributes = searchAttributeNames()
	var res InspectResult
	lctx := workflow.WithLocalActivityOptions(ctx, inspectOptions)
	if err := workflow.ExecuteLocalActivity(lctx, InspectActivityName, req).Get(lctx, &res); err != nil || len(res.Pools) != len(req.Pools) {
		workflow.GetLogger(ctx).Warn("Pipeline: the worker could not tell where the pools are served; using the default task queues, without checking for workers",
			"activity", InspectActivityName, "error", err)
		return nil
	}
	for k, i := range index {
		r.queues[k] = res.Pools[i].TaskQueue
	}
	r.visibility.searchAttributes = res.SearchAttributes
	for _, n := range r.plan.nodes {
		if (n.kind == kindTool || n.kind == kindMap) && n.requireWorker() && res.Pools[index[poolKey(n)]].Unserved {
			return noWorkerError(n, res.Pools[index[poolKey(n)]].TaskQueue, res.LocalPools)
		}
	}
	return nil
}

// resolver returns a resolver of references to finished steps.
func (r *runner) resolver(partial bool) resolver {
	return resolver{names: r.plan.byName, partial: partial, input: r.input, result: func(name string) (any, bool) {
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
	actx := workflow.WithActivityOptions(ctx, n.activityOptions(r.version, r.taskQueue(n)))
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
	b := newBranches(ctx, len(n.children))
	defer b.cancel()
	for i, ch := range n.children {
		workflow.Go(b.gctx, func(bctx workflow.Context) {
			defer b.done()
			out, err := r.run(bctx, ch)
			if err != nil {
				b.fail(err)
				return
			}
			b.results[i] = out
		})
	}
	return b.wait()
}

// branches are the steps of a parallel group or a dag, running in coroutines: the first failure
// cancels the others.
type branches struct {
	ctx, gctx workflow.Context
	cancel    workflow.CancelFunc
	results   []json.RawMessage
	pending   int
	firstErr  error
}

func newBranches(ctx workflow.Context, n int) *branches {
	gctx, cancel := workflow.WithCancel(ctx)
	return &branches{ctx: ctx, gctx: gctx, cancel: cancel, results: make([]json.RawMessage, n), pending: n}
}

func (b *branches) done() { b.pending-- }

// fail records a branch's failure; the cancellation that an earlier failure caused is not one.
func (b *branches) fail(err error) {
	if b.firstErr == nil && !(temporal.IsCanceledError(err) && b.gctx.Err() != nil && b.ctx.Err() == nil) {
		b.firstErr = err
		b.cancel() // the other branches' calls are cancelled
	}
}

// wait waits for every branch and returns their results in order, or the first failure.
func (b *branches) wait() (json.RawMessage, error) {
	if err := workflow.Await(b.ctx, func() bool { return b.pending == 0 }); err != nil {
		return nil, err
	}
	if b.firstErr != nil {
		return nil, b.firstErr
	}
	return marshalList(b.results)
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
	if calls := n.calls(len(items)); calls <= n.chunkSize() && r.inlineCalls+calls <= MaxInlineCalls {
		r.inlineCalls += calls
		if n.batchSize() > 0 {
			return r.mapBatches(ctx, n, items, args)
		}
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
	f := startFanOut(ctx, n.concurrency())
	defer f.cancel()
	sp := r.progress.step(n)
	opts := n.activityOptions(r.version, r.taskQueue(n))
	offset := n.step.Map.Offset
	results := make([]json.RawMessage, len(items))
	for i, item := range items {
		if ok, err := f.ready(ctx); err != nil {
			return nil, err
		} else if !ok {
			break
		}
		index := offset + i
		args, err := r.itemArgs(n, template, item)
		if err != nil {
			f.fail(r.invalidReference(n, &index, err))
			break
		}
		o := opts
		o.ActivityID = fmt.Sprintf("%s/%d", n.id(), index)
		o.Summary = fmt.Sprintf("%s item %d", n.label(), index)
		future := workflow.ExecuteActivity(workflow.WithActivityOptions(f.ctx, o), n.step.Tool, args)
		sp.Items.Running++
		f.goCall(func(gctx workflow.Context) {
			var out json.RawMessage
			err := future.Get(gctx, &out)
			sp.Items.Running--
			switch {
			case err == nil:
				results[i] = out
				if n.onError == onErrorCollect {
					results[i] = collected(out, nil)
				}
				sp.Items.Done++
			case f.cancelled(ctx, err):
			case n.onError == onErrorCollect:
				sp.Items.Failed++
				results[i] = collected(nil, err)
			default:
				sp.Items.Failed++
				f.fail(stepFailed(n, &index, err))
			}
		})
	}
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	return marshalList(results)
}

// chunkWorkflowID is the workflow ID of the child that runs chunk k of map step key.
func chunkWorkflowID(parentID, key string, k int) string {
	return fmt.Sprintf("%s/%s/chunk-%d", parentID, key, k)
}

// mapChunks runs the map's items in child Pipeline workflows of at most chunk_size calls each
// (items, or batches: a chunk of a batched map holds whole batches). It runs up to
// ceil(concurrency / chunk_size) children at once (at least two when concurrency allows, so that
// one chunk's tail overlaps the next one's start) and splits the concurrency among them, so that
// no more than concurrency calls run at once in all.
func (r *runner) mapChunks(ctx workflow.Context, n *node, items []any, template any) (json.RawMessage, error) {
	tmpl, err := json.Marshal(template)
	if err != nil {
		return nil, fmt.Errorf("encode the args of step %s: %w", n.label(), err)
	}
	size, limit := n.chunkSize(), n.concurrency()
	chunkItems := size * max(1, n.batchSize())
	var chunks [][2]int
	for a := 0; a < len(items); a += chunkItems {
		chunks = append(chunks, [2]int{a, min(a+chunkItems, len(items))})
	}
	lanes := min(len(chunks), max((limit+size-1)/size, min(2, limit)))
	chunkQueue := n.step.TaskQueue
	if r.version >= versionWorkerChecks {
		chunkQueue = r.taskQueue(n) // the child need not ask again
	}
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
					Name: n.step.Name, Pool: n.step.Pool, Tool: n.step.Tool, TaskQueue: chunkQueue, Args: tmpl, OnError: chunkOnError(n),
					Map: &MapSpec{Over: over, As: n.step.Map.As, Concurrency: laneLimit, ChunkSize: n.calls(b - a), BatchSize: n.batchSize(),
						Offset: n.step.Map.Offset + a},
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
					failed := 0
					if n.onError == onErrorCollect {
						failed = countFailedEntries(results[a:b])
					}
					sp.Items.Done += b - a - failed
					sp.Items.Failed += failed
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

// countFailedEntries counts the collected entries of failed items.
func countFailedEntries(entries []json.RawMessage) int {
	failed := 0
	for _, raw := range entries {
		var e MapEntry
		if json.Unmarshal(raw, &e) == nil && !e.OK {
			failed++
		}
	}
	return failed
}

// chunkOnError is the on_error of a map's chunk: "collect" when the map collects; otherwise a
// failed item fails the chunk, and the map's own on_error applies in this workflow.
func chunkOnError(n *node) string {
	if n.onError == onErrorCollect {
		return onErrorCollect
	}
	return ""
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

// collected is the MapEntry (contract C3) of an item with on_error "collect": its result, or err.
func collected(out json.RawMessage, err error) json.RawMessage {
	entry := MapEntry{OK: err == nil, Value: orNull(out)}
	if err != nil {
		entry.Value, entry.Error = nil, errorInfo(err)
	}
	raw, mErr := json.Marshal(entry)
	if mErr != nil { // a result is valid JSON: cannot happen
		return json.RawMessage(`{"ok": false, "error": {"type": "InvalidResult", "message": "cannot encode the entry", "non_retryable": true}}`)
	}
	return raw
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
func RootCause(err error) string { return rootCause(err, false) }

// rootCause is RootCause; fromBatch says that err is (within) a batch activity's error.
func rootCause(err error, fromBatch bool) string {
	var innermostApp *temporal.ApplicationError
	last := err
	for e := err; e != nil; e = errors.Unwrap(e) {
		last = e
		switch e := e.(type) {
		case *temporal.ActivityError:
			fromBatch = fromBatch || isBatchActivity(e)
		case *temporal.TimeoutError:
			msg := fmt.Sprintf("%s (type: %s)", e.Message(), e.TimeoutType())
			if cause := errors.Unwrap(e); cause != nil {
				msg += "; last failure: " + rootCause(cause, fromBatch)
			}
			return msg
		case *temporal.ApplicationError:
			innermostApp = e
		}
	}
	if innermostApp != nil {
		if innermostApp.Type() == "" {
			return appMessage(innermostApp, fromBatch)
		}
		return innermostApp.Type() + ": " + appMessage(innermostApp, fromBatch)
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
	last, fromBatch := err, false
	for e := err; e != nil; e = errors.Unwrap(e) {
		last = e
		switch e := e.(type) {
		case *temporal.ActivityError:
			fromBatch = fromBatch || isBatchActivity(e)
		case *temporal.TimeoutError:
			return rootCause(e, fromBatch)
		case *temporal.ApplicationError:
			innermost = e
		}
	}
	if innermost != nil {
		return appMessage(innermost, fromBatch)
	}
	return last.Error()
}
