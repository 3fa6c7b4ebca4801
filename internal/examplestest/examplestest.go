// Package examplestest runs the repository's programs the way a user does, for the tests of the
// examples and of the docs: it builds a command of this module into a temporary directory, runs it
// as a child process with its output captured line by line, and finds the processes it started,
// so that a test can check that none outlives it.
package examplestest

import (
	"bufio"
	"encoding/json"
	"io"
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

	"github.com/snakepool/snakepool/internal/testenv"
)

// Build builds the main package pkg of this module (e.g. "./cmd/worker") into the test's temporary
// directory and returns the binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = testenv.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("examplestest: go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Config copies the config file rel (relative to the repository root, e.g. "examples/ml.yaml")
// into the test's temporary directory with its pools' `python: ../.venv/bin/python` (or
// ../../.venv/bin/python, and so on) replaced by
// the interpreter the tests use, and the relative `dir:` of its pools made absolute, so that the
// copy behaves like the original wherever the tests' interpreter is. It returns the copy's path.
func Config(t testing.TB, rel string) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatalf("examplestest: %v", err)
	}
	if !venvPython.Match(data) {
		t.Fatalf("examplestest: %s names no `python: ../.venv/bin/python` to replace", rel)
	}
	text := venvPython.ReplaceAllLiteralString(string(data), "python: "+testenv.Python(t))
	base := filepath.Dir(filepath.Join(root, rel))
	text = dirField.ReplaceAllStringFunc(text, func(field string) string {
		m := dirField.FindStringSubmatch(field)
		if filepath.IsAbs(m[2]) {
			return field
		}
		return m[1] + filepath.Join(base, m[2])
	})
	path := filepath.Join(t.TempDir(), filepath.Base(rel))
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatalf("examplestest: %v", err)
	}
	return path
}

// venvPython is a pool's python field naming the repository's .venv.
var venvPython = regexp.MustCompile(`python: (\.\./)+\.venv/bin/python`)

// dirField is a pool's `dir:` field in a YAML config: the text before the value, and the value.
var dirField = regexp.MustCompile(`(?m)^(\s*(?:- )?dir: )([^\s#]+)`)

// Process is a command running as a child of the test, its stdout and stderr captured.
type Process struct {
	Cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and its output is read
	err  error         // cmd.Wait's, once done is closed

	mu      sync.Mutex
	lines   []string // stderr and stdout lines, in arrival order
	stdout  strings.Builder
	changed chan struct{}
}

// Start starts bin with args in dir (the repository root when empty) and env added to the test's
// environment. The process gets SIGKILL when the test binary dies, and when the test ends if it
// still runs; its output is logged if the test failed.
func Start(t testing.TB, dir string, env []string, bin string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = testenv.RepoRoot(t)
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("examplestest: %v", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("examplestest: %v", err)
	}
	p := &Process{Cmd: cmd, done: make(chan struct{}), changed: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("examplestest: start %s: %v", bin, err)
	}
	var readers sync.WaitGroup
	read := func(r io.Reader, isStdout bool) {
		defer readers.Done()
		scanner := bufio.NewScanner(r)
		scanner.Buffer(make([]byte, 1<<20), 4<<20)
		for scanner.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, scanner.Text())
			if isStdout {
				p.stdout.WriteString(scanner.Text() + "\n")
			}
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
	}
	readers.Add(2)
	go read(stdout, true)
	go read(stderr, false)
	go func() {
		readers.Wait()
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), p.Output())
		}
	})
	return p
}

// Output is everything the process wrote so far, stdout and stderr interleaved by line.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Stdout is what the process wrote on stdout so far.
func (p *Process) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// Lines is the number of output lines so far: a mark for WaitLineFrom.
func (p *Process) Lines() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// WaitLine waits (at most timeout) for an output line for which match is true, and returns it.
func (p *Process) WaitLine(t testing.TB, what string, timeout time.Duration, match func(line string) bool) string {
	t.Helper()
	return p.WaitLineFrom(t, 0, what, timeout, match)
}

// WaitLineFrom is WaitLine among the lines after the first from.
func (p *Process) WaitLineFrom(t testing.TB, from int, what string, timeout time.Duration, match func(line string) bool) string {
	t.Helper()
	deadline := time.After(timeout)
	seen := from
	for {
		p.mu.Lock()
		lines, changed := p.lines[seen:], p.changed
		p.mu.Unlock()
		for _, line := range lines {
			seen++
			if match(line) {
				return line
			}
		}
		select {
		case <-changed:
		case <-p.done:
			t.Fatalf("examplestest: %s exited (%v) before %s", filepath.Base(p.Cmd.Path), p.err, what)
		case <-deadline:
			t.Fatalf("examplestest: no %s within %s", what, timeout)
		}
	}
}

// WaitLog waits for a JSON log line (the worker's --log-format json) whose msg is msg, and
// returns it decoded.
func (p *Process) WaitLog(t testing.TB, msg string, timeout time.Duration) map[string]any {
	t.Helper()
	return p.WaitLogFrom(t, 0, msg, timeout)
}

// WaitLogFrom is WaitLog among the lines after the first from.
func (p *Process) WaitLogFrom(t testing.TB, from int, msg string, timeout time.Duration) map[string]any {
	t.Helper()
	var record map[string]any
	p.WaitLineFrom(t, from, "log "+strconv.Quote(msg), timeout, func(line string) bool {
		record = nil
		return json.Unmarshal([]byte(line), &record) == nil && record["msg"] == msg
	})
	return record
}

// Wait waits (at most timeout) for the process to exit and returns its exit error.
func (p *Process) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("examplestest: %s did not exit within %s", filepath.Base(p.Cmd.Path), timeout)
		return nil
	}
}

// PythonChildren returns the pids of the live snakepool Python servers whose parent is pid.
func PythonChildren(t testing.TB, pid int) []int {
	t.Helper()
	var out []int
	for _, child := range Children(t, pid) {
		cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(child), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), "snakepool.server") {
			out = append(out, child)
		}
	}
	return out
}

// Children returns the pids of the live processes whose parent is pid.
func Children(t testing.TB, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("examplestest: %v", err)
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if parent, ok := parentOf(child); ok && parent == pid {
			out = append(out, child)
		}
	}
	return out
}

// parentOf reads the parent pid of pid from /proc/PID/stat (whose second field, the command in
// parentheses, may hold spaces).
func parentOf(pid int) (int, bool) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 2 || fields[0] == "Z" {
		return 0, false // a zombie has exited
	}
	parent, err := strconv.Atoi(fields[1])
	return parent, err == nil
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	_, ok := parentOf(pid)
	return ok
}

// WaitGone waits (at most timeout, polling every 50ms: the processes are not the test's children,
// so there is nothing to wait on) until none of pids is alive, and fails the test naming those
// still alive.
func WaitGone(t testing.TB, pids []int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, pid := range pids {
			if alive(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("examplestest: processes %v still run %s after their parent ended", left, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
