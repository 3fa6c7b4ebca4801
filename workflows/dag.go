package workflows

import (
	"encoding/json"
	"slices"

	"go.temporal.io/sdk/workflow"
)

// runDAG starts each step of a dag as soon as the steps it depends on have finished (succeeded,
// been skipped, or failed with on_error "continue"). The first failure cancels the running steps,
// and the steps that have not started do not.
func (r *runner) runDAG(ctx workflow.Context, n *node) (json.RawMessage, error) {
	b := newBranches(ctx, len(n.children))
	defer b.cancel()
	finished := make([]bool, len(n.children))
	for i, ch := range n.children {
		workflow.Go(b.gctx, func(bctx workflow.Context) {
			defer b.done()
			ready := func() bool {
				return b.firstErr != nil || !slices.ContainsFunc(ch.deps, func(d int) bool { return !finished[d] })
			}
			if err := workflow.Await(bctx, ready); err != nil || b.firstErr != nil {
				return
			}
			out, err := r.run(bctx, ch)
			if err != nil {
				b.fail(err)
				return
			}
			b.results[i], finished[i] = out, true
		})
	}
	return b.wait()
}
