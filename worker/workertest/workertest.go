// Package workertest runs a Temporal dev server and snakepool workers inside Go tests.
//
//	srv := workertest.StartDevServer(t, "/path/to/temporal")
//	w := workertest.StartWorker(t, worker.Config{
//		Temporal: worker.TemporalConfig{Address: srv.Address},
//		Pools:    []worker.PoolConfig{{Name: "math", Size: 2, Adapter: "pkg.mod:Adapter", Python: python}},
//	})
//	run, err := srv.Client(t).ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "snakepool"},
//		workflows.PipelineName, spec)
//
// Everything it starts is stopped when the test ends.
package workertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/snakepool/snakepool/worker"
)

// DevServerStartTimeout bounds how long StartDevServer waits for the frontend to answer.
const DevServerStartTimeout = 60 * time.Second

// DevServer is a `temporal server start-dev` process started for a test.
type DevServer struct {
	// Address is the frontend's host:port; Namespace is "default".
	Address   string
	Namespace string
}

// StartDevServer starts the Temporal CLI at temporalPath with testsuite.StartDevServer as a
// headless, in-memory dev server on a free loopback port, and waits until its frontend answers.
// It is stopped (SIGINT) when the test ends; its output goes to a file whose tail is logged if the
// test fails.
func StartDevServer(t testing.TB, temporalPath string) *DevServer {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "temporal-dev-server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("workertest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), DevServerStartTimeout)
	defer cancel()
	server, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  temporalPath,
		ClientOptions: &client.Options{Namespace: "default", Logger: quietLogger()},
		LogLevel:      "warn",
		LogFormat:     "json",
		Stdout:        logFile,
		Stderr:        logFile,
	})
	if err != nil {
		_ = logFile.Close()
		t.Fatalf("workertest: start the Temporal dev server %s (run `make deps`?): %v\n%s",
			temporalPath, err, tail(logPath, 4000))
	}
	server.Client().Close() // tests dial their own clients
	t.Cleanup(func() {
		stopped := make(chan error, 1)
		go func() { stopped <- server.Stop() }()
		select {
		case err := <-stopped:
			if err != nil && !isInterruptExit(err) {
				t.Errorf("workertest: stop the Temporal dev server: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("workertest: the Temporal dev server did not stop within 30s of SIGINT")
		}
		_ = logFile.Close()
		if t.Failed() {
			t.Logf("workertest: Temporal dev server output (tail):\n%s", tail(logPath, 4000))
		}
	})
	return &DevServer{Address: server.FrontendHostPort(), Namespace: "default"}
}

// isInterruptExit reports whether err is the dev server's exit status after the SIGINT that stops it.
func isInterruptExit(err error) bool {
	var exitErr *exec.ExitError
	return errors.As(err, &exitErr)
}

// Client returns a client of the dev server's default namespace, closed when the test ends.
func (s *DevServer) Client(t testing.TB) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.Address, Namespace: s.Namespace, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("workertest: connect to the dev server at %s: %v", s.Address, err)
	}
	t.Cleanup(c.Close)
	return c
}

// StartWorker starts a snakepool worker in-process with cfg and stops it when the test ends. The
// worker's logs (pools, Python and Temporal SDK included) are logged if the test fails.
func StartWorker(t testing.TB, cfg worker.Config) *worker.Worker {
	t.Helper()
	return StartWorkerWithOptions(t, cfg, worker.Options{})
}

// StartWorkerWithOptions is StartWorker with options; their Logger is replaced by the test's.
func StartWorkerWithOptions(t testing.TB, cfg worker.Config, opts worker.Options) *worker.Worker {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts.Logger = logger
	w, err := worker.Start(ctx, cfg, opts)
	if err != nil {
		t.Fatalf("workertest: start the worker: %v\nlogs:\n%s", err, logs.tail(8000))
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := w.Stop(stopCtx); err != nil {
			t.Errorf("workertest: stop the worker: %v", err)
		}
		if t.Failed() {
			t.Logf("workertest: worker logs (tail):\n%s", logs.tail(8000))
		}
	})
	return w
}

func quietLogger() sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(discard{}, nil)))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// syncBuffer is a bytes.Buffer safe for concurrent writers; it may be written after the test ends.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	data := b.buf.Bytes()
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}
