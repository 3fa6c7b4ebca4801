//go:build linux

package pools

import (
	"bytes"
	"os"
	"strconv"
)

// procEntry is one process as /proc/PID/stat shows it.
type procEntry struct {
	pid, ppid, pgid int
	// zombie is true for a process that has exited and waits to be reaped (state Z or X): it
	// runs no code any more.
	zombie bool
}

// readProc reads /proc/PID/stat; false when the process is gone.
func readProc(pid int) (procEntry, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procEntry{}, false
	}
	// pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so parse after the
	// last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procEntry{}, false
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 3 {
		return procEntry{}, false
	}
	ppid, err1 := strconv.Atoi(string(fields[1]))
	pgid, err2 := strconv.Atoi(string(fields[2]))
	if err1 != nil || err2 != nil {
		return procEntry{}, false
	}
	state := fields[0]
	return procEntry{
		pid:    pid,
		ppid:   ppid,
		pgid:   pgid,
		zombie: len(state) == 1 && (state[0] == 'Z' || state[0] == 'X'),
	}, true
}

// listProcs returns every process of /proc (of this PID namespace), except this one.
func listProcs() []procEntry {
	dir, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer dir.Close()
	names, _ := dir.Readdirnames(-1)
	self := os.Getpid()
	out := make([]procEntry, 0, len(names))
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid == self {
			continue
		}
		if e, ok := readProc(pid); ok {
			out = append(out, e)
		}
	}
	return out
}

// environHas reports whether process pid's environment (as it was at its exec) holds the entry
// "KEY=VALUE" exactly, or, with prefix, an entry that starts with entry. A process whose
// environment cannot be read (gone, a zombie, another user's) does not.
func environHas(pid int, entry string, prefix bool) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	want := []byte(entry)
	for len(env) > 0 {
		var kv []byte
		kv, env, _ = bytes.Cut(env, []byte{0})
		if bytes.Equal(kv, want) || (prefix && bytes.HasPrefix(kv, want)) {
			return true
		}
	}
	return false
}

// environValue returns the value of variable key in process pid's environment, or "".
func environValue(pid int, key string) string {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return ""
	}
	prefix := []byte(key + "=")
	for len(env) > 0 {
		var kv []byte
		kv, env, _ = bytes.Cut(env, []byte{0})
		if bytes.HasPrefix(kv, prefix) {
			return string(kv[len(prefix):])
		}
	}
	return ""
}
