//go:build linux

package pools

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const reliabilityAdap = "reliability_adapter:ReliabilityAdapter"

// adopting reports whether this test process adopts orphans.
func adopting() bool { return os.Getenv(adoptEnv) == "1" }

// childKinds are the kinds of children the spawn tool starts in these tests. A child that both
// leaves the group and scrubs its environment is only found by an adopting process.
func childKinds() []string {
	kinds := []string{"popen", "setsid", "scrubbed", "double_fork", "multiprocessing"}
	if adopting() {
		kinds = append(kinds, "scrubbed_setsid")
	}
	return kinds
}

// spawned is the spawn tool's result.
type spawned struct {
	Worker int   `json:"worker"`
	Tree   []int `json:"tree"`
	// ByKind: the pid of each kind's child.
	ByKind map[string]int `json:"-"`
}

func decodeSpawned(t testing.TB, raw json.RawMessage) spawned {
	t.Helper()
	var s spawned
	require.NoError(t, json.Unmarshal(raw, &s))
	var all map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &all))
	s.ByKind = map[string]int{}
	for k, v := range all {
		var pid int
		if k != "tree" && k != "worker" && json.Unmarshal(v, &pid) == nil {
			s.ByKind[k] = pid
		}
	}
	return s
}

// requireChildrenRun checks that the spawn tool started every kind, a resource_tracker among
// them, and that they run.
func requireChildrenRun(t testing.TB, s spawned, kinds []string) {
	t.Helper()
	for _, kind := range kinds {
		pid := s.ByKind[kind]
		require.NotZero(t, pid, "no pid for %s", kind)
		require.False(t, processGone(pid), "the %s child (pid %d) should run", kind, pid)
	}
	if contains(kinds, "multiprocessing") {
		tracker := false
		cmdlines := map[int]string{} // shown if the check fails (seen once under load, not understood yet)
		for _, pid := range s.Tree {
			cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			cmdlines[pid] = strings.ReplaceAll(string(cmdline), "\x00", " ")
			if err != nil {
				cmdlines[pid] = err.Error()
			}
			tracker = tracker || strings.Contains(string(cmdline), "resource_tracker")
		}
		require.True(t, tracker, "a multiprocessing resource_tracker among the worker's descendants %v", cmdlines)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// allPIDs returns the worker's pid, its descendants and the kinds' children.
func (s spawned) allPIDs() []int {
	pids := append([]int{s.Worker}, s.Tree...)
	for _, pid := range s.ByKind {
		pids = append(pids, pid)
	}
	return pids
}

// waitNoZombieOrphans waits (bounded) until this process has no zombie child the pools did not
// start: adopted orphans are reaped.
func waitNoZombieOrphans(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var zombies []int
		for _, p := range listProcs() {
			if p.ppid == os.Getpid() && p.zombie {
				children.mu.Lock()
				known := children.known[p.pid]
				children.mu.Unlock()
				if !known {
					zombies = append(zombies, p.pid)
				}
			}
		}
		if len(zombies) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("adopted orphans %v are left zombies", zombies)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOrphans: whatever way a Python worker ends, no process its tool started outlives it: a
// plain child, one in a new session, one with a scrubbed environment, a double fork, a
// multiprocessing spawn child and its resource_tracker (and, in an adopting process, a child
// that both left the session and scrubbed its environment).
func TestOrphans(t *testing.T) {
	kinds := childKinds()
	tests := []struct {
		name string
		opts func(*Options)
		// end ends the worker that ran the spawn call (pid w).
		end func(t *testing.T, p *Pool, w int)
	}{
		{"the worker exits", nil, func(t *testing.T, p *Pool, _ int) {
			_, err := call(t, p, "exit_process", map[string]any{"code": 3})
			var ce *WorkerCrashedError
			require.ErrorAs(t, err, &ce)
		}},
		{"the worker is killed", nil, func(t *testing.T, _ *Pool, w int) {
			require.NoError(t, syscall.Kill(w, syscall.SIGKILL))
		}},
		{"the worker is recycled", func(o *Options) { o.MaxRequestsPerWorker = 1; o.RecycleJitter = -1 }, nil},
		{"the pool stops", nil, func(t *testing.T, p *Pool, _ int) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, p.Stop(ctx))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(t, reliabilityAdap, 1)
			opts.RestartBackoff = 10 * time.Millisecond
			if tt.opts != nil {
				tt.opts(&opts)
			}
			p := startPool(t, opts)
			raw, err := call(t, p, "spawn", map[string]any{"kinds": kinds})
			require.NoError(t, err)
			s := decodeSpawned(t, raw)
			requireChildrenRun(t, s, kinds)
			if tt.end != nil {
				tt.end(t, p, s.Worker)
			}
			waitGone(t, s.allPIDs(), 15*time.Second)
			if adopting() {
				waitNoZombieOrphans(t)
			}
		})
	}

	t.Run("the worker is killed after its cancel grace", func(t *testing.T) {
		opts := testOptions(t, reliabilityAdap, 1)
		opts.CancelGrace = 200 * time.Millisecond
		p := startPool(t, opts)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		beat := make(chan json.RawMessage, 1)
		done := make(chan error, 1)
		go func() {
			_, err := p.Call(ctx, Call{Tool: "spawn_and_hang", Args: mustJSON(t, map[string]any{"kinds": kinds, "seconds": 60}),
				OnHeartbeat: func(hb Heartbeat) {
					select {
					case beat <- hb.Details:
					default:
					}
				}})
			done <- err
		}()
		var s spawned
		select {
		case raw := <-beat:
			s = decodeSpawned(t, raw)
		case err := <-done:
			t.Fatalf("the call ended before its heartbeat: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("no heartbeat within 30s")
		}
		requireChildrenRun(t, s, kinds)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		waitGone(t, s.allPIDs(), 15*time.Second)
		if adopting() {
			waitNoZombieOrphans(t)
		}
	})
}

// TestOrphansAdopted runs TestOrphans and TestAdoptedOrphanOfLiveWorker in a child test process
// that adopts orphans (AdoptOrphans), as cmd/worker does.
func TestOrphansAdopted(t *testing.T) {
	if adopting() {
		t.Skip("this is the adopting child process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"-test.run=^(TestOrphans|TestAdoptedOrphanOfLiveWorker)$", "-test.count=1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), adoptEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	t.Logf("adopting test process:\n%s", out)
	require.NoError(t, err, "the adopting test process failed")
	assert.Contains(t, string(out), "PASS")
	assert.NotContains(t, string(out), "no tests to run")
}

// TestAdoptedOrphanOfLiveWorker: an adopting process leaves alone the orphan of a worker that
// still runs (a double fork re-parents it to the Go process at once): it dies with its own worker,
// not when another worker ends.
func TestAdoptedOrphanOfLiveWorker(t *testing.T) {
	if !adopting() {
		t.Skip("runs in the adopting child process of TestOrphansAdopted")
	}
	opts := testOptions(t, reliabilityAdap, 2)
	opts.RestartBackoff = 10 * time.Millisecond
	p := startPool(t, opts)
	raw, err := call(t, p, "spawn", map[string]any{"kinds": []string{"double_fork"}})
	require.NoError(t, err)
	s := decodeSpawned(t, raw)
	orphan := s.ByKind["double_fork"]
	e, ok := readProc(orphan)
	require.True(t, ok)
	require.Equal(t, os.Getpid(), e.ppid, "the double-forked child is re-parented to this subreaper")

	var other int
	for _, pid := range workerPIDs(p) {
		if pid != s.Worker {
			other = pid
		}
	}
	require.NotZero(t, other)
	require.NoError(t, syscall.Kill(other, syscall.SIGKILL))
	waitGone(t, []int{other}, 10*time.Second)
	waitFor(t, p, 20*time.Second, "the replacement", func() bool { return len(workerPIDs(p)) == 2 })
	assert.False(t, processGone(orphan), "the live worker's orphan survives the end of another worker")

	require.NoError(t, syscall.Kill(s.Worker, syscall.SIGKILL))
	waitGone(t, []int{s.Worker, orphan}, 10*time.Second)
	waitNoZombieOrphans(t)
}

// orphanHelperEnv names the pool of TestOrphanHelperProcess (which then runs) in its environment.
const orphanHelperEnv = "SNAKEPOOL_POOLS_ORPHAN_HELPER"

// TestOrphanHelperProcess is not a test: TestSIGKILLOfGoProcessKillsToolChildren runs the test
// binary with it as a helper process that adopts orphans (as cmd/worker does), starts a pool whose
// tools start children, prints every pid and waits to be killed.
func TestOrphanHelperProcess(t *testing.T) {
	name := os.Getenv(orphanHelperEnv)
	if name == "" {
		return // not the helper
	}
	fail := func(err error) {
		os.Stdout.WriteString("ERROR " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n")
		os.Exit(1)
	}
	if _, err := AdoptOrphans(); err != nil {
		fail(err)
	}
	opts := testOptions(t, reliabilityAdap, 2)
	opts.Name = name
	opts.Logger = nil
	p, err := Start(context.Background(), opts)
	if err != nil {
		fail(err)
	}
	var pids []int
	for range 2 {
		raw, err := p.Call(context.Background(), Call{Tool: "spawn", Args: mustJSON(t, map[string]any{
			"kinds": []string{"popen", "setsid", "scrubbed", "double_fork", "multiprocessing"}})})
		if err != nil {
			fail(err)
		}
		pids = append(pids, decodeSpawned(t, raw).allPIDs()...)
	}
	pids = append(pids, workerPIDs(p)...)
	os.Stdout.WriteString("PIDS " + fmtPIDs(pids) + "\n")
	select {} // until killed
}

// TestSIGKILLOfGoProcessKillsToolChildren: when the Go process dies by SIGKILL, its Python
// workers die by their parent-death signal and the lifeline watcher kills what their tools
// started: plain, new-session, scrubbed-environment, double-forked and multiprocessing children.
func TestSIGKILLOfGoProcessKillsToolChildren(t *testing.T) {
	h := startHelperProcess(t, "TestOrphanHelperProcess", orphanHelperEnv+"="+uniqueName(t))
	pids := parsePIDs(t, h.waitLines(t, 90*time.Second, "PIDS ")["PIDS "])
	require.GreaterOrEqual(t, len(pids), 14, "2 workers, each with 5 children and a resource_tracker")
	for _, pid := range pids {
		require.False(t, processGone(pid), "pid %d should run before the kill", pid)
	}
	h.sigkill(t)
	waitGone(t, pids, 15*time.Second)
}

// TestWatcherRestarts: a lifeline watcher that dies while a pool runs is replaced.
func TestWatcherRestarts(t *testing.T) {
	startPool(t, testOptions(t, reliabilityAdap, 1))
	watcher := func() int {
		lifeline.mu.Lock()
		defer lifeline.mu.Unlock()
		if lifeline.proc == nil {
			return 0
		}
		return lifeline.proc.cmd.Process.Pid
	}
	first := watcher()
	require.NotZero(t, first, "a watcher runs while a pool runs")
	require.NoError(t, syscall.Kill(first, syscall.SIGKILL))
	deadline := time.Now().Add(20 * time.Second)
	for {
		if pid := watcher(); pid != 0 && pid != first {
			break
		}
		require.True(t, time.Now().Before(deadline), "no new watcher within 20s")
		time.Sleep(20 * time.Millisecond)
	}
	waitGone(t, []int{first}, 5*time.Second)
}
