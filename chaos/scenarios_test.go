package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/snakepool/snakepool/worker/workertest"
)

// pythonKill: SIGKILL random busy Python workers while a map of many items runs. Every item ends
// with its value: a killed call fails with a retryable WorkerCrashed and Temporal retries it. No
// item is killed more than twice, so the poison-input bound (max_crashed_attempts: 3) is not met.
func pythonKill(t *testing.T, h *harness, r *row) {
	n, maxKills := pick(h, 1000, 100), pick(h, 30, 3)
	p := pool{name: "python-kill", size: 4,
		// The suite kills a worker every second, far above any real crash rate; the default backoff
		// (up to 30s) would throttle the replacements of what it takes for a crash loop.
		extra: "    max_restart_backoff: 500ms\n"}
	w := h.startWorker(t, h.writeConfig(t, p), h.srv.Address)
	rec := newRecordLog(t, "records.jsonl")
	items := itemList(n)
	r.submitted = n
	bound := pick(h, 8*time.Minute, 2*time.Minute)
	run := h.startPipeline(t, h.client, p.pipelineQueue(), map[string]any{"steps": []any{
		mapStep("items", p.name, "work", items, 8, map[string]any{"seconds": 0.1, "record": rec.path}),
	}}, bound)
	settled := make(chan struct{})
	go func() {
		defer close(settled)
		r.settleMap(run, bound, 0, items)
	}()

	type kill struct {
		at   time.Time
		exec execution
	}
	var kills []kill
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	killedTimes := map[string]int{}
	deadline := time.After(bound)
loop:
	for len(kills) < maxKills {
		select {
		case <-settled:
			break loop
		case <-deadline:
			break loop
		case <-time.After(time.Second): // the pace of the kills
		}
		if err := rec.refresh(); err != nil {
			t.Fatal(err)
		}
		pythons := map[int]bool{}
		for _, pid := range w.pythons(t) {
			pythons[pid] = true
		}
		var busy []execution
		for _, x := range rec.executions() {
			if x.end == nil && pythons[x.start.PID] && killedTimes[x.start.key()] < 2 {
				busy = append(busy, x)
			}
		}
		if len(busy) == 0 {
			continue
		}
		victim := busy[rng.IntN(len(busy))]
		at := time.Now()
		if err := sigkill(victim.start.PID); err != nil {
			t.Fatal(err)
		}
		killedTimes[victim.start.key()]++
		kills = append(kills, kill{at, victim})
	}
	<-settled
	if err := rec.refresh(); err != nil {
		t.Fatal(err)
	}
	execs := rec.executions()
	// Recovery: from each kill to the end of the killed item's next execution. A kill that came
	// after the tool had returned (its end is recorded) may have cost nothing.
	var worst time.Duration
	for _, k := range kills {
		last, missing := redone(execs, map[string]bool{k.exec.start.key(): true}, k.at)
		if missing > 0 {
			if !returnedBefore(execs, k.exec) {
				r.problem("item %d, killed at attempt %d, never ran again", k.exec.start.Item, k.exec.start.Attempt)
			}
			continue
		}
		worst = max(worst, last.Sub(k.at))
	}
	r.recover = worst
	r.recovery = "longest time from a kill to the end of the killed item's next run"
	if len(kills) < min(maxKills, 10) && len(kills) < maxKills {
		r.problem("only %d kills landed on a busy worker", len(kills))
	}
	r.note = fmt.Sprintf("%d SIGKILLs of busy Python workers (one a second, seed %d), %d executions for %d items",
		len(kills), seed, len(execs), n)
	r.finalOrphans(t, h, nil, w)
}

// returnedBefore reports whether the tool of x had recorded its end (the kill came after it
// returned).
func returnedBefore(execs []execution, x execution) bool {
	for _, e := range execs {
		if e.start.key() == x.start.key() && e.start.Attempt == x.start.Attempt && e.start.PID == x.start.PID && e.end != nil {
			return true
		}
	}
	return false
}

