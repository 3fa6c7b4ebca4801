package workflows

import (
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Visibility: every run (version >= versionWorkerChecks) keeps its memo, and the search
// attributes below that the namespace has, up to date with the pipeline's name and step counts,
// so that runs can be found in the Web UI and with `temporal workflow list --query`. Register the
// attributes with
//
//	temporal operator search-attribute create --name SnakepoolPipeline --type Keyword
//	temporal operator search-attribute create --name SnakepoolSteps --type Int   # and the others
//
// or start a dev server with --search-attribute SnakepoolPipeline=Keyword ...
var (
	// SearchAttributePipeline is the spec's name (set only when it has one).
	SearchAttributePipeline = temporal.NewSearchAttributeKeyKeyword("SnakepoolPipeline")
	// SearchAttributeSteps counts the pipeline's steps (groups not counted).
	SearchAttributeSteps = temporal.NewSearchAttributeKeyInt64("SnakepoolSteps")
	// SearchAttributeStepsDone counts the steps that succeeded.
	SearchAttributeStepsDone = temporal.NewSearchAttributeKeyInt64("SnakepoolStepsDone")
	// SearchAttributeStepsFailed counts the steps that failed.
	SearchAttributeStepsFailed = temporal.NewSearchAttributeKeyInt64("SnakepoolStepsFailed")
)

// MemoKey is the memo field that holds a PipelineMemo.
const MemoKey = "snakepool"

// PipelineMemo is the memo of a Pipeline run (under MemoKey).
type PipelineMemo struct {
	// Pipeline is the spec's name, empty when it has none.
	Pipeline string `json:"pipeline,omitempty"`
	// Steps counts the steps by status.
	Steps StepCounts `json:"steps"`
}

// StepCounts count the steps of a pipeline (groups not counted), as of the last step that ended.
type StepCounts struct {
	Total   int `json:"total"`
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// SearchAttributes returns the search attributes a Pipeline sets when the namespace has them.
func SearchAttributes() temporal.SearchAttributes {
	return temporal.NewSearchAttributes(SearchAttributePipeline.ValueSet(""), SearchAttributeSteps.ValueSet(0),
		SearchAttributeStepsDone.ValueSet(0), SearchAttributeStepsFailed.ValueSet(0))
}

func searchAttributeNames() []string {
	return []string{SearchAttributePipeline.GetName(), SearchAttributeSteps.GetName(),
		SearchAttributeStepsDone.GetName(), SearchAttributeStepsFailed.GetName()}
}

// visibility publishes a run's memo and search attributes when the step counts change.
type visibility struct {
	on bool
	// searchAttributes are the names of those the namespace has (from the inspection).
	searchAttributes []string
	published        *StepCounts
	dirty            bool
}

// start publishes the first counts, then publishes again whenever a step ends (coalesced: once
// per workflow task at most).
func (v *visibility) start(ctx workflow.Context, r *runner) {
	v.on = true
	v.publish(ctx, r)
	workflow.Go(ctx, func(gctx workflow.Context) {
		for {
			if err := workflow.Await(gctx, func() bool { return v.dirty }); err != nil {
				return
			}
			v.publish(gctx, r)
		}
	})
}

func (v *visibility) changed() { v.dirty = v.on }

func (v *visibility) publish(ctx workflow.Context, r *runner) {
	if !v.on {
		return
	}
	v.dirty = false
	counts := r.progress.stepCounts()
	if v.published != nil && *v.published == counts {
		return
	}
	v.published = &counts
	logger := workflow.GetLogger(ctx)
	if err := workflow.UpsertMemo(ctx, map[string]any{MemoKey: PipelineMemo{Pipeline: r.plan.spec.Name, Steps: counts}}); err != nil {
		logger.Warn("Pipeline: cannot set the memo", "error", err)
	}
	var updates []temporal.SearchAttributeUpdate
	has := func(k temporal.SearchAttributeKey) bool { return slices.Contains(v.searchAttributes, k.GetName()) }
	if name := r.plan.spec.Name; name != "" && has(SearchAttributePipeline) {
		updates = append(updates, SearchAttributePipeline.ValueSet(name))
	}
	for _, sa := range []struct {
		key   temporal.SearchAttributeKeyInt64
		value int
	}{{SearchAttributeSteps, counts.Total}, {SearchAttributeStepsDone, counts.Done}, {SearchAttributeStepsFailed, counts.Failed}} {
		if has(sa.key) {
			updates = append(updates, sa.key.ValueSet(int64(sa.value)))
		}
	}
	if len(updates) > 0 {
		if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
			logger.Warn("Pipeline: cannot set the search attributes", "error", err)
		}
	}
}
