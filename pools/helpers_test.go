package pools

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/snakepool/snakepool/internal/testenv"
)

// adoptEnv, set to 1, makes the test binary call AdoptOrphans before its tests: TestOrphansAdopted
// runs TestOrphans in such a child process, which starts no other children.
const adoptEnv = "SNAKEPOOL_POOLS_TEST_ADOPT"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		// The helper process of TestSIGKILLOfGoProcessKillsPython: its goroutines outlive it.
		os.Exit(m.Run())
	}
	if os.Getenv(adoptEnv) == "1" {
		// The adopting child process of TestOrphansAdopted.
		undo, err := AdoptOrphans()
		if err != nil {
			panic(err)
		}
		code := m.Run()
		undo()
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

const (
	showcase = "snakepool.examples.showcase:ShowcaseAdapter"
	testAdap = "pooltest_adapter:PoolTestAdapter"
)

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// uniqueName returns a pool name unique to this test run, so that its Python processes can be
// found by their --worker-id.
func uniqueName(t testing.TB) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := strings.ToLower(unsafeName.ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return name + "_" + hex.EncodeToString(b)
}

// testdataDir is the absolute path of pools/testdata (the test adapter module).
func testdataDir(t testing.TB) string {
	dir, err := filepath.Abs("testdata")
	require.NoError(t, err)
	return dir
}

// testOptions returns options for a pool of the test run: the venv interpreter, testdata on
// PYTHONPATH, a logger into the test log, quick timeouts.
func testOptions(t testing.TB, adapter string, size int) Options {
	return Options{
		Name:         uniqueName(t),
		Size:         size,
		Adapter:      adapter,
		Python:       testenv.Python(t),
		Env:          map[string]string{"PYTHONPATH": testdataDir(t)},
		StartTimeout: 30 * time.Second,
		StopTimeout:  3 * time.Second,
		DrainTimeout: 10 * time.Second,
		Logger:       testLogger(t),
	}
}

// startPool starts a pool and stops it at the end of the test, checking that no Python process
// of it is left.
func startPool(t testing.TB, opts Options) *Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := Start(ctx, opts)
	require.NoError(t, err, "start pool %q", opts.Name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Stop(ctx)
		requireNoProcesses(t, opts.Name)
	})
	return p
}

// testLogger logs into the test's log until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && testing.Verbose() {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// call runs one call with a bounded context.
func call(t testing.TB, p *Pool, tool string, args any) (json.RawMessage, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.Call(ctx, Call{Tool: tool, Args: mustJSON(t, args)})
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// processGone reports whether pid no longer runs (absent, or a zombie nobody reaped yet).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// waitGone waits (polling, bounded) until every pid is gone.
func waitGone(t testing.TB, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var alive []int
		for _, pid := range pids {
			if !processGone(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("python processes %v still alive %s later", alive, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// poolProcesses returns the pids of the live Python processes started for a pool name (found by
// their --worker-id NAME-N argument in /proc).
func poolProcesses(name string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	needle := []byte("--worker-id\x00" + name + "-")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, needle) {
			continue
		}
		if !processGone(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// requireNoProcesses fails when a Python process of the pool is still alive (after a short grace
// for processes being reaped).
func requireNoProcesses(t testing.TB, name string) {
	t.Helper()
	pids := poolProcesses(name)
	if len(pids) > 0 {
		waitGone(t, pids, 5*time.Second)
	}
}

// workerPIDs returns the pids of the pool's ready workers.
func workerPIDs(p *Pool) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for _, w := range p.workers {
		if w.state == stateReady && !w.dead {
			pids = append(pids, w.pid)
		}
	}
	return pids
}

// waitFor waits for cond on every change of the pool's slot counts (and every 50ms, for changes
// that are not slot changes, such as metrics), failing after within.
func waitFor(t testing.TB, p *Pool, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ch := p.AvailableChanged()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
	}
}

func fmtPIDs(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, " ")
}

// helperProcess is the test binary re-executed to run one helper "test" (which does its work
// when env is set, prints lines and waits to be killed).
type helperProcess struct {
	cmd   *exec.Cmd
	lines chan string
}

// startHelperProcess runs the test named test as a helper process with env ("KEY=VALUE") added.
// It is killed when the test ends.
func startHelperProcess(t testing.TB, test, env string) *helperProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	h := &helperProcess{cmd: cmd, lines: make(chan string)}
	go func() {
		defer close(h.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		for range h.lines {
		}
	})
	return h
}

// waitLines waits (for up to within) until the helper has printed a line starting with each
// prefix (e.g. "PIDS "), and returns the rest of each line by prefix. A line starting with
// "ERROR" fails the test.
func (h *helperProcess) waitLines(t testing.TB, within time.Duration, prefixes ...string) map[string]string {
	t.Helper()
	got := map[string]string{}
	timeout := time.After(within)
	for len(got) < len(prefixes) {
		select {
		case line, ok := <-h.lines:
			require.True(t, ok, "the helper exited before printing %v", prefixes)
			require.False(t, strings.HasPrefix(line, "ERROR"), line)
			for _, prefix := range prefixes {
				if rest, ok := strings.CutPrefix(line, prefix); ok {
					got[prefix] = rest
				}
			}
		case <-timeout:
			t.Fatalf("the helper did not print %v within %s", prefixes, within)
		}
	}
	return got
}

// sigkill kills the helper with SIGKILL and waits for it.
func (h *helperProcess) sigkill(t testing.TB) {
	t.Helper()
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGKILL))
	_ = h.cmd.Wait()
}

// parsePIDs parses space-separated pids.
func parsePIDs(t testing.TB, s string) []int {
	t.Helper()
	var pids []int
	for _, f := range strings.Fields(s) {
		pid, err := strconv.Atoi(f)
		require.NoError(t, err)
		pids = append(pids, pid)
	}
	return pids
}