// goKillRestart: SIGKILL the Go worker in the middle of a pipeline (a step, a map, a step) and
// start it again. The pipeline completes, every item with its value; no activity that the server
// had recorded as completed before the kill runs again (the record file has one execution of
// each); the interrupted calls run again once their heartbeat timeout (the default 30s in the
// full run) expires.
func goKillRestart(t *testing.T, h *harness, r *row) {
	n := pick(h, 40, 8)
	p := pool{name: "go-kill-restart", size: 4}
	config := h.writeConfig(t, p)
	w := h.startWorker(t, config, h.srv.Address)
	rec := newRecordLog(t, "records.jsonl")
	items := itemList(n)
	work := func(item int) map[string]any {
		return map[string]any{"pool": p.name, "tool": "work", "args": map[string]any{"item": item, "seconds": 0.3, "record": rec.path}}
	}
	prepare, finish := work(100000), work(100001)
	prepare["name"], finish["name"] = "prepare", "finish"
	spec := map[string]any{"steps": []any{
		prepare,
		mapStep("items", p.name, "work", items, 4, map[string]any{"seconds": 1.0, "record": rec.path}),
		finish,
	}}
	if !h.full {
		spec["defaults"] = map[string]any{"heartbeat_timeout": "5s"}
	}
	r.submitted = n + 2
	bound := 5 * time.Minute
	run := h.startPipeline(t, h.client, p.pipelineQueue(), spec, bound)
	waitEnded(t, rec, 1+n/3, 2*time.Minute)
	waitMidCall(t, rec, func() []int { return w.pythons(t) }, 300*time.Millisecond, 700*time.Millisecond) // its items run 1s
	killAt := w.kill(t)
	left, _ := h.waitNoOrphans([]*workerProc{w}, nil, 15*time.Second)
	took := time.Since(killAt)
	r.countOrphans("after the SIGKILL of the Go worker", left)
	w2 := h.startWorker(t, config, h.srv.Address)
	restartedIn := time.Since(killAt)

	result := r.settleMap(run, bound, 1, items)
	if len(result.Results) == 3 {
		r.value(100000, result.Results[0].Result)
		r.value(100001, result.Results[2].Result)
	} else if r.lost == 0 && sum(r.failed) == 0 {
		r.problem("the pipeline's result has %d steps, not 3", len(result.Results))
		r.lost += 2
	}
	if err := rec.refresh(); err != nil {
		t.Fatal(err)
	}
	execs := rec.executions()
	done, err := activityCompletions(h.client, run.GetID(), run.GetRunID())
	if err != nil {
		r.problem("%v", err)
	}
	before := r.notRunAgain(done, run, rec, killAt)
	lost := lostWork(execs, done, killAt, nil)
	last, missing := redone(execs, lost, killAt)
	if missing > 0 {
		r.problem("%d interrupted calls never ran again", missing)
	}
	if len(lost) == 0 {
		r.problem("no call was running at the kill")
	} else {
		r.recover = last.Sub(killAt)
	}
	r.recovery = "from the kill to the end of the last interrupted call's new run (the worker is restarted at once)"
	r.note = fmt.Sprintf("%d calls completed before the kill, none ran again; %d interrupted calls ran again; "+
		"the dead worker's processes were gone %s after the kill; the worker was back %s after it",
		before, len(lost), took.Round(10*time.Millisecond), restartedIn.Round(100*time.Millisecond))
	r.finalOrphans(t, h, rec, w2, w)
}

