package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/snakepool/snakepool/internal/examplestest"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
	"github.com/snakepool/snakepool/workflows"
)

// harness is what every scenario shares: the worker binary, the shared dev server and its
// client, and the pids of the processes the suite started itself (never orphans).
type harness struct {
	workerBin string
	python    string
	adapters  string // chaos/testdata, the adapter's directory (on the pools' PYTHONPATH)
	temporal  string // the Temporal CLI, symlinks resolved
	srv       *workertest.DevServer
	client    client.Client
	callQueue string // the in-process CallWorkflow worker's task queue (workertest)
	full      bool

	mu      sync.Mutex
	started map[int]bool // pids of the worker processes the suite started (os/exec reaps them)
}

func newHarness(t *testing.T, full bool) *harness {
	t.Helper()
	adapters, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	temporal, err := filepath.EvalSymlinks(testenv.Temporal(t))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		workerBin: examplestest.Build(t, "./cmd/worker"),
		python:    testenv.Python(t),
		adapters:  adapters,
		temporal:  temporal,
		full:      full,
		started:   map[int]bool{},
	}
	h.srv = workertest.StartDevServer(t, testenv.Temporal(t))
	h.client = h.srv.Client(t)
	h.callQueue = workertest.StartCallWorker(t, h.client)
	return h
}

// pool is the part of a worker config that a scenario chooses: one pool of the chaos adapter.
type pool struct {
	name  string // also the scenario's Pipeline task queue, "chaos-<name>"
	size  int
	extra string // more YAML fields of the pool, indented by 4 spaces
	// workerStopTimeout is temporal.worker_stop_timeout. Default: 10s.
	workerStopTimeout time.Duration
}

func (p pool) pipelineQueue() string { return "chaos-" + p.name }

