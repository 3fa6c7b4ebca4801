package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snakepool/snakepool/internal/testenv"
)

// result is what one in-process run of the command gave.
type result struct {
	code           int
	stdout, stderr string
}

// session runs the command in-process, as main does, with an interrupt channel the test drives.
type session struct {
	interrupts chan os.Signal
	stdout     *syncBuffer
	stderr     *syncBuffer
	exited     chan int // receives the code of e.exit (a second Ctrl-C)
	env        *env
}

func newSession(getenv func(string) string) *session {
	s := &session{
		interrupts: make(chan os.Signal, 2),
		stdout:     newSyncBuffer(),
		stderr:     newSyncBuffer(),
		exited:     make(chan int, 1),
	}
	if getenv == nil {
		getenv = func(string) string { return "" } // no VIRTUAL_ENV and the like from the test's shell
	}
	s.env = &env{stdout: s.stdout, stderr: s.stderr, getenv: getenv, interrupts: s.interrupts,
		exit: func(code int) { s.exited <- code }}
	return s
}

// runCLI runs `snakepool args...` in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	s := newSession(nil)
	code := s.env.run(args)
	r := result{code: code, stdout: s.stdout.String(), stderr: s.stderr.String()}
	t.Logf("snakepool %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// syncBuffer is an io.Writer whose content a test can wait for.
type syncBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits (at most timeout) until the buffer contains s.
func (b *syncBuffer) waitFor(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		b.mu.Lock()
		found, changed := strings.Contains(b.b.String(), s), b.changed
		b.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %q within %s in:\n%s", s, timeout, b.String())
		}
	}
}

// testdata is the absolute path of this package's testdata directory (the --dir of its adapters).
func testdata(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeConfig writes a worker config into a temporary directory and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "snakepool.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// python is the interpreter of the tests, with the snakepool package.
func python(t *testing.T) string { return testenv.Python(t) }

// squeeze collapses runs of spaces, so that a test can match a table's line.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }
