package pools

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// workerState is where a worker is in its life; it is guarded by Pool.mu.
type workerState int

const (
	// stateReady: routable, takes calls.
	stateReady workerState = iota
	// stateDraining: replaced or being recycled; finishes its in-flight calls, takes no new ones.
	stateDraining
	// stateStopping: the pool is stopping it on purpose; its exit is not a crash.
	stateStopping
	// stateExited: its process is gone.
	stateExited
)

func (s workerState) String() string {
	switch s {
	case stateReady:
		return "ready"
	case stateDraining:
		return "draining"
	case stateStopping:
		return "stopping"
	default:
		return "exited"
	}
}

// maxRecvMessage bounds a result the Go side accepts (the Python server has its own limit).
const maxRecvMessage = 1 << 30

// worker is one Python process and its two channels (calls.go, control.go).
type worker struct {
	pool  *Pool
	id    string
	slot  int // stable index in [0, Size) for metrics; a replacement takes its predecessor's
	slots int // calls it runs at once
	log   *slog.Logger

	cmd       *exec.Cmd
	pid       int
	marker    string // MarkerEnv's value in its environment (and its tools')
	readEnds  []*os.File
	readers   sync.WaitGroup
	calls     net.Conn // the Go end of the call channel (calls.go)
	control   *control // the Go end of the control channel, and the worker's lifeline (control.go)
	session   *session // serves calls; set before the worker takes calls
	describe  *bridgev1.DescribeResponse
	spawnedAt time.Time // when the process was started
	startedAt time.Time // when it was ready
	stderr    lineTail

	// exited is closed once the process has been reaped; exitState is set before.
	exited    chan struct{}
	exitState *os.ProcessState
	// ctx is cancelled when the process exits, which ends every stream to it at once.
	ctx    context.Context
	cancel context.CancelFunc

	// Jittered recycle limits, fixed at start (zero: none).
	ttl         time.Duration
	maxRequests int
	maxMemory   int64

	// Guarded by pool.mu.
	state    workerState
	dead     bool // its process has exited (set at once, before the monitor sees it)
	inflight int  // calls running on it
	stuck    int  // abandoned calls whose Python thread may still run (thread profile)
	requests int  // calls it has started
	// replaced is true once a replacement has been started for it (recycle, or after a kill
	// that the pool replaces itself); then its exit needs no other replacement.
	replaced bool
	// exitReason says why the pool ended it on purpose (e.g. "unhealthy"), empty for a crash.
	exitReason string
	// recycling is true once a recycle was asked for (reason recycleReason).
	recycling     bool
	recycleReason string

	// recycleCh asks the worker's monitor to recycle it (buffered, one pending request).
	recycleCh chan string
	// drained is closed (under pool.mu, once: drainedSent) when the worker, draining, has no
	// call left; its monitor then stops it.
	drained     chan struct{}
	drainedSent bool

	closeOnce sync.Once
}

// free returns how many more calls w can take now (under pool.mu).
func (w *worker) free() int {
	if w.state != stateReady || w.dead {
		return 0
	}
	return w.slots - w.inflight - w.stuck
}

// startWorker starts one Python worker and returns it once it has answered Describe, or an error
// (an *AdapterError when the adapter cannot be loaded). ctx bounds the whole start.
func (p *Pool) startWorker(ctx context.Context, slot int) (*worker, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.StartTimeout)
	defer cancel()

	id := fmt.Sprintf("%s-%d", p.opts.Name, p.workerSeq.Add(1))
	w := &worker{
		pool:      p,
		id:        id,
		slot:      slot,
		slots:     p.opts.ThreadsPerWorker,
		exited:    make(chan struct{}),
		recycleCh: make(chan string, 1),
		drained:   make(chan struct{}),
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.log = p.log.With(slog.String("worker", id))
	device, hasDevice := p.opts.Device(slot)
	if hasDevice {
		w.log = w.log.With(slog.Int("slot", slot), slog.String("device", device))
		p.metrics.workerDevice(slot, device)
	}

	if err := w.spawn(); err != nil {
		w.cancel()
		w.cleanup()
		return nil, fmt.Errorf("pools: pool %q: start worker %s: %w", p.opts.Name, id, err)
	}
	if err := w.connect(ctx); err != nil {
		w.stop(0)
		w.cleanup()
		var ae *AdapterError
		if errors.As(err, &ae) {
			ae.Pool, ae.Adapter = p.opts.Name, p.opts.Adapter
			return nil, ae
		}
		var pe *ProtocolMismatchError
		if errors.As(err, &pe) {
			pe.Pool, pe.Python = p.opts.Name, p.opts.Python
			return nil, pe
		}
		return nil, fmt.Errorf("pools: pool %q: start worker %s (pid %d): %w", p.opts.Name, id, w.pid, err)
	}
	w.startedAt = time.Now()
	w.setLimits(p.opts)
	level := slog.LevelDebug
	if hasDevice {
		level = slog.LevelInfo // which process has which device is worth a line
	}
	w.log.Log(ctx, level, "python worker ready", slog.Int("pid", w.pid),
		slog.Duration("ttl", w.ttl), slog.Int("max_requests", w.maxRequests), slog.Int64("max_memory", w.maxMemory))
	return w, nil
}

