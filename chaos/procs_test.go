package chaos

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/snakepool/snakepool/pools"
)

// proc is one process of the machine, read from /proc.
type proc struct {
	pid, ppid int
	state     byte   // R, S, D, Z, ...
	start     uint64 // start time in clock ticks since boot: tells a process from a later one with its pid
	cmdline   string
}

func (p proc) String() string {
	return fmt.Sprintf("%d (parent %d, %c) %s", p.pid, p.ppid, p.state, p.cmdline)
}

// readProc reads pid's /proc/PID/stat and cmdline; ok is false when pid is gone.
func readProc(pid int) (proc, bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return proc{}, false
	}
	// The command, in parentheses, may hold spaces and parentheses: the fields follow the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return proc{}, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(fields[1])
	start, _ := strconv.ParseUint(fields[19], 10, 64)
	cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return proc{
		pid: pid, ppid: ppid, state: fields[0][0], start: start,
		cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")),
	}, true
}

// procTable returns every process of the machine by pid.
func procTable() map[int]proc {
	entries, _ := os.ReadDir("/proc")
	table := make(map[int]proc, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			table[pid] = p
		}
	}
	return table
}

// alive reports whether p is a live (not zombie) process.
func (p proc) alive() bool { return p.state != 'Z' && p.state != 'X' }

// descendants returns the live descendants of root in table, not descending into the subtrees of
// the pids in prune (nor counting them).
func descendants(table map[int]proc, root int, prune map[int]bool) []proc {
	kids := map[int][]int{}
	for pid, p := range table {
		kids[p.ppid] = append(kids[p.ppid], pid)
	}
	var out []proc
	frontier := []int{root}
	for len(frontier) > 0 {
		pid := frontier[len(frontier)-1]
		frontier = frontier[:len(frontier)-1]
		for _, kid := range kids[pid] {
			if prune[kid] {
				continue
			}
			if p := table[kid]; p.alive() {
				out = append(out, p)
			}
			frontier = append(frontier, kid)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// markerInstance returns the instance part of the pools' marker (pools.MarkerEnv,
// "<instance>:<n>") in pid's environment, "" when it has none.
func markerInstance(pid int) string {
	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		return ""
	}
	for _, entry := range bytes.Split(environ, []byte{0}) {
		if value, ok := bytes.CutPrefix(entry, []byte(pools.MarkerEnv+"=")); ok {
			instance, _, _ := bytes.Cut(value, []byte(":"))
			return string(instance)
		}
	}
	return ""
}

// becomeSubreaper makes this process a child subreaper (prctl(PR_SET_CHILD_SUBREAPER)): a process
// whose parent dies below it is re-parented to it instead of init, so that whatever a stopped
// worker left behind is still found as a descendant of the suite.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// reapAdopted reaps the zombies among the suite's children that os/exec does not wait for (the
// orphans it adopted as a subreaper), each by its pid: wait4(-1) would steal the exit statuses
// os/exec waits for.
func reapAdopted(table map[int]proc, managed map[int]bool) {
	self := os.Getpid()
	for pid, p := range table {
		if p.ppid == self && !p.alive() && !managed[pid] {
			var status unix.WaitStatus
			_, _ = unix.Wait4(pid, &status, unix.WNOHANG, nil)
		}
	}
}

// pollUntil calls done every interval until it returns true or timeout passes, and reports
// whether it did. For states of processes that are not the caller's children, which offer no
// event to wait for.
func pollUntil(timeout, interval time.Duration, done func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if done() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}