// twoWorkers: two workers serve the same task queues (the pool's and the Pipeline's); one is
// SIGKILLed mid-map and not restarted. The other finishes everything: the calls after the kill
// all run in its processes, the interrupted ones once their heartbeat timeout expires.
func twoWorkers(t *testing.T, h *harness, r *row) {
	n := pick(h, 40, 12)
	p := pool{name: "two-workers", size: 2}
	config := h.writeConfig(t, p)
	a := h.startWorker(t, config, h.srv.Address)
	b := h.startWorker(t, config, h.srv.Address)
	rec := newRecordLog(t, "records.jsonl")
	items := itemList(n)
	spec := map[string]any{"steps": []any{
		mapStep("items", p.name, "work", items, 8, map[string]any{"seconds": 1.0, "record": rec.path}),
	}}
	if !h.full {
		spec["defaults"] = map[string]any{"heartbeat_timeout": "5s"}
	}
	r.submitted = n
	bound := 5 * time.Minute
	run := h.startPipeline(t, h.client, p.pipelineQueue(), spec, bound)
	waitEnded(t, rec, n/4, 2*time.Minute)
	waitMidCall(t, rec, func() []int { return a.pythons(t) }, 300*time.Millisecond, 700*time.Millisecond) // its items run 1s
	aPythons := map[int]bool{}
	for _, pid := range a.pythons(t) {
		aPythons[pid] = true
	}
	killAt := a.kill(t)
	left, _ := h.waitNoOrphans([]*workerProc{a}, []*workerProc{b}, 15*time.Second)
	took := time.Since(killAt)
	r.countOrphans("after the SIGKILL of one worker", left)

	r.settleMap(run, bound, 0, items)
	if err := rec.refresh(); err != nil {
		t.Fatal(err)
	}
	execs := rec.executions()
	onA, afterOnB := 0, 0
	for _, x := range execs {
		switch {
		case aPythons[x.start.PID] && x.start.time().Before(killAt):
			onA++
		case aPythons[x.start.PID]:
			r.problem("item %d started in a process of the killed worker after the kill", x.start.Item)
		case x.start.time().After(killAt):
			afterOnB++
		}
	}
	if onA == 0 {
		r.problem("the killed worker ran no call before the kill: the scenario proved nothing")
	}
	done, err := activityCompletions(h.client, run.GetID(), run.GetRunID())
	if err != nil {
		r.problem("%v", err)
	}
	lost := lostWork(execs, done, killAt, aPythons)
	last, missing := redone(execs, lost, killAt)
	if missing > 0 {
		r.problem("%d calls interrupted with the killed worker never ran again", missing)
	}
	if len(lost) == 0 {
		r.problem("no call of the killed worker was interrupted")
	} else {
		r.recover = last.Sub(killAt)
	}
	r.recovery = "from the kill to the end of the last interrupted call's new run on the other worker"
	r.note = fmt.Sprintf("the killed worker ran %d calls (%d interrupted, all run again on the other); "+
		"the other ran %d calls after the kill; the killed worker's processes were gone %s after the kill",
		onA, len(lost), afterOnB, took.Round(10*time.Millisecond))
	r.stopWorker(t, b)
	left, _ = h.waitNoOrphans([]*workerProc{a, b}, nil, 10*time.Second)
	r.countOrphans("after the workers stopped", left)
}

// ignoresCancel: calls of a tool that ignores cancellation (and has a child process) are
// cancelled. Each workflow ends cancelled; the worker kills the tool's process after the pool's
// cancel_grace, and its child with it, while the worker keeps running; the pool is back at full
// size and serves the next call.
func ignoresCancel(t *testing.T, h *harness, r *row) {
	k := pick(h, 4, 2)
	grace := 2 * time.Second
	p := pool{name: "ignores-cancel", size: k, extra: fmt.Sprintf("    cancel_grace: %s\n", grace)}
	w := h.startWorker(t, h.writeConfig(t, p), h.srv.Address)
	rec := newRecordLog(t, "records.jsonl")
	r.submitted = k + 1
	r.expectFailed["cancelled"] = k
	var runs []client.WorkflowRun
	for i := range k {
		runs = append(runs, workertest.ExecuteCall(t, h.client, h.callQueue, workertest.Call{
			TaskQueue: "snakepool." + p.name, Tool: "ignore_cancel", MaximumAttempts: 1,
			// A short heartbeat timeout makes the worker heartbeat every second, and so hear of the
			// cancel within about a second (the SDK delivers it in a heartbeat's response).
			HeartbeatTimeout: 3 * time.Second,
			Args:             rawJSON(map[string]any{"item": i, "seconds": 120, "record": rec.path}),
		}))
	}
	ok, err := rec.waitFor(time.Minute, func(execs []execution) bool { return len(execs) >= k })
	if err != nil || !ok {
		t.Fatalf("chaos: the %d calls did not all start within a minute (%v)", k, err)
	}
	execs := rec.executions()
	// What must be gone after the cancel: each tool's process and its child (pid and start time).
	var theirs [][]child
	for _, x := range execs {
		pids := []child{{pid: x.start.PID}}
		if p, ok := readProc(x.start.PID); ok {
			pids[0].start = p.start
		}
		for _, c := range x.start.Children {
			pids = append(pids, child{pid: int(c[0]), start: uint64(c[1])})
		}
		theirs = append(theirs, pids)
	}
	cancelAt := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, run := range runs {
		if err := h.client.CancelWorkflow(ctx, run.GetID(), run.GetRunID()); err != nil {
			t.Fatalf("chaos: cancel %s: %v", run.GetID(), err)
		}
	}
	for _, run := range runs {
		if err := run.Get(ctx, nil); err != nil {
			r.unsettled(1, err)
		} else {
			r.problem("a cancelled call completed")
			r.completed++
		}
	}
	// Each tool's process and child must be gone while the worker runs, not before the grace.
	var worst time.Duration
	for _, pids := range theirs {
		if !pollUntil(30*time.Second, 20*time.Millisecond, func() bool { return len(aliveChildren(pids)) == 0 }) {
			r.countOrphans("30s after the cancel, with the worker running", aliveChildren(pids))
			continue
		}
		worst = max(worst, time.Since(cancelAt))
	}
	if worst < grace {
		r.problem("the tools' processes were killed %s after the cancel, before their cancel_grace of %s", worst, grace)
	}
	r.recover = worst
	r.recovery = "from the cancel to the last tool's process and child gone (cancel_grace 2s)"
	if !pollUntil(30*time.Second, 50*time.Millisecond, func() bool { return fullSize(w, p) }) {
		r.problem("the pool was not back at full size within 30s")
	}
	next := workertest.ExecuteCall(t, h.client, h.callQueue, workertest.Call{
		TaskQueue: "snakepool." + p.name, Tool: "work",
		Args: rawJSON(map[string]any{"item": 7, "seconds": 0.1, "record": rec.path}),
	})
	var out []byte
	if err := next.Get(ctx, (*rawResult)(&out)); err != nil {
		r.unsettled(1, err)
	} else {
		r.value(7, out)
	}
	r.note = fmt.Sprintf("%d calls of a tool that ignores cancellation (each with a child), cancelled; then one more call", k)
	r.finalOrphans(t, h, rec, w)
}

