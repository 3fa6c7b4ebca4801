//go:build !linux

package pools

import (
	"errors"
	"syscall"
)

// sysProcAttr puts the Python process in a process group of its own. Outside Linux there is no
// parent-death signal: the Python server still exits when its stdin reaches EOF.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 0 {
		return nil
	}
	if err := syscall.Kill(-pgid, sig); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}

func residentMemory(pid int) (int64, error) {
	return 0, errors.New("resident memory is only read on Linux")
}
