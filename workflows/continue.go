package workflows

import (
	"encoding/json"
	"errors"

	"go.temporal.io/sdk/workflow"
)

// Continuation is where a Pipeline run that continued as new got to: the next run's
// PipelineSpec.Continued. A run continues as new only between top-level steps, when nothing runs.
type Continuation struct {
	// Next is the index of the top-level step the next run starts with.
	Next int `json:"next"`
	// Results are the results of the top-level steps before Next.
	Results []StepResult `json:"results"`
	// Named holds the outcome of every named step that finished.
	Named map[string]NamedOutcome `json:"named,omitempty"`
	// Steps is the progress of every step, in the order of Progress.Steps.
	Steps []StepProgress `json:"steps"`
	// Signals are the signals received that no wait step took yet, by name, in arrival order.
	Signals map[string][]json.RawMessage `json:"signals,omitempty"`
	// Runs counts the runs before the next one.
	Runs int `json:"runs"`
}

// NamedOutcome is the outcome of a finished named step in a Continuation.
type NamedOutcome struct {
	Result json.RawMessage `json:"result"`
	Error  *ErrorInfo      `json:"error,omitempty"`
}

// shouldContinueAsNew reports whether the run's history is long enough to go on in a new run.
func (r *runner) shouldContinueAsNew(ctx workflow.Context) bool {
	if r.version < versionWorkerChecks {
		return false
	}
	limit := r.plan.spec.MaxHistoryEvents
	if limit == 0 {
		limit = DefaultMaxHistoryEvents
	}
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= limit
}

// continueAsNew ends the run with a continue-as-new error whose input carries the spec, the
// input and where the pipeline got to (before top-level step next).
func (r *runner) continueAsNew(ctx workflow.Context, next int, results []StepResult) error {
	cont := &Continuation{Next: next, Results: results, Named: map[string]NamedOutcome{},
		Steps: r.progress.snapshot().Steps, Signals: map[string][]json.RawMessage{}}
	if prev := r.plan.spec.Continued; prev != nil {
		cont.Runs = prev.Runs
	}
	cont.Runs++
	for name, raw := range r.raw {
		cont.Named[name] = NamedOutcome{Result: raw, Error: r.errs[r.plan.byName[name].index]}
	}
	// Signals not taken yet would be lost with this run: carry them.
	for _, name := range r.plan.signals {
		queued := append([]json.RawMessage(nil), r.signals[name]...)
		ch := workflow.GetSignalChannel(ctx, name)
		for {
			var payload json.RawMessage
			if !ch.ReceiveAsync(&payload) {
				break
			}
			queued = append(queued, orNull(payload))
		}
		if len(queued) > 0 {
			cont.Signals[name] = queued
		}
	}
	spec := r.plan.spec
	spec.Continued = cont
	if r.input != nil {
		raw, err := json.Marshal(r.input)
		if err != nil {
			return err
		}
		spec.Input = raw
	}
	r.visibility.publish(ctx, r)
	workflow.GetLogger(ctx).Info("Pipeline continues as new", "next_step", next, "runs", cont.Runs,
		"history_length", workflow.GetInfo(ctx).GetCurrentHistoryLength())
	return workflow.NewContinueAsNewError(ctx, PipelineName, spec)
}

// restore takes up where the previous run got to.
func (r *runner) restore(cont *Continuation) {
	r.first, r.previous = cont.Next, cont.Results
	for name, o := range cont.Named {
		n, ok := r.plan.byName[name]
		if !ok {
			continue
		}
		r.raw[name] = o.Result
		if o.Error != nil {
			r.errs[n.index] = o.Error
		}
	}
	if len(cont.Steps) == len(r.progress.steps) {
		copy(r.progress.steps, cont.Steps)
	}
	for name, queued := range cont.Signals {
		r.signals[name] = queued
	}
}

func isContinueAsNew(err error) bool {
	var can *workflow.ContinueAsNewError
	return errors.As(err, &can)
}

// orNull is raw, or null when it is empty.
func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}