// rawResult receives an activity's JSON result as it is.
type rawResult []byte

func (r *rawResult) UnmarshalJSON(data []byte) error {
	*r = append((*r)[:0], data...)
	return nil
}

// fullSize reports whether the worker's pool p is healthy with all its processes.
func fullSize(w *workerProc, p pool) bool {
	health, err := w.health()
	if err != nil || len(health.Pools) != 1 {
		return false
	}
	ph := health.Pools[0]
	return health.Ready && ph.Healthy && ph.Workers == p.size && ph.Starting == 0
}

// memoryLeak: a tool that keeps 25 MiB more at every call, in a pool recycled by resident memory
// (max_worker_memory_mb). Nothing fails: each process over the limit finishes its call and is
// replaced.
func memoryLeak(t *testing.T, h *harness, r *row) {
	n := pick(h, 40, 12)
	p := pool{name: "memory-leak", size: 2, extra: "    max_worker_memory_mb: 120\n    memory_check_interval: 200ms\n"}
	w := h.startWorker(t, h.writeConfig(t, p), h.srv.Address)
	rec := newRecordLog(t, "records.jsonl")
	items := itemList(n)
	r.submitted = n
	run := h.startPipeline(t, h.client, p.pipelineQueue(), map[string]any{"steps": []any{
		mapStep("items", p.name, "leak", items, 2, map[string]any{"mb": 25, "seconds": 0.3, "record": rec.path}),
	}}, 5*time.Minute)
	r.settleMap(run, 5*time.Minute, 0, items)
	if err := rec.refresh(); err != nil {
		t.Fatal(err)
	}
	pids := map[int]bool{}
	for _, x := range rec.executions() {
		pids[x.start.PID] = true
	}
	// The metrics reach /metrics at the next report (every second).
	var recycled, restarted int
	pollUntil(10*time.Second, 200*time.Millisecond, func() bool {
		recycled, restarted = poolCounter(w, p, "recycles", `reason="memory"`), poolCounter(w, p, "restarts", "")
		return recycled > 0
	})
	if recycled == 0 {
		r.problem("no process was recycled for its memory")
	}
	if restarted > 0 {
		r.problem("%d processes were restarted (crashed) instead of recycled", restarted)
	}
	r.note = fmt.Sprintf("%d recycles by memory (limit 120 MiB, +25 MiB a call), %d crashes; %d processes ran the calls",
		recycled, restarted, len(pids))
	r.finalOrphans(t, h, rec, w)
}

