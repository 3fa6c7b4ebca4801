//go:build linux

package pools

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// What a tool leaves behind when its Python worker ends is found three ways (docs/reliability.md):
//
//  1. its process group: every Python worker leads a group of its own, which its children join
//     unless they call setsid() or setpgid();
//  2. its marker: every Python worker gets MarkerEnv=<instance>:<n> in its environment, which its
//     descendants inherit unless they scrub their environment;
//  3. when the program called AdoptOrphans: the orphans the Go process adopted as a child
//     subreaper that no live worker accounts for (which catches a child that did both).
//
// The lifeline watcher (watcher_linux.go) does 1 and 2 when the Go process dies by SIGKILL.

// MarkerEnv is the environment variable that marks the processes of a Python worker and of
// everything its tools start: "<instance>:<n>", where instance is random per Go process.
const MarkerEnv = "SNAKEPOOL_WORKER_MARK"

// leftoverTimeout bounds how long the kill of a worker's leftovers goes on (processes that fork
// while they are killed, or sit in an uninterruptible sleep).
const leftoverTimeout = 5 * time.Second

// instanceToken tells this Go process's markers from another snakepool's on the machine.
var instanceToken = func() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

var markerSeq atomic.Uint64

// newMarker returns the marker value of a new Python worker.
func newMarker() string {
	return instanceToken + ":" + strconv.FormatUint(markerSeq.Add(1), 10)
}

// children registers the child processes the pools start, so that they are never taken for
// orphans, and adopts orphans once AdoptOrphans was called.
var children = &childRegistry{known: map[int]bool{}, live: map[int]string{}}

type childRegistry struct {
	// starting is held shared while a child is started and registered, and exclusively by a scan
	// for orphans: a child forked but not registered yet is never taken for one.
	starting sync.RWMutex

	mu sync.Mutex
	// known are the pids of the pools' own children (os/exec reaps them), until reaped.
	known map[int]bool
	// live maps the process group of every Python worker whose process runs to its marker.
	live map[int]string
	// adopting is true while AdoptOrphans is in force.
	adopting bool
}

// start starts cmd and registers it as a known child; marker is its worker's marker ("" for a
// child that is no Python worker).
func (r *childRegistry) start(cmd *exec.Cmd, marker string) error {
	r.starting.RLock()
	defer r.starting.RUnlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.mu.Lock()
	r.known[cmd.Process.Pid] = true
	if marker != "" {
		r.live[cmd.Process.Pid] = marker
	}
	r.mu.Unlock()
	return nil
}

// reaped forgets child pid once os/exec has reaped it.
func (r *childRegistry) reaped(pid int) {
	r.mu.Lock()
	delete(r.known, pid)
	delete(r.live, pid)
	r.mu.Unlock()
}

// accountedForLocked reports whether p, an unknown child of this process, belongs to a Python worker
// that still runs: it is in its process group or carries its marker. Under r.mu.
func (r *childRegistry) accountedForLocked(p procEntry) bool {
	if _, ok := r.live[p.pgid]; ok {
		return true
	}
	mark := environValue(p.pid, MarkerEnv)
	if mark == "" {
		return false
	}
	for _, m := range r.live {
		if m == mark {
			return true
		}
	}
	return false
}

// leftovers returns the live processes left by the worker whose group is pgid and whose marker
// is marker: the members of the group, the processes carrying the marker and, while adopting,
// the adopted orphans no live worker accounts for.
func (r *childRegistry) leftovers(pgid int, marker string) []int {
	r.mu.Lock()
	adopting := r.adopting
	r.mu.Unlock()
	if adopting {
		r.starting.Lock()
		defer r.starting.Unlock()
	}
	self := os.Getpid()
	entry := MarkerEnv + "=" + marker
	var pids []int
	for _, p := range listProcs() {
		if p.zombie {
			continue
		}
		switch {
		case p.pgid == pgid, environHas(p.pid, entry, false):
			pids = append(pids, p.pid)
		case adopting && p.ppid == self:
			r.mu.Lock()
			orphan := !r.known[p.pid] && !r.accountedForLocked(p)
			r.mu.Unlock()
			if orphan {
				pids = append(pids, p.pid)
			}
		}
	}
	return pids
}