// setLimits draws the worker's jittered recycle limits.
func (w *worker) setLimits(o Options) {
	lower := func() float64 { return 1 - o.RecycleJitter*rand.Float64() }
	if o.MaxWorkerTTL > 0 {
		w.ttl = time.Duration(float64(o.MaxWorkerTTL) * lower())
	}
	if o.MaxRequestsPerWorker > 0 {
		w.maxRequests = max(1, int(float64(o.MaxRequestsPerWorker)*lower()))
	}
	if o.MaxWorkerMemory > 0 {
		w.maxMemory = int64(float64(o.MaxWorkerMemory) * lower())
	}
}

// spawn creates the pipes and the channels and starts the Python process.
func (w *worker) spawn() (err error) {
	o := w.pool.opts

	var childEnds []*os.File
	defer func() {
		for _, f := range childEnds {
			f.Close()
		}
	}()
	pipe := func() (r, wr *os.File, err error) {
		r, wr, err = os.Pipe()
		if err != nil {
			return nil, nil, fmt.Errorf("create pipe: %w", err)
		}
		return r, wr, nil
	}
	outR, outW, err := pipe()
	if err != nil {
		return err
	}
	errR, errW, err := pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	hsR, hsW, err := pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		return err
	}
	logR, logW, err := pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		hsR.Close()
		hsW.Close()
		return err
	}
	w.readEnds = []*os.File{outR, errR, hsR, logR}
	childEnds = append(childEnds, outW, errW, hsW, logW)
	var callsChild, controlChild *os.File
	if w.calls, callsChild, err = newChannel("calls"); err != nil {
		return err
	}
	childEnds = append(childEnds, callsChild)
	controlConn, controlChild, err := newChannel("control")
	if err != nil {
		return err
	}
	childEnds = append(childEnds, controlChild)
	w.control = newControl(controlConn, o.CancelGrace)
	w.control.serve(w.channelLost("control channel", "control_lost", w.control.closing.Load))

	args := []string{
		"-m", "snakepool.server",
		"--adapter", o.Adapter,
		"--handshake-fd", "3",
		"--log-fd", "4",
		"--calls-fd", strconv.Itoa(callsFD),
		"--control-fd", strconv.Itoa(controlFD),
		"--mode", string(o.Profile),
		"--max-workers", strconv.Itoa(o.ThreadsPerWorker),
		"--worker-id", w.id,
		"--supervised", // the lifecycle is ours: lifecycle.go
	}
	if o.LogLevel != "" {
		args = append(args, "--log-level", o.LogLevel)
	}
	if o.ThreadSafetyCheck {
		args = append(args, "--thread-safety-check")
	}
	cmd := exec.Command(o.Python, args...)
	w.marker = newMarker()
	cmd.Env = append(o.environ(os.Environ()), o.deviceEnviron(w.slot)...)
	cmd.Env = append(cmd.Env, MarkerEnv+"="+w.marker, protocolEnv+"="+strconv.Itoa(goProtocol)) // the last value wins
	cmd.Dir = o.Dir
	// No stdin (/dev/null): the control channel is the lifeline and carries the stop request.
	cmd.Stdout = outW
	cmd.Stderr = errW
	cmd.ExtraFiles = []*os.File{hsW, logW, callsChild, controlChild} // fd 3, 4, 5 (callsFD), 6 (controlFD)
	cmd.SysProcAttr = sysProcAttr()
	if err := children.start(cmd, w.marker); err != nil {
		return fmt.Errorf("exec %s: %w", o.Python, err)
	}
	w.cmd = cmd
	w.spawnedAt = time.Now()
	w.pid = cmd.Process.Pid
	lifeline.register(w.pid)
	w.log = w.log.With(slog.Int("pid", w.pid))

	w.readers.Add(3)
	go func() { defer w.readers.Done(); relayOutput(outR, w.log, "stdout", slog.LevelInfo, nil) }()
	go func() { defer w.readers.Done(); relayOutput(errR, w.log, "stderr", slog.LevelWarn, &w.stderr) }()
	go func() { defer w.readers.Done(); relayLogRecords(logR, w.log) }()
	go func() {
		_ = cmd.Wait() // the exit status is in ProcessState
		children.reaped(w.pid)
		w.exitState = cmd.ProcessState
		// Route nothing more to it, before its monitor takes it out of the pool.
		w.pool.mu.Lock()
		w.dead = true
		w.pool.notifyLocked()
		w.pool.mu.Unlock()
		w.cancel()
		close(w.exited)
	}()
	return nil
}

