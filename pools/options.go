package pools

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/uber-go/tally/v4"
)

// Profile is how a pool runs its Python code: many single-call processes, or few processes that
// each run several calls in threads.
type Profile string

const (
	// ProfileProcess runs Size Python processes that each run one call at a time. Capacity is Size.
	ProfileProcess Profile = "process"
	// ProfileThread runs Size Python processes that each run ThreadsPerWorker calls at once in
	// threads. Capacity is Size * ThreadsPerWorker. It pays off for tools that release the GIL
	// (NumPy, scikit-learn, I/O) or on a free-threaded interpreter.
	ProfileThread Profile = "thread"
)

// Defaults of Options; a zero field takes the default named in its comment.
const (
	DefaultPython                = "python3"
	DefaultStartTimeout          = 60 * time.Second
	DefaultStopTimeout           = 10 * time.Second
	DefaultDrainTimeout          = 30 * time.Second
	DefaultStartupBatchSize      = 8
	DefaultHealthCheckInterval   = 10 * time.Second
	DefaultHealthCheckTimeout    = 5 * time.Second
	DefaultMaxMissedHealthChecks = 3
	DefaultMemoryCheckInterval   = 5 * time.Second
	DefaultRecycleJitter         = 0.1
	DefaultCancelGrace           = 10 * time.Second
	DefaultRestartBackoff        = 100 * time.Millisecond
	DefaultMaxRestartBackoff     = 30 * time.Second
	DefaultCrashLoopThreshold    = 5
	DefaultCrashLoopWindow       = time.Minute
	DefaultDeviceEnv             = "CUDA_VISIBLE_DEVICES"
)

// threadEnvVars are the thread-count variables of the numeric libraries. The process profile sets
// them to 1 (one call per process: no oversubscription), the thread profile to ThreadsPerWorker.
var threadEnvVars = []string{
	"OPENBLAS_NUM_THREADS",
	"MKL_NUM_THREADS",
	"OMP_NUM_THREADS",
	"NUMEXPR_NUM_THREADS",
	"VECLIB_MAXIMUM_THREADS",
}