// writeConfig writes the worker config of p and returns its path.
func (h *harness) writeConfig(t *testing.T, p pool) string {
	t.Helper()
	stop := p.workerStopTimeout
	if stop == 0 {
		stop = 10 * time.Second
	}
	config := fmt.Sprintf(`temporal:
  task_queue: %s
  worker_stop_timeout: %s
pools:
  - name: %s
    size: %d
    adapter: chaos_adapter:ChaosAdapter
    python: %s
    env: {PYTHONPATH: %s}
%s`, p.pipelineQueue(), stop, p.name, p.size, h.python, h.adapters, p.extra)
	path := filepath.Join(t.TempDir(), p.name+".yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// workerProc is one snakepool-worker process.
type workerProc struct {
	*examplestest.Process
	pid      int
	instance string // the marker instance of its Python workers (pools.MarkerEnv)
	http     string // host:port of /metrics, /livez, /readyz, /healthz
}

// startWorker starts the worker binary with config against the server at address and waits
// until it is ready.
func (h *harness) startWorker(t *testing.T, config, address string) *workerProc {
	t.Helper()
	p := examplestest.Start(t, "", nil, h.workerBin, "--config", config, "--temporal-address", address,
		"--metrics-address", "127.0.0.1:0", "--log-format", "json")
	h.mu.Lock()
	h.started[p.Cmd.Process.Pid] = true
	h.mu.Unlock()
	listening := p.WaitLog(t, "HTTP endpoint listening", 2*time.Minute)
	p.WaitLog(t, worker.ReadyMessage, 2*time.Minute)
	w := &workerProc{Process: p, pid: p.Cmd.Process.Pid, http: fmt.Sprint(listening["address"])}
	for _, py := range examplestest.PythonChildren(t, w.pid) {
		if w.instance = markerInstance(py); w.instance != "" {
			break
		}
	}
	if w.instance == "" {
		t.Fatalf("chaos: no Python worker of pid %d carries %s", w.pid, "SNAKEPOOL_WORKER_MARK")
	}
	return w
}

// pythons returns the pids of the worker's live Python processes.
func (w *workerProc) pythons(t *testing.T) []int {
	return examplestest.PythonChildren(t, w.pid)
}

// kill sends SIGKILL to the worker process and waits for it to exit.
func (w *workerProc) kill(t *testing.T) time.Time {
	t.Helper()
	at := time.Now()
	if err := w.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("chaos: kill the worker: %v", err)
	}
	_ = w.Wait(t, 30*time.Second)
	return at
}

// stop sends SIGTERM to the worker process and waits (at most timeout) for it to exit; it
// returns the exit error.
func (w *workerProc) stop(t *testing.T, timeout time.Duration) error {
	t.Helper()
	if err := w.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	return w.Wait(t, timeout)
}

// get returns the status code and body of GET path on the worker's HTTP endpoint.
func (w *workerProc) get(path string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.http+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// health returns the worker's /healthz.
func (w *workerProc) health() (worker.Health, error) {
	var health worker.Health
	_, body, err := w.get("/healthz")
	if err != nil {
		return health, err
	}
	return health, json.Unmarshal([]byte(body), &health)
}

// managed returns the pids that os/exec waits for: the worker processes and the dev servers
// (children running the Temporal CLI).
func (h *harness) managed(table map[int]proc) map[int]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[int]bool{}
	for pid := range h.started {
		out[pid] = true
	}
	for _, pid := range h.devServers(table) {
		out[pid] = true
	}
	return out
}

// devServers returns the pids of the suite's children that run the Temporal CLI.
func (h *harness) devServers(table map[int]proc) []int {
	var out []int
	self := os.Getpid()
	for pid, p := range table {
		if p.ppid != self {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == h.temporal {
			out = append(out, pid)
		}
	}
	return out
}

// orphans returns the processes left behind by stopped workers: the live descendants of the
// suite (a subreaper, so that it inherits what a dead worker left) outside the subtrees of the
// running workers in live and of the dev servers, and every process anywhere that carries the
// marker instance of a stopped worker in dead. It reaps adopted zombies on the way.
func (h *harness) orphans(dead []*workerProc, live []*workerProc) []proc {
	table := procTable()
	reapAdopted(table, h.managed(table))
	prune := map[int]bool{}
	for _, w := range live {
		prune[w.pid] = true
	}
	for _, pid := range h.devServers(table) {
		prune[pid] = true
	}
	found := map[int]proc{}
	for _, p := range descendants(table, os.Getpid(), prune) {
		found[p.pid] = p
	}
	instances := map[string]bool{}
	for _, w := range dead {
		instances[w.instance] = true
	}
	for pid, p := range table {
		if p.alive() && instances[markerInstance(pid)] {
			found[pid] = p
		}
	}
	out := make([]proc, 0, len(found))
	for _, p := range found {
		out = append(out, p)
	}
	return out
}

// waitNoOrphans waits (at most bound, checking every 100ms: the processes are not the suite's to
// wait for) until no orphan of dead is left, and returns those left then and the time it took.
func (h *harness) waitNoOrphans(dead []*workerProc, live []*workerProc, bound time.Duration) ([]proc, time.Duration) {
	began := time.Now()
	var left []proc
	pollUntil(bound, 100*time.Millisecond, func() bool {
		left = h.orphans(dead, live)
		return len(left) == 0
	})
	return left, time.Since(began)
}

// startPipeline starts a Pipeline of spec on queue, with an execution timeout of bound (so
// that nothing outlives the scenario).
func (h *harness) startPipeline(t *testing.T, c client.Client, queue string, spec map[string]any, bound time.Duration) client.WorkflowRun {
	t.Helper()
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := workflows.ParseSpec(data)
	if err != nil {
		t.Fatalf("chaos: the scenario's spec is invalid: %v\n%s", err, data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       queue + "-" + uuid.NewString(),
		TaskQueue:                queue,
		WorkflowExecutionTimeout: bound,
	}, workflows.PipelineName, parsed)
	if err != nil {
		t.Fatalf("chaos: start the pipeline: %v", err)
	}
	return run
}

// persistentServer is a dev server with a database file, which a scenario stops and starts again
// on the same port.
type persistentServer struct {
	address  string
	dbFile   string
	temporal string // the Temporal CLI
	logs     *os.File
	server   *testsuite.DevServer
}

// startPersistentServer starts a dev server keeping its state in a file of the test's
// temporary directory, on a free loopback port.
func (h *harness) startPersistentServer(t *testing.T) *persistentServer {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := l.Addr().String()
	_ = l.Close()
	logs, err := os.Create(filepath.Join(dir, "temporal.log"))
	if err != nil {
		t.Fatal(err)
	}
	s := &persistentServer{address: address, dbFile: filepath.Join(dir, "temporal.db"), temporal: h.temporal, logs: logs}
	if err := s.start(); err != nil {
		t.Fatalf("chaos: start the dev server with a database file: %v", err)
	}
	t.Cleanup(func() {
		if s.server != nil {
			if err := s.stop(30 * time.Second); err != nil {
				t.Errorf("chaos: %v", err)
			}
		}
		_ = logs.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logs.Name())
			if len(data) > 4000 {
				data = data[len(data)-4000:]
			}
			t.Logf("dev server (database file) output, tail:\n%s", data)
		}
	})
	return s
}

func (s *persistentServer) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), workertest.DevServerStartTimeout)
	defer cancel()
	server, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  s.temporal,
		ClientOptions: &client.Options{HostPort: s.address, Namespace: "default", Logger: quiet},
		DBFilename:    s.dbFile,
		LogLevel:      "warn",
		LogFormat:     "json",
		Stdout:        s.logs,
		Stderr:        s.logs,
	})
	if err != nil {
		return err
	}
	server.Client().Close()
	s.server = server
	return nil
}

// stop sends SIGINT to the server's process (testsuite's Stop) and waits at most timeout.
func (s *persistentServer) stop(timeout time.Duration) error {
	done := make(chan error, 1)
	server := s.server
	go func() { done <- server.Stop() }()
	select {
	case err := <-done:
		s.server = nil
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) { // an exit status after SIGINT is a stop
			return fmt.Errorf("stop the dev server: %w", err)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("the dev server did not stop within %s of SIGINT", timeout)
	}
}

// dial returns a client of s, closed when the test ends.
func (s *persistentServer) dial(t *testing.T) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.address, Namespace: "default", Logger: quiet})
	if err != nil {
		t.Fatalf("chaos: dial %s: %v", s.address, err)
	}
	t.Cleanup(c.Close)
	return c
}

// quiet drops the SDK's log records: the worker's own logs are what a failed scenario shows.
var quiet = sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
