//go:build linux

package pools

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The lifeline watcher covers the one exit the Go process cannot clean up after: its own death by
// SIGKILL (or a crash of the runtime). Its Python workers die then by their parent-death signal,
// but not what their tools started. So while a pool runs, a small process (this same binary,
// re-executed through /proc/self/exe with watcherEnv set, which init below turns into the
// watcher) holds the read end of a pipe whose write end only the Go process holds. The Go
// process writes "+PGID" and "-PGID" lines as Python workers start and end. When the pipe reaches
// end-of-file (the Go process is gone, or its last pool stopped) the watcher kills every
// registered process group and every process carrying this Go process's marker, repeatedly until
// none is left (bounded), and exits.

// watcherEnv holds the instance token in the watcher's environment; set, it makes this binary
// the watcher.
const watcherEnv = "SNAKEPOOL_INTERNAL_LIFELINE_WATCHER"

// watcherSweepTimeout bounds the watcher's kill loop.
const watcherSweepTimeout = 10 * time.Second

func init() {
	if token := os.Getenv(watcherEnv); token != "" {
		os.Exit(runWatcher(token, os.NewFile(3, "lifeline")))
	}
}

// runWatcher is the watcher's main: it reads the registrations until end-of-file, then sweeps.
func runWatcher(token string, in *os.File) int {
	// Signals sent to the whole group of the Go process, or from a terminal, must not end the
	// watcher before the Go process: only end-of-file does.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	if in == nil {
		fmt.Fprintln(os.Stderr, "snakepool lifeline watcher: no pipe on fd 3")
		return 2
	}
	groups := map[int]bool{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 1 {
			continue
		}
		switch line[0] {
		case '+':
			groups[pgid] = true
		case '-':
			delete(groups, pgid)
		}
	}
	if survivors := sweep(token, groups); len(survivors) > 0 {
		fmt.Fprintf(os.Stderr, "snakepool lifeline watcher: processes %s survive SIGKILL\n", fmtPIDList(survivors))
		return 1
	}
	return 0
}

// sweep kills the registered process groups and the processes marked by instance token, until a
// scan finds none or watcherSweepTimeout has passed; it returns the survivors.
func sweep(token string, groups map[int]bool) []int {
	deadline := time.Now().Add(watcherSweepTimeout)
	prefix := MarkerEnv + "=" + token + ":"
	for {
		for pgid := range groups {
			_ = killGroup(pgid, syscall.SIGKILL)
		}
		var pids []int
		for _, p := range listProcs() {
			if !p.zombie && (groups[p.pgid] || environHas(p.pid, prefix, true)) {
				pids = append(pids, p.pid)
			}
		}
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond) // SIGKILL takes effect asynchronously
	}
}

// lifeline is this process's side of the watcher: it runs one watcher while at least one pool
// runs, and tells it the process groups of the Python workers.
var lifeline = &lifelineClient{groups: map[int]bool{}}

// watcherRestartDelay is the pause before a watcher that died is replaced.
const watcherRestartDelay = time.Second

type lifelineClient struct {
	mu     sync.Mutex
	users  int          // pools running
	groups map[int]bool // registered process groups
	proc   *watcherProc // the running watcher, or nil
	log    *slog.Logger
}

type watcherProc struct {
	cmd    *exec.Cmd
	pipe   *os.File // the write end
	exited chan struct{}
}

// acquire is called when a pool starts: the first one starts the watcher.
func (l *lifelineClient) acquire(log *slog.Logger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users++
	if l.users == 1 {
		l.log = log
		l.startLocked()
	}
}

// release is called when a pool has stopped: after the last one the watcher gets end-of-file,
// sweeps (nothing should be left) and exits; release waits for it, bounded.
func (l *lifelineClient) release() {
	l.mu.Lock()
	l.users--
	if l.users > 0 {
		l.mu.Unlock()
		return
	}
	p := l.proc
	l.proc = nil
	log := l.log
	l.mu.Unlock()
	if p == nil {
		return
	}
	p.pipe.Close()
	t := time.NewTimer(watcherSweepTimeout + 5*time.Second)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		log.Error("the lifeline watcher did not exit after its pipe was closed", slog.Int("pid", p.cmd.Process.Pid))
	}
}

// startLocked starts a watcher and tells it the registered groups. A watcher that cannot start
// is logged: the pools still run, only a SIGKILL of this process would leave tool processes.
// Under l.mu.
func (l *lifelineClient) startLocked() {
	r, w, err := os.Pipe()
	if err != nil {
		l.log.Error("cannot start the lifeline watcher: tool processes would outlive a SIGKILL of this process", slog.Any("error", err))
		return
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"snakepool-lifeline-watcher"}
	cmd.Env = []string{watcherEnv + "=" + instanceToken}
	cmd.ExtraFiles = []*os.File{r} // fd 3
	cmd.Stderr = os.Stderr
	// A group of its own: a signal to this process's group (a terminal's ^C) does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = children.start(cmd, "")
	r.Close()
	if err != nil {
		w.Close()
		l.log.Error("cannot start the lifeline watcher: tool processes would outlive a SIGKILL of this process", slog.Any("error", err))
		return
	}
	p := &watcherProc{cmd: cmd, pipe: w, exited: make(chan struct{})}
	l.proc = p
	for pgid := range l.groups {
		l.sendLocked('+', pgid)
	}
	go func() {
		err := cmd.Wait()
		children.reaped(cmd.Process.Pid)
		close(p.exited)
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.proc != p {
			return // released
		}
		l.proc = nil
		p.pipe.Close()
		l.log.Error("the lifeline watcher exited; starting another", slog.Any("error", err),
			slog.Duration("in", watcherRestartDelay))
		time.AfterFunc(watcherRestartDelay, func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.users > 0 && l.proc == nil {
				l.startLocked()
			}
		})
	}()
}

// register and unregister tell the watcher a Python worker's process group.
func (l *lifelineClient) register(pgid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.groups[pgid] = true
	l.sendLocked('+', pgid)
}

func (l *lifelineClient) unregister(pgid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.groups[pgid] {
		return
	}
	delete(l.groups, pgid)
	l.sendLocked('-', pgid)
}

// sendLocked writes one registration line, never blocking for long (a watcher that stopped
// reading must not hold up the pools). Under l.mu.
func (l *lifelineClient) sendLocked(op byte, pgid int) {
	if l.proc == nil {
		return
	}
	_ = l.proc.pipe.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := l.proc.pipe.Write([]byte(string(op) + strconv.Itoa(pgid) + "\n")); err != nil {
		l.log.Warn("cannot tell the lifeline watcher a process group", slog.Int("pgid", pgid), slog.Any("error", err))
	}
}
