package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
)

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("pools:\n  - name: m\n    sise: 1\n"), 0o600))
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"help", []string{"-h"}, 0, "usage: snakepool-worker"},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"extra argument", []string{"extra"}, 2, "unexpected arguments: extra"},
		{"bad log level", []string{"--log-level", "loud"}, 2, "--log-level"},
		{"bad log format", []string{"--log-format", "xml"}, 2, "--log-format must be text or json"},
		{"missing config", []string{"--config", filepath.Join(dir, "missing.yaml")}, 1, "missing.yaml"},
		{"invalid config", []string{"--config", bad}, 1, "bad.yaml: yaml: unmarshal errors:\n  line 3: field sise not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			assert.Equal(t, tt.wantCode, run(tt.args, &stderr))
			assert.Contains(t, stderr.String(), tt.wantStderr)
		})
	}
}

// readyWriter is the worker's stderr; ready is closed when the ready line has been written.
type readyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	once  sync.Once
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), worker.ReadyMessage) {
		w.once.Do(func() { close(w.ready) })
	}
	return n, err
}

func (w *readyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestRunsUntilSIGTERM runs the worker command against a real dev server with a real pool, then
// sends the process SIGTERM and expects a clean stop.
func TestRunsUntilSIGTERM(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	config := filepath.Join(t.TempDir(), "snakepool.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `
temporal:
  worker_stop_timeout: 1s
pools:
  - name: math
    size: 1
    adapter: snakepool.examples.showcase:ShowcaseAdapter
    python: %s
`, testenv.Python(t)), 0o600))

	stderr := &readyWriter{ready: make(chan struct{})}
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--config", config, "--temporal-address", srv.Address, "--log-format", "json"}, stderr)
	}()

	select {
	case <-stderr.ready:
	case code := <-done:
		t.Fatalf("the worker exited with %d before it was ready:\n%s", code, stderr)
	case <-time.After(time.Minute):
		t.Fatalf("the worker was not ready within a minute:\n%s", stderr)
	}
	assert.Contains(t, stderr.String(), `"task_queue":"snakepool.math"`)

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case code := <-done:
		assert.Equal(t, 0, code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker did not stop within 30s of SIGTERM:\n%s", stderr)
	}
	assert.Contains(t, stderr.String(), "snakepool worker stopped")
}
