package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/snakepool/snakepool/workflows"
)

// The pieces the scenarios are made of: specs, waiting for results, histories, kills.

// itemList returns 0, 1, ..., n-1.
func itemList(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// mapStep is a map named name of tool over items (as the argument "item"), with on_error
// "collect" so that every item ends in its own entry.
func mapStep(name, pool, tool string, items []int, concurrency int, args map[string]any) map[string]any {
	return map[string]any{
		"name": name, "pool": pool, "tool": tool, "args": args, "on_error": "collect",
		"map": map[string]any{"over": items, "as": "item", "concurrency": concurrency},
	}
}

// settle waits (at most bound) for the pipeline run and returns its result; err is the run's
// failure, or errDeadline.
func settle(run client.WorkflowRun, bound time.Duration) (workflows.PipelineResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	var result workflows.PipelineResult
	err := run.Get(ctx, &result)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%s): %v", errDeadline, bound, err)
	}
	return result, err
}

// settleMap counts the items of the map at step index step of the pipeline run.
func (r *row) settleMap(run client.WorkflowRun, bound time.Duration, step int, items []int) workflows.PipelineResult {
	result, err := settle(run, bound)
	if err != nil {
		r.unsettled(len(items), err)
		return result
	}
	if step >= len(result.Results) {
		r.problem("the pipeline's result has no step %d", step)
		r.lost += len(items)
		return result
	}
	r.collected(items, result.Results[step].Result)
	return result
}

// activityCompletions returns, from the run's history, when each activity (by activity ID)
// completed, as the server recorded it.
func activityCompletions(c client.Client, workflowID, runID string) (map[string]time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	iter := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	scheduled := map[int64]string{}
	done := map[string]time.Time{}
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", workflowID, err)
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[e.GetEventId()] = a.GetActivityId()
		}
		if a := e.GetActivityTaskCompletedEventAttributes(); a != nil {
			done[scheduled[a.GetScheduledEventId()]] = e.GetEventTime().AsTime()
		}
	}
	return done, nil
}

// notRunAgain checks, for a run killed at killAt, that no activity the server had recorded as
// completed before the kill ran again: each has exactly one execution in the record file. It
// returns how many had completed before the kill.
func (r *row) notRunAgain(done map[string]time.Time, run client.WorkflowRun, rec *recordLog, killAt time.Time) int {
	runs := map[string]int{}
	for _, x := range rec.executions() {
		if x.start.WorkflowID == run.GetID() {
			runs[x.start.ActivityID]++
		}
	}
	before, again := 0, 0
	for id, at := range done {
		if !at.Before(killAt) {
			continue
		}
		before++
		if runs[id] != 1 {
			again++
			if again <= 3 {
				r.problem("activity %s completed before the kill but ran %d times", id, runs[id])
			}
		}
	}
	if before == 0 {
		r.problem("no activity had completed before the kill: the kill came too early to prove anything")
	}
	return before
}

// lostWork returns the activities (by key) whose work was lost with a worker killed at at: they
// started before the kill (in one of pids, if pids is not nil) and the server had not recorded
// them as completed before it (done, by activity ID, from activityCompletions). Those include
// calls whose tool had returned but whose result had not reached the server: they must run again.
func lostWork(execs []execution, done map[string]time.Time, at time.Time, pids map[int]bool) map[string]bool {
	out := map[string]bool{}
	for _, x := range execs {
		if !x.start.time().Before(at) || pids != nil && !pids[x.start.PID] {
			continue
		}
		if completed, ok := done[x.start.ActivityID]; ok && completed.Before(at) {
			continue
		}
		out[x.start.key()] = true
	}
	return out
}

// redone returns when the last of the lost activities had run again to its end (after at),
// and how many did not.
func redone(execs []execution, lost map[string]bool, at time.Time) (last time.Time, missing int) {
	for key := range lost {
		var end time.Time
		for _, x := range execs {
			if x.start.key() == key && x.start.time().After(at) && x.end != nil {
				if end.IsZero() || x.end.time().Before(end) {
					end = x.end.time()
				}
			}
		}
		if end.IsZero() {
			missing++
			continue
		}
		if end.After(last) {
			last = end
		}
	}
	return last, missing
}

// waitMidCall waits (bounded) until a call has run for between minAge and maxAge in one of the
// processes pids returns, so that a kill then interrupts it. The upper bound matters: a call seen
// running long after it started may be just about to return (the record of its end not read yet),
// and a kill then proves nothing.
func waitMidCall(t *testing.T, rec *recordLog, pids func() []int, minAge, maxAge time.Duration) {
	t.Helper()
	ok, err := rec.waitFor(time.Minute, func(execs []execution) bool {
		live := pids()
		for _, x := range execs {
			age := time.Since(x.start.time())
			if x.end == nil && age >= minAge && age <= maxAge && slices.Contains(live, x.start.PID) {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("chaos: no call was between %s and %s into its run within a minute", minAge, maxAge)
	}
}

// aliveChildren returns those of the children that still run (the same pid with the same start
// time).
func aliveChildren(children []child) []proc {
	var out []proc
	for _, c := range children {
		if p, ok := readProc(c.pid); ok && p.alive() && p.start == c.start {
			out = append(out, p)
		}
	}
	return out
}

// countOrphans adds left to the row's orphans, naming a few.
func (r *row) countOrphans(when string, left []proc) {
	r.orphans += len(left)
	if len(left) > 0 {
		names := make([]string, 0, 3)
		for i, p := range left {
			if i == 3 {
				break
			}
			names = append(names, p.String())
		}
		r.problem("%s: %d processes left: %s", when, len(left), strings.Join(names, "; "))
	}
}

// stopWorker stops w with SIGTERM (bounded), recording a problem if it does not exit cleanly.
func (r *row) stopWorker(t *testing.T, w *workerProc) {
	t.Helper()
	if err := w.stop(t, 2*time.Minute); err != nil {
		r.problem("the worker's stop: %v", err)
	}
}

// finalOrphans stops w and counts what the scenario's workers and tools left behind.
func (r *row) finalOrphans(t *testing.T, h *harness, rec *recordLog, w *workerProc, dead ...*workerProc) {
	t.Helper()
	r.stopWorker(t, w)
	left, _ := h.waitNoOrphans(append(dead, w), nil, 10*time.Second)
	if rec != nil {
		if err := rec.refresh(); err != nil {
			r.problem("%v", err)
		}
		left = union(left, aliveChildren(rec.children()))
	}
	r.countOrphans("after the worker stopped", left)
}

func union(a, b []proc) []proc {
	seen := map[int]bool{}
	var out []proc
	for _, p := range append(a, b...) {
		if !seen[p.pid] {
			seen[p.pid] = true
			out = append(out, p)
		}
	}
	return out
}

// waitEnded waits (bounded) until at least n executions of the record have ended.
func waitEnded(t *testing.T, rec *recordLog, n int, bound time.Duration) {
	t.Helper()
	ok, err := rec.waitFor(bound, func(execs []execution) bool { return ended(execs) >= n })
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("chaos: fewer than %d executions ended within %s", n, bound)
	}
}

// sigkill sends SIGKILL to pid, ignoring a process that is already gone.
func sigkill(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// rawJSON marshals v.
func rawJSON(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}