// Options configures a pool. Every zero field takes the default its comment names; Validate
// reports the first bad field by name.
type Options struct {
	// Name identifies the pool in logs, metrics and errors. Required.
	Name string
	// Profile is ProfileProcess or ProfileThread. Default: ProfileProcess.
	Profile Profile
	// Size is the number of Python processes. Required: at least 1.
	Size int
	// ThreadsPerWorker is the number of calls one process runs at once in the thread profile.
	// Default: 1 in the process profile (any other value is an error there), 4 in the thread profile.
	ThreadsPerWorker int
	// Adapter is the Python adapter class as "module:Class". Required.
	Adapter string
	// Python is the interpreter that runs `python -m snakepool.server`; it must have the snakepool
	// package installed. Default: "python3" (looked up in PATH).
	Python string
	// Env is added to the environment of the Python processes (which inherit this process's
	// environment). It overrides the thread-count defaults (OPENBLAS_NUM_THREADS, MKL_NUM_THREADS,
	// OMP_NUM_THREADS, NUMEXPR_NUM_THREADS, VECLIB_MAXIMUM_THREADS: 1 in the process profile,
	// ThreadsPerWorker in the thread profile) and PYTHONUNBUFFERED=1. Default: nothing added.
	Env map[string]string
	// Dir is the working directory of the Python processes. Default: this process's directory.
	Dir string
	// Devices gives each Python process its own accelerator: the process of worker slot i gets
	// DeviceEnv=Devices[i % len(Devices)]. A slot is a stable index in [0, Size): a process that
	// replaces a crashed, killed or recycled one takes its slot, and so its device. An entry may
	// name several devices ("0,1") for a process that uses more than one; with fewer entries
	// than Size, slots share devices round robin. (A recycled process's replacement starts before
	// it stops, so the device briefly hosts both.) Default: none (DeviceEnv is left as inherited).
	Devices []string
	// DeviceEnv is the environment variable that carries a process's device, e.g.
	// CUDA_VISIBLE_DEVICES (NVIDIA), HIP_VISIBLE_DEVICES (AMD ROCm), ZE_AFFINITY_MASK (Intel) or
	// TPU_VISIBLE_CHIPS. It must not also be set in Env. Default: DefaultDeviceEnv when Devices is
	// set.
	DeviceEnv string
	// LogLevel is the Python logging level passed as --log-level (DEBUG, INFO, WARNING, ERROR).
	// Default: empty, the server's own default.
	LogLevel string
	// ThreadSafetyCheck passes --thread-safety-check to the server. Default: false.
	ThreadSafetyCheck bool

	// StartTimeout bounds the start of one worker: process start, adapter import, handshake and
	// Describe. Default: 60s.
	StartTimeout time.Duration
	// StartupBatchSize is how many workers start at once when the pool starts; the next batch
	// starts when the previous one is ready. Default: 8.
	StartupBatchSize int
	// StartupBatchDelay is the pause between two startup batches. Default: 0 (no pause).
	StartupBatchDelay time.Duration

	// HealthCheckInterval is the period of the Ping health check of each worker. Default: 10s.
	// Negative disables health checks.
	HealthCheckInterval time.Duration
	// HealthCheckTimeout bounds one Ping. Default: 5s.
	HealthCheckTimeout time.Duration
	// MaxMissedHealthChecks is how many consecutive failed Pings get a worker killed and replaced.
	// Default: 3.
	MaxMissedHealthChecks int

	// MaxWorkerTTL recycles a worker after it has lived this long. Default: 0 (never).
	MaxWorkerTTL time.Duration
	// MaxRequestsPerWorker recycles a worker after it has run this many calls. Default: 0 (never).
	MaxRequestsPerWorker int
	// MaxWorkerMemory recycles a worker whose Python process's resident memory (VmRSS, read from
	// /proc/PID/status) exceeds this many bytes. Default: 0 (never).
	MaxWorkerMemory int64
	// MemoryCheckInterval is how often each worker's resident memory is read (for MaxWorkerMemory
	// and the memory gauge). Default: 5s.
	MemoryCheckInterval time.Duration
	// RecycleJitter lowers each worker's TTL, request and memory limits by a random fraction in
	// [0, RecycleJitter) so that workers started together do not recycle together. Must be in
	// [0, 1). Default: 0.1. Negative means no jitter.
	RecycleJitter float64

	// CancelGrace is how long a cancelled call may take to return after Python was asked to stop
	// it. Past it the call returns the context's error, and the worker is killed and replaced
	// (process profile) or drained and recycled (thread profile). Default: 10s.
	CancelGrace time.Duration

	// RestartBackoff is the delay before replacing a worker that crashed, doubled for every other
	// failure (crash, failed start, missed health checks) within CrashLoopWindow. Default: 100ms.
	RestartBackoff time.Duration
	// MaxRestartBackoff caps RestartBackoff's doubling. Default: 30s.
	MaxRestartBackoff time.Duration
	// CrashLoopThreshold is how many failures within CrashLoopWindow mark the pool degraded
	// (Health().Degraded). Default: 5.
	CrashLoopThreshold int
	// CrashLoopWindow is the window of CrashLoopThreshold. Default: 1m.
	CrashLoopWindow time.Duration

	// DrainTimeout bounds how long Stop waits for in-flight calls to finish before it stops the
	// processes (Stop's context can cut it shorter). Default: 30s.
	DrainTimeout time.Duration
	// StopTimeout is how long a Python process has to exit after the pool asks it to stop (the
	// Stop request on its control channel; it ignores SIGTERM, SIGINT and SIGHUP) before its
	// process group gets SIGKILL. Its running calls are cancelled and get the first half of it to
	// end; teardown() runs in the rest once they have (and is skipped if a tool ignores its
	// cancel). Default: 10s.
	StopTimeout time.Duration

	// Logger receives the pool's events and the Python processes' logging records, stdout and
	// stderr. Default: slog.Default().
	Logger *slog.Logger
	// Metrics receives the pool's metrics, tagged pool=Name. Default: tally.NoopScope.
	Metrics tally.Scope
}