// connect waits for the handshake and asks for Describe on the control channel.
func (w *worker) connect(ctx context.Context) error {
	// A process that dies cuts the wait short.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(w.ctx, cancel)
	defer stop()
	hsR := w.readEnds[2]
	type result struct {
		hs  handshake
		err error
	}
	done := make(chan result, 1)
	w.readers.Add(1)
	go func() {
		defer w.readers.Done()
		hs, err := readHandshake(hsR)
		done <- result{hs, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		if w.ctx.Err() != nil {
			// The process exited: what it wrote (an adapter error) is the better story; its
			// exit closed the pipe, so the reader is about done.
			t := time.NewTimer(time.Second)
			defer t.Stop()
			select {
			case r = <-done:
			case <-t.C:
				return w.noHandshake(errors.New("the process exited before the handshake"))
			}
			break
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return w.withExit(fmt.Errorf("no handshake within the start timeout (%s)", w.pool.opts.StartTimeout))
		}
		return fmt.Errorf("waiting for the handshake: %w", ctx.Err())
	}
	if r.err != nil {
		var ae *AdapterError
		var pe *ProtocolMismatchError
		if errors.As(r.err, &ae) || errors.As(r.err, &pe) {
			return r.err
		}
		if errors.Is(r.err, errNoHandshake) {
			return w.noHandshake(r.err)
		}
		return w.withExit(fmt.Errorf("handshake: %w", r.err))
	}
	hs := r.hs
	if hs.PID != 0 && hs.PID != w.pid {
		w.log.Warn("handshake pid differs from the started process", slog.Int("handshake_pid", hs.PID))
	}
	desc, err := w.control.describe(ctx)
	if err != nil {
		return w.withExit(fmt.Errorf("describe: %w", err))
	}
	if v := int(desc.GetProtocolVersion()); v != goProtocol {
		return &ProtocolMismatchError{PackageVersion: hs.PackageVersion, PythonProtocol: v, GoProtocol: goProtocol}
	}
	w.describe = desc
	return w.openSession()
}

// noHandshake is the start error of a process that exited without a handshake: a Python package
// of another release when the probe finds one (it may fail on our flags before any handshake),
// else err with the exit status and stderr.
func (w *worker) noHandshake(err error) error {
	if perr := w.probePackage(); perr != nil {
		var pe *ProtocolMismatchError
		if errors.As(perr, &pe) {
			return pe
		}
		return w.withExit(perr)
	}
	return w.withExit(fmt.Errorf("handshake: %w", err))
}

// withExit adds the process's exit status and stderr tail to a start error when the process has
// exited (or exits within a moment).
func (w *worker) withExit(err error) error {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-w.exited:
		// Give the stderr reader a moment to take the last lines.
		w.waitReaders(500 * time.Millisecond)
		err = fmt.Errorf("%w; python exited with %s", err, describeExit(w.exitState))
	case <-t.C:
	}
	if tail := w.stderr.String(); tail != "" {
		err = fmt.Errorf("%w; stderr:\n%s", err, tail)
	}
	return err
}

// describeExit says how a process ended.
func describeExit(ps *os.ProcessState) string {
	code, sig := exitDetails(ps)
	if sig != "" {
		return "signal " + sig
	}
	return "exit code " + strconv.Itoa(code)
}

// exitDetails returns the exit code (-1 when signalled) and the signal name.
func exitDetails(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, ""
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, ws.Signal().String()
	}
	return ps.ExitCode(), ""
}

// crashError describes the worker's exit for the calls that were running on it.
func (w *worker) crashError(reason string) *WorkerCrashedError {
	code, sig := exitDetails(w.exitState)
	return &WorkerCrashedError{
		Pool:       w.pool.opts.Name,
		WorkerID:   w.id,
		PID:        w.pid,
		ExitCode:   code,
		Signal:     sig,
		Reason:     reason,
		StderrTail: w.stderr.String(),
	}
}

// kill sends SIGKILL to the worker's process group.
func (w *worker) kill() {
	if err := killGroup(w.pid, syscall.SIGKILL); err != nil {
		w.log.Warn("kill python worker", slog.Any("error", err))
	}
}

// cleanup releases what the worker holds once its process is gone (or was never started): any
// process left in its group, the channels, the pipes. Idempotent.
func (w *worker) cleanup() {
	w.closeOnce.Do(func() {
		if w.cmd != nil {
			<-w.exited
			w.killLeftovers() // whatever its tools started (orphans_linux.go)
		}
		if w.session != nil {
			w.session.close()
		}
		if w.calls != nil {
			w.calls.Close()
		}
		if w.control != nil {
			w.control.close()
		}
		w.waitReaders(2 * time.Second)
		for _, f := range w.readEnds {
			f.Close() // unblocks readers held up by a process that escaped the group
		}
		w.readers.Wait()
		w.cancel()
	})
}

// waitReaders waits up to d for the pipe readers to reach EOF.
func (w *worker) waitReaders(d time.Duration) {
	done := make(chan struct{})
	go func() { w.readers.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
