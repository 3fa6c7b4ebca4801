package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// event is one line the chaos adapter's tools append to their record file
// (chaos/testdata/chaos_adapter.py).
type event struct {
	Ev         string     `json:"ev"` // "start" or "end"
	WorkflowID string     `json:"workflow_id"`
	ActivityID string     `json:"activity_id"`
	Attempt    int        `json:"attempt"`
	Item       int        `json:"item"`
	PID        int        `json:"pid"`
	T          float64    `json:"t"` // Unix time in seconds
	Children   [][2]int64 `json:"children,omitempty"`
}

func (e event) key() string { return e.WorkflowID + "/" + e.ActivityID }

func (e event) time() time.Time {
	sec, frac := math.Modf(e.T)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// execution is one run of a tool: its start event and, once it returned, its end.
type execution struct {
	start event
	end   *event
}

// child is a process a tool started, as the tool recorded it.
type child struct {
	pid   int
	start uint64 // its start time in clock ticks (0: it was gone already)
}

// recordLog reads a record file as the tools append to it. refresh reads what is new; wait
// blocks until the file changes (inotify), so that the suite reacts to the tools' progress
// without polling.
type recordLog struct {
	path string

	mu      sync.Mutex
	offset  int64
	partial []byte
	events  []event
	notify  int // inotify descriptor watching path's directory
}

// newRecordLog creates an empty record file in the test's temporary directory.
func newRecordLog(t *testing.T, name string) *recordLog {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatalf("chaos: %v", err)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("chaos: inotify: %v", err)
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		_ = unix.Close(fd)
		t.Fatalf("chaos: inotify watch %s: %v", path, err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	return &recordLog{path: path, notify: fd}
}

// refresh reads the lines appended since the last call.
func (r *recordLog) refresh() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := os.Open(r.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(r.offset, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	r.offset += int64(len(data))
	data = append(r.partial, data...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		var e event
		if err := json.Unmarshal(data[:i], &e); err != nil {
			return fmt.Errorf("record file %s: %w: %q", r.path, err, data[:i])
		}
		r.events = append(r.events, e)
		data = data[i+1:]
	}
	r.partial = append([]byte(nil), data...)
	return nil
}

// wait blocks until the file was written to, or at most timeout.
func (r *recordLog) wait(timeout time.Duration) {
	fds := []unix.PollFd{{Fd: int32(r.notify), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, int(timeout.Milliseconds())); err != nil || n == 0 {
		return
	}
	buf := make([]byte, 4096)
	for {
		if _, err := unix.Read(r.notify, buf); err != nil {
			return // EAGAIN: drained
		}
	}
}

// waitFor refreshes the log at each change until cond holds for its executions, or timeout
// passes; it reports whether cond held.
func (r *recordLog) waitFor(timeout time.Duration, cond func(execs []execution) bool) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		if err := r.refresh(); err != nil {
			return false, err
		}
		if cond(r.executions()) {
			return true, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		r.wait(min(left, 200*time.Millisecond)) // a change, or time for conditions on age
	}
}

// executions pairs the events read so far: one execution per start event, with its end event if
// the tool returned. In the order of the start events.
func (r *recordLog) executions() []execution {
	r.mu.Lock()
	defer r.mu.Unlock()
	type runID struct {
		key          string
		attempt, pid int
	}
	var out []execution
	open := map[runID]int{}
	for _, e := range r.events {
		id := runID{e.key(), e.Attempt, e.PID}
		switch e.Ev {
		case "start":
			open[id] = len(out)
			out = append(out, execution{start: e})
		case "end":
			if i, ok := open[id]; ok {
				end := e
				out[i].end = &end
				delete(open, id)
			}
		}
	}
	return out
}

// children returns every process the tools recorded they started.
func (r *recordLog) children() []child {
	var out []child
	for _, x := range r.executions() {
		for _, c := range x.start.Children {
			out = append(out, child{pid: int(c[0]), start: uint64(c[1])})
		}
	}
	return out
}

// ended counts the executions that returned.
func ended(execs []execution) int {
	n := 0
	for _, x := range execs {
		if x.end != nil {
			n++
		}
	}
	return n
}
