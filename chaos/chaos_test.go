package chaos

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/worker/workertest"
)

// scenario is one fault the suite injects, with its checks.
type scenario struct {
	name string
	// reduced: part of the reduced run (`go test ./chaos`, in `make test`), not only of `make chaos`.
	reduced bool
	run     func(t *testing.T, h *harness, r *row)
}

// scenarios are run in this order; docs/reliability.md ("Chaos") describes each.
var scenarios = []scenario{
	{"python-kill", true, pythonKill},
	{"go-kill-restart", true, goKillRestart},
	{"two-workers", false, twoWorkers},
	{"ignores-cancel", true, ignoresCancel},
	{"memory-leak", false, memoryLeak},
	{"poison", true, poison},
	{"children", true, children},
	{"group-sigterm", true, groupSIGTERM},
	{"server-restart", false, serverRestart},
}

func TestMain(m *testing.M) {
	// Whatever a stopped worker leaves behind is re-parented to the suite instead of init, so that
	// "descends from the worker" can still be checked after the worker is gone.
	if err := becomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: prctl(PR_SET_CHILD_SUBREAPER):", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestChaos runs the scenarios against a real dev server with the real worker binary and prints
// one row per scenario. SNAKEPOOL_CHAOS=full runs every scenario in full (`make chaos`); without
// it, the reduced run (fewer items, the scenarios marked reduced) is part of `make test`.
// SNAKEPOOL_CHAOS_ONLY=a,b runs only the named scenarios.
func TestChaos(t *testing.T) {
	began := time.Now()
	full := os.Getenv("SNAKEPOOL_CHAOS") == "full"
	only := map[string]bool{}
	for _, name := range strings.Split(os.Getenv("SNAKEPOOL_CHAOS_ONLY"), ",") {
		if name = strings.TrimSpace(name); name != "" {
			only[name] = true
		}
	}
	for name := range only {
		if !known(name) {
			t.Fatalf("SNAKEPOOL_CHAOS_ONLY: unknown scenario %q", name)
		}
	}
	h := newHarness(t, full)
	t.Run("the orphan count sees an escaped process", func(t *testing.T) { checkOrphanCount(t, h) })
	var rows []*row
	for _, s := range scenarios {
		if len(only) > 0 && !only[s.name] || len(only) == 0 && !full && !s.reduced {
			continue
		}
		r := newRow(s.name)
		rows = append(rows, r)
		t.Run(s.name, func(t *testing.T) {
			finished := false
			defer func() { r.aborted = !finished }()
			s.run(t, h, r)
			finished = true
			if !r.ok() {
				t.Errorf("%s: lost %d, wrong %d, orphans %d, failed %v (expected %v), completed %d of %d; problems: %s",
					s.name, r.lost, r.wrong, r.orphans, r.failed, r.expectFailed, r.completed, r.submitted,
					strings.Join(r.problems, "; "))
			}
		})
	}
	mode := "reduced"
	if full {
		mode = "full"
	}
	var out strings.Builder
	printTable(&out, rows, time.Since(began))
	fmt.Printf("\nsnakepool chaos (%s run)\n%s", mode, out.String())
}

func known(name string) bool {
	for _, s := range scenarios {
		if s.name == name {
			return true
		}
	}
	return false
}

// pick returns full in the full run and reduced in the reduced one.
func pick[T any](h *harness, full, reduced T) T {
	if h.full {
		return full
	}
	return reduced
}

// checkOrphanCount shows that the orphans column can count: a tool's child that both leaves
// the worker's session and scrubs its environment survives a SIGKILL of the Go worker (a case
// docs/reliability.md lists as out of reach), and the suite's scan finds it. The suite then kills
// it itself.
func checkOrphanCount(t *testing.T, h *harness) {
	p := pool{name: "orphan-count", size: 1}
	w := h.startWorker(t, h.writeConfig(t, p), h.srv.Address)
	rec := newRecordLog(t, "records.jsonl")
	workertest.ExecuteCall(t, h.client, h.callQueue, workertest.Call{
		TaskQueue: "snakepool." + p.name, Tool: "spawn_children", MaximumAttempts: 1,
		Args: rawJSON(map[string]any{"item": 0, "kinds": []string{"scrubbed_setsid"}, "seconds": 60,
			"child_seconds": 60, "record": rec.path}),
	})
	ok, err := rec.waitFor(time.Minute, func(execs []execution) bool { return len(execs) == 1 })
	require.NoError(t, err)
	require.True(t, ok, "the tool did not start within a minute")
	escaped := rec.children()
	require.Len(t, escaped, 1)
	w.kill(t)
	left, _ := h.waitNoOrphans([]*workerProc{w}, nil, 3*time.Second)
	var pids []int
	for _, p := range left {
		pids = append(pids, p.pid)
	}
	require.Equal(t, []int{escaped[0].pid}, pids, "the scan finds the escaped child, and only it: %v", left)
	require.NoError(t, sigkill(escaped[0].pid))
	left, _ = h.waitNoOrphans([]*workerProc{w}, nil, 10*time.Second)
	require.Empty(t, left, "the escaped child, killed by the suite, is reaped")
}
