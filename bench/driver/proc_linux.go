//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// memory is what /proc says of one process's memory, in bytes.
type memory struct{ rss, pss int64 }

// childPIDs lists the live child processes of this process that are the pools' Python processes
// (`python -m snakepool.server`; the pools' lifeline watcher is a child too, and is left out).
func childPIDs() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid != self {
			continue
		}
		if cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && bytes.Contains(cmdline, []byte("snakepool.server")) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// readMemory reads VmRSS from /proc/PID/status and Pss from /proc/PID/smaps_rollup.
func readMemory(pid int) (memory, error) {
	var m memory
	var err error
	dir := "/proc/" + strconv.Itoa(pid)
	if m.rss, err = kibField(dir+"/status", "VmRSS:"); err != nil {
		return m, err
	}
	if m.pss, err = kibField(dir+"/smaps_rollup", "Pss:"); err != nil {
		return m, err
	}
	return m, nil
}

// kibField returns the "<name> N kB" line of a /proc file, in bytes.
func kibField(path, name string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			kib, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %s: %w", path, name, err)
			}
			return kib * 1024, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s line", path, name)
}