// Validate reports the first invalid field of o (after defaults are applied), naming it.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

// withDefaults returns o with every zero field set to its default, or an error naming the first
// bad field.
func (o Options) withDefaults() (Options, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("pools: pool %q: %s", o.Name, fmt.Sprintf(format, args...))
	}
	if o.Name == "" {
		return o, errors.New("pools: name must not be empty")
	}
	if o.Profile == "" {
		o.Profile = ProfileProcess
	}
	switch o.Profile {
	case ProfileProcess:
		if o.ThreadsPerWorker == 0 {
			o.ThreadsPerWorker = 1
		}
		if o.ThreadsPerWorker != 1 {
			return o, bad("threads_per_worker must be 1 in the process profile, got %d", o.ThreadsPerWorker)
		}
	case ProfileThread:
		if o.ThreadsPerWorker == 0 {
			o.ThreadsPerWorker = 4
		}
		if o.ThreadsPerWorker < 1 {
			return o, bad("threads_per_worker must be >= 1, got %d", o.ThreadsPerWorker)
		}
	default:
		return o, bad("profile must be %q or %q, got %q", ProfileProcess, ProfileThread, o.Profile)
	}
	if o.Size < 1 {
		return o, bad("size must be >= 1, got %d", o.Size)
	}
	if mod, class, ok := strings.Cut(o.Adapter, ":"); !ok || mod == "" || class == "" {
		return o, bad("adapter must be \"module:Class\", got %q", o.Adapter)
	}
	if o.Python == "" {
		o.Python = DefaultPython
	}
	if o.LogLevel != "" {
		switch strings.ToUpper(o.LogLevel) {
		case "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL":
		default:
			return o, bad("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got %q", o.LogLevel)
		}
	}
	for k := range o.Env {
		if !validEnvName(k) {
			return o, bad("env has an invalid variable name %q", k)
		}
	}
	if err := o.validateDevices(); err != nil {
		return o, bad("%v", err)
	}
	if len(o.Devices) > 0 && o.DeviceEnv == "" {
		o.DeviceEnv = DefaultDeviceEnv
	}
	durations := []struct {
		name  string
		value *time.Duration
		def   time.Duration
		allow bool // negative allowed
	}{
		{"start_timeout", &o.StartTimeout, DefaultStartTimeout, false},
		{"startup_batch_delay", &o.StartupBatchDelay, 0, false},
		{"health_check_interval", &o.HealthCheckInterval, DefaultHealthCheckInterval, true},
		{"health_check_timeout", &o.HealthCheckTimeout, DefaultHealthCheckTimeout, false},
		{"max_worker_ttl", &o.MaxWorkerTTL, 0, false},
		{"memory_check_interval", &o.MemoryCheckInterval, DefaultMemoryCheckInterval, false},
		{"cancel_grace", &o.CancelGrace, DefaultCancelGrace, false},
		{"restart_backoff", &o.RestartBackoff, DefaultRestartBackoff, false},
		{"max_restart_backoff", &o.MaxRestartBackoff, DefaultMaxRestartBackoff, false},
		{"crash_loop_window", &o.CrashLoopWindow, DefaultCrashLoopWindow, false},
		{"drain_timeout", &o.DrainTimeout, DefaultDrainTimeout, false},
		{"stop_timeout", &o.StopTimeout, DefaultStopTimeout, false},
	}
	for _, d := range durations {
		if *d.value < 0 && !d.allow {
			return o, bad("%s must be >= 0, got %s", d.name, *d.value)
		}
		if *d.value == 0 {
			*d.value = d.def
		}
	}
	if o.MaxRestartBackoff < o.RestartBackoff {
		return o, bad("max_restart_backoff (%s) must be >= restart_backoff (%s)", o.MaxRestartBackoff, o.RestartBackoff)
	}
	ints := []struct {
		name  string
		value *int
		def   int
	}{
		{"startup_batch_size", &o.StartupBatchSize, DefaultStartupBatchSize},
		{"max_missed_health_checks", &o.MaxMissedHealthChecks, DefaultMaxMissedHealthChecks},
		{"max_requests_per_worker", &o.MaxRequestsPerWorker, 0},
		{"crash_loop_threshold", &o.CrashLoopThreshold, DefaultCrashLoopThreshold},
	}
	for _, i := range ints {
		if *i.value < 0 {
			return o, bad("%s must be >= 0, got %d", i.name, *i.value)
		}
		if *i.value == 0 {
			*i.value = i.def
		}
	}
	if o.MaxWorkerMemory < 0 {
		return o, bad("max_worker_memory must be >= 0, got %d", o.MaxWorkerMemory)
	}
	switch {
	case o.RecycleJitter == 0:
		o.RecycleJitter = DefaultRecycleJitter
	case o.RecycleJitter < 0:
		o.RecycleJitter = 0
	case o.RecycleJitter >= 1:
		return o, bad("recycle_jitter must be in [0, 1), got %g", o.RecycleJitter)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = tally.NoopScope
	}
	return o, nil
}