// killLeftovers SIGKILLs what the worker of group pgid and marker left (see leftovers), over
// and over until a scan finds nothing, for up to leftoverTimeout. It returns how many processes
// it killed and those that still ran at the deadline.
func (r *childRegistry) killLeftovers(pgid int, marker string) (killed int, survivors []int) {
	deadline := time.Now().Add(leftoverTimeout)
	seen := map[int]bool{}
	for {
		_ = killGroup(pgid, syscall.SIGKILL)
		pids := r.leftovers(pgid, marker)
		if len(pids) == 0 {
			return len(seen), nil
		}
		if time.Now().After(deadline) {
			return len(seen), pids
		}
		for _, pid := range pids {
			seen[pid] = true
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		r.reapAdopted()
		// SIGKILL takes effect asynchronously; look again in a moment.
		time.Sleep(5 * time.Millisecond)
	}
}

// reapAdopted reaps the zombie children of this process that the pools did not start (adopted
// orphans), each by its pid: wait4(-1) would steal the exit statuses os/exec waits for.
func (r *childRegistry) reapAdopted() {
	r.mu.Lock()
	adopting := r.adopting
	r.mu.Unlock()
	if !adopting {
		return
	}
	r.starting.Lock()
	defer r.starting.Unlock()
	self := os.Getpid()
	for _, p := range listProcs() {
		if p.ppid != self || !p.zombie {
			continue
		}
		r.mu.Lock()
		known := r.known[p.pid]
		r.mu.Unlock()
		if known {
			continue
		}
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
	}
}

// killLeftovers kills what w's tools left behind once its process has exited, and takes its
// group off the lifeline.
func (w *worker) killLeftovers() {
	killed, survivors := children.killLeftovers(w.pid, w.marker)
	if killed > 0 {
		w.log.Debug("killed the processes the python worker's tools left", slog.Int("processes", killed))
	}
	if len(survivors) > 0 {
		w.log.Error("processes started by the python worker's tools survive SIGKILL",
			slog.String("pids", fmtPIDList(survivors)), slog.Duration("tried_for", leftoverTimeout))
	}
	lifeline.unregister(w.pid)
}

func fmtPIDList(pids []int) string {
	s := ""
	for i, pid := range pids {
		if i > 0 {
			s += " "
		}
		s += strconv.Itoa(pid)
	}
	return s
}

var adoptMu sync.Mutex

// AdoptOrphans makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER): the
// processes that the pools' tools start and that outlive their parents are re-parented to this
// process instead of init, while it lives. From then on, when a Python worker ends, the pools
// also kill the adopted orphans that no live worker accounts for (by process group or marker),
// which catches a tool's child that both left the worker's process group (setsid) and scrubbed
// its environment; and this process reaps the adopted processes that exit (each by its pid, on
// SIGCHLD), so that none is left a zombie, also when it runs as PID 1 of a container.
//
// Call it once, early, in a program that starts child processes only through pools (cmd/worker
// does): a child started otherwise would be taken for an orphan, killed when a worker ends, and
// reaped before os/exec could wait for it. The returned function undoes it. Linux only.
func AdoptOrphans() (undo func(), err error) {
	adoptMu.Lock()
	defer adoptMu.Unlock()
	children.mu.Lock()
	already := children.adopting
	children.mu.Unlock()
	if already {
		return nil, fmt.Errorf("pools: AdoptOrphans: already in force")
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("pools: become a child subreaper: %w", err)
	}
	children.mu.Lock()
	children.adopting = true
	children.mu.Unlock()

	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-sigchld:
				children.reapAdopted()
			case <-done:
				return
			}
		}
	}()
	children.reapAdopted() // orphans adopted before the handler was in place
	var once sync.Once
	return func() {
		once.Do(func() {
			adoptMu.Lock()
			defer adoptMu.Unlock()
			signal.Stop(sigchld)
			close(done)
			<-stopped
			_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
			children.reapAdopted()
			children.mu.Lock()
			children.adopting = false
			children.mu.Unlock()
		})
	}, nil
}
