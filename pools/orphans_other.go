//go:build !linux

package pools

import (
	"errors"
	"log/slog"
	"os/exec"
	"strconv"
	"sync/atomic"
)

// MarkerEnv is the environment variable that marks the processes of a Python worker (Linux only
// looks for it).
const MarkerEnv = "SNAKEPOOL_WORKER_MARK"

var markerSeq atomic.Uint64

func newMarker() string { return strconv.FormatUint(markerSeq.Add(1), 10) }

// Outside Linux only the process group is killed: there is no /proc to find marked processes,
// no subreaper and no lifeline watcher.
type childRegistry struct{}

var children = &childRegistry{}

func (*childRegistry) start(cmd *exec.Cmd, _ string) error { return cmd.Start() }
func (*childRegistry) reaped(int)                          {}

func (w *worker) killLeftovers() { w.kill() }

type lifelineClient struct{}

var lifeline = &lifelineClient{}

func (*lifelineClient) acquire(*slog.Logger) {}
func (*lifelineClient) release()             {}
func (*lifelineClient) register(int)         {}
func (*lifelineClient) unregister(int)       {}

// AdoptOrphans is only available on Linux.
func AdoptOrphans() (undo func(), err error) {
	return nil, errors.New("pools: AdoptOrphans needs Linux (PR_SET_CHILD_SUBREAPER)")
}