// Capacity is the number of calls the pool runs at once when all its workers are up.
func (o Options) capacity() int { return o.Size * o.ThreadsPerWorker }

// environ returns the environment of a worker process: base, then the thread-count defaults of
// the profile, then PYTHONUNBUFFERED, then o.Env;
// later entries win.
func (o Options) environ(base []string) []string {
	merged := make(map[string]string, len(base)+len(threadEnvVars)+len(o.Env)+1)
	order := make([]string, 0, len(base)+len(threadEnvVars)+len(o.Env)+1)
	set := func(k, v string) {
		if _, ok := merged[k]; !ok {
			order = append(order, k)
		}
		merged[k] = v
	}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			set(k, v)
		}
	}
	threads := "1"
	if o.Profile == ProfileThread {
		threads = strconv.Itoa(o.ThreadsPerWorker)
	}
	for _, k := range threadEnvVars {
		set(k, threads)
	}
	set("PYTHONUNBUFFERED", "1")
	for k, v := range o.Env {
		set(k, v)
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+merged[k])
	}
	return env
}

// validateDevices checks Devices and DeviceEnv.
func (o Options) validateDevices() error {
	if o.DeviceEnv != "" && len(o.Devices) == 0 {
		return fmt.Errorf("device_env %q is set but devices is empty", o.DeviceEnv)
	}
	if o.DeviceEnv != "" && !validEnvName(o.DeviceEnv) {
		return fmt.Errorf("device_env has an invalid variable name %q", o.DeviceEnv)
	}
	name := o.DeviceEnv
	if name == "" {
		name = DefaultDeviceEnv
	}
	for i, d := range o.Devices {
		if strings.TrimSpace(d) == "" || strings.ContainsRune(d, 0) {
			return fmt.Errorf("devices[%d] must be a device id such as \"0\" or \"0,1\", got %q", i, d)
		}
	}
	if _, set := o.Env[name]; set && len(o.Devices) > 0 {
		return fmt.Errorf("env sets %s, which devices sets per worker: remove it from env", name)
	}
	return nil
}

func validEnvName(k string) bool { return k != "" && !strings.ContainsAny(k, "=\x00") }

// Device returns the device of worker slot (DeviceEnv's value for its process), or false when
// the pool has no Devices. Slots are in [0, Size).
func (o Options) Device(slot int) (string, bool) {
	if len(o.Devices) == 0 || slot < 0 {
		return "", false
	}
	return o.Devices[slot%len(o.Devices)], true
}

// deviceEnviron is the environment entry that gives worker slot its device, appended after
// environ's (exec.Cmd uses the last value of a variable), or nil without Devices.
func (o Options) deviceEnviron(slot int) []string {
	d, ok := o.Device(slot)
	if !ok {
		return nil
	}
	name := o.DeviceEnv
	if name == "" {
		name = DefaultDeviceEnv
	}
	return []string{name + "=" + d}
}