// poolCounter sums the pool's snakepool_pool_worker_<what>_total series whose labels contain
// label.
func poolCounter(w *workerProc, p pool, what, label string) int {
	_, body, err := w.get("/metrics")
	if err != nil {
		return 0
	}
	re := regexp.MustCompile(`(?m)^snakepool_pool_worker_` + what + `_total\{([^}]*)\} ([0-9.e+]+)$`)
	total := 0
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		if strings.Contains(m[1], `pool="`+sanitize(p.name)+`"`) && strings.Contains(m[1], label) {
			v, _ := strconv.ParseFloat(m[2], 64)
			total += int(v)
		}
	}
	return total
}

// sanitize is a label value as the Prometheus reporter writes it (docs/worker.md: characters
// other than letters, digits and _ become _).
func sanitize(s string) string {
	return regexp.MustCompile(`[^A-Za-z0-9_]`).ReplaceAllString(s, "_")
}

// poison: one item of a map segfaults its Python worker on every attempt. It fails after
// max_crashed_attempts (3) attempts with a non-retryable WorkerCrashed naming the signal; with
// on_error "collect" every other item completes; the pool is healthy at full size afterwards and
// serves the next call.
func poison(t *testing.T, h *harness, r *row) {
	n := pick(h, 20, 6)
	bad := n / 2
	p := pool{name: "poison", size: 2}
	w := h.startWorker(t, h.writeConfig(t, p), h.srv.Address)
	rec := newRecordLog(t, "records.jsonl")
	items := itemList(n)
	r.submitted = n + 1
	r.expectFailed["WorkerCrashed"] = 1
	step := mapStep("items", p.name, "crash_on", items, 2, map[string]any{"poison": bad, "record": rec.path})
	step["retry"] = map[string]any{"initial_interval": "200ms"} // unlimited attempts, as by default
	run := h.startPipeline(t, h.client, p.pipelineQueue(), map[string]any{"steps": []any{step}}, 5*time.Minute)
	result := r.settleMap(run, 5*time.Minute, 0, items)
	endedAt := time.Now()
	if len(result.Results) == 1 {
		var entries []struct {
			OK    bool `json:"ok"`
			Error *struct {
				Type, Message string
			} `json:"error"`
		}
		if err := json.Unmarshal(result.Results[0].Result, &entries); err == nil && bad < len(entries) {
			e := entries[bad]
			if e.OK || e.Error == nil || !strings.Contains(e.Error.Message, "crashed in 3 attempts") ||
				!strings.Contains(e.Error.Message, "SIGSEGV") {
				r.problem("the poison item's entry does not name 3 crashed attempts and SIGSEGV: %+v", e.Error)
			} else {
				r.note = "the poison item: " + firstLine(e.Error.Message) + "; "
			}
		}
	}
	if !pollUntil(time.Minute, 50*time.Millisecond, func() bool { return fullSize(w, p) }) {
		r.problem("the pool was not healthy at full size within a minute of the map's end")
	} else {
		r.recover = time.Since(endedAt)
	}
	r.recovery = "from the map's end to the pool healthy, ready and at full size"
	if err := rec.refresh(); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for _, x := range rec.executions() {
		if x.start.Item == bad {
			attempts++
		}
	}
	if attempts != 3 {
		r.problem("the poison item ran %d times, not 3", attempts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	next := workertest.ExecuteCall(t, h.client, h.callQueue, workertest.Call{
		TaskQueue: "snakepool." + p.name, Tool: "crash_on",
		Args: rawJSON(map[string]any{"item": 9, "poison": bad, "record": rec.path}),
	})
	var out []byte
	if err := next.Get(ctx, (*rawResult)(&out)); err != nil {
		r.unsettled(1, err)
	} else {
		r.value(9, out)
	}
	r.note += fmt.Sprintf("it ran %d times; the other %d items and one more call completed", attempts, n-1)
	r.finalOrphans(t, h, rec, w)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// children: tools that start children of every kind (a plain child, one in a new session, one
// with a scrubbed environment, a double fork, a multiprocessing spawn child with its
// resource_tracker), each sleeping 120s, left running when the tool returns. A busy Python
// worker is SIGKILLed, then the Go worker itself; after each kill, and after the final stop, no
// process any tool started is left.
func children(t *testing.T, h *harness, r *row) {
	n := pick(h, 16, 4)
	p := pool{name: "children", size: 2}
	config := h.writeConfig(t, p)
	w := h.startWorker(t, config, h.srv.Address)
	rec := newRecordLog(t, "records.jsonl")
	items := itemList(n)
	r.submitted = n
	kinds := []string{"popen", "setsid", "scrubbed", "double_fork", "multiprocessing"}
	run := h.startPipeline(t, h.client, p.pipelineQueue(), map[string]any{
		// Short, so that the calls lost with the Go worker run again soon after its restart.
		"defaults": map[string]any{"heartbeat_timeout": "5s"},
		"steps": []any{mapStep("items", p.name, "spawn_children", items, 2, map[string]any{
			"kinds": kinds, "seconds": 1.5, "child_seconds": 120, "record": rec.path})},
	}, 5*time.Minute)

	// 1. SIGKILL a Python worker that runs a call (it has started that call's children, and kept
	// those of its earlier calls).
	waitEnded(t, rec, 1, 2*time.Minute)
	ok, err := rec.waitFor(time.Minute, func(execs []execution) bool {
		for _, x := range execs {
			if x.end == nil && slices.Contains(w.pythons(t), x.start.PID) {
				return true
			}
		}
		return false
	})
	if err != nil || !ok {
		t.Fatalf("chaos: no call running (%v)", err)
	}
	var victim int
	var theirs []child
	for _, x := range rec.executions() {
		if x.end == nil && victim == 0 && slices.Contains(w.pythons(t), x.start.PID) {
			victim = x.start.PID
		}
	}
	for _, x := range rec.executions() {
		if x.start.PID == victim {
			for _, c := range x.start.Children {
				theirs = append(theirs, child{pid: int(c[0]), start: uint64(c[1])})
			}
		}
	}
	killAt := time.Now()
	if err := sigkill(victim); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(10*time.Second, 20*time.Millisecond, func() bool { return len(aliveChildren(theirs)) == 0 }) {
		r.countOrphans("10s after the SIGKILL of a Python worker", aliveChildren(theirs))
	}
	recoverPython := time.Since(killAt)

	// 2. SIGKILL the Go worker once half the items are done, then start it again.
	waitEnded(t, rec, n/2, 3*time.Minute)
	if err := rec.refresh(); err != nil {
		t.Fatal(err)
	}
	beforeGoKill := len(rec.children())
	goKillAt := w.kill(t)
	left, _ := h.waitNoOrphans([]*workerProc{w}, nil, 15*time.Second)
	recoverGo := time.Since(goKillAt)
	left = union(left, aliveChildren(rec.children()))
	r.countOrphans("after the SIGKILL of the Go worker", left)
	w2 := h.startWorker(t, config, h.srv.Address)

	r.settleMap(run, 5*time.Minute, 0, items)
	r.recover = max(recoverPython, recoverGo)
	r.recovery = "longest time from a kill to the last process of the dead worker gone"
	if err := rec.refresh(); err != nil {
		t.Fatal(err)
	}
	r.note = fmt.Sprintf("%d child processes of 5 kinds started (%d of them before the Go worker's SIGKILL); "+
		"a Python worker with %d children gone in %s, the Go worker's in %s",
		len(rec.children()), beforeGoKill, len(theirs), recoverPython.Round(10*time.Millisecond), recoverGo.Round(10*time.Millisecond))
	r.finalOrphans(t, h, rec, w2, w)
}

// groupSIGTERM: SIGTERM to every process of the worker at once (the Go process, its lifeline
// watcher, its Python workers), as systemd's KillMode=control-group does, while two calls run
// that take 8s. They must finish with their values within the stop timeout
// (worker_stop_timeout 30s), and the worker exit 0. The calls run in a workflow of the suite (not
// a Pipeline of the worker) with one attempt, so a call cut short shows as failed with its reason.
func groupSIGTERM(t *testing.T, h *harness, r *row) {
	stopTimeout := 30 * time.Second
	p := pool{name: "group-sigterm", size: 2, workerStopTimeout: stopTimeout}
	w := h.startWorker(t, h.writeConfig(t, p), h.srv.Address)
	rec := newRecordLog(t, "records.jsonl")
	const k = 2
	r.submitted = k
	var runs []client.WorkflowRun
	for i := range k {
		runs = append(runs, workertest.ExecuteCall(t, h.client, h.callQueue, workertest.Call{
			TaskQueue: "snakepool." + p.name, Tool: "work", MaximumAttempts: 1, HeartbeatTimeout: 10 * time.Second,
			Args: rawJSON(map[string]any{"item": i, "seconds": 8, "record": rec.path}),
		}))
	}
	ok, err := rec.waitFor(time.Minute, func(execs []execution) bool { return len(execs) >= k })
	if err != nil || !ok {
		t.Fatalf("chaos: the %d calls did not start within a minute (%v)", k, err)
	}
	time.Sleep(time.Second) // into the calls
	table := procTable()
	group := append([]proc{table[w.pid]}, descendants(table, w.pid, nil)...)
	sigAt := time.Now()
	for _, proc := range group {
		_ = syscall.Kill(proc.pid, syscall.SIGTERM)
	}
	exitErr := w.Wait(t, stopTimeout+time.Minute)
	exitedIn := time.Since(sigAt)
	r.recover = exitedIn
	r.recovery = "from the SIGTERM to the worker's exit"
	if exitErr != nil {
		r.problem("the worker exited with %v", exitErr)
	}
	if exitedIn > stopTimeout+5*time.Second {
		r.problem("the worker took %s to exit, over its stop timeout of %s", exitedIn, stopTimeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, run := range runs {
		var out []byte
		if err := run.Get(ctx, (*rawResult)(&out)); err != nil {
			r.unsettled(1, err)
		} else {
			r.value(i, out)
		}
	}
	if err := rec.refresh(); err != nil {
		t.Fatal(err)
	}
	r.note = fmt.Sprintf("SIGTERM to %d processes at once, 1s into two 8s calls; the worker exited in %s (%v)",
		len(group), exitedIn.Round(10*time.Millisecond), exitStatus(exitErr))
	left, _ := h.waitNoOrphans([]*workerProc{w}, nil, 10*time.Second)
	r.countOrphans("after the worker exited", union(left, aliveChildren(rec.children())))
}

func exitStatus(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// serverRestart: the Temporal server (a dev server with a database file) is stopped with SIGINT
// in the middle of a map and started again on the same port. The worker reconnects by itself
// and the pipeline completes, every item with its value.
func serverRestart(t *testing.T, h *harness, r *row) {
	n := pick(h, 24, 12)
	ps := h.startPersistentServer(t)
	c := ps.dial(t)
	p := pool{name: "server-restart", size: 2}
	w := h.startWorker(t, h.writeConfig(t, p), ps.address)
	rec := newRecordLog(t, "records.jsonl")
	items := itemList(n)
	r.submitted = n
	bound := 5 * time.Minute
	run := h.startPipeline(t, c, p.pipelineQueue(), map[string]any{"steps": []any{
		mapStep("items", p.name, "work", items, 4, map[string]any{"seconds": 1.0, "record": rec.path}),
	}}, bound)
	waitEnded(t, rec, n/4, 2*time.Minute)
	stopAt := time.Now()
	if err := ps.stop(30 * time.Second); err != nil {
		t.Fatalf("chaos: %v", err)
	}
	// The outage: the worker keeps running (and live) while its polls, heartbeats and results fail.
	outage := pick(h, 10*time.Second, 3*time.Second)
	time.Sleep(outage)
	if code, _, err := w.get("/livez"); err != nil || code != 200 {
		r.problem("the worker is not live with the server down: %d %v", code, err)
	}
	if err := ps.start(); err != nil {
		t.Fatalf("chaos: start the dev server again on %s: %v", ps.address, err)
	}
	backAt := time.Now()
	r.settleMap(run, bound, 0, items)
	done, err := activityCompletions(c, run.GetID(), run.GetRunID())
	if err != nil {
		r.problem("%v", err)
	}
	var first time.Time
	for _, at := range done {
		if at.After(backAt) && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	if first.IsZero() {
		r.problem("no activity completed after the server came back")
	} else {
		r.recover = first.Sub(backAt)
	}
	r.recovery = "from the server back to the first activity it recorded as completed"
	r.note = fmt.Sprintf("the server was down %s (SIGINT, %s later started on the same port with its database file); the worker stayed live",
		backAt.Sub(stopAt).Round(100*time.Millisecond), outage)
	r.finalOrphans(t, h, rec, w)
	_ = os.Remove(ps.dbFile)
}
