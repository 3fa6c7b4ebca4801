package worker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/workflows"
)

// Config is the worker's configuration, usually read from a YAML file by LoadConfig:
//
//	temporal:
//	  address: localhost:7233      # default localhost:7233
//	  namespace: default           # default "default"
//	  task_queue: snakepool        # the Pipeline workflow's task queue; default "snakepool"
//	  tls: {ca_file: ca.pem, cert_file: client.pem, key_file: client.key}  # default: no TLS
//	  api_key_file: /run/secrets/temporal-api-key                         # default: none
//	metrics:
//	  address: 127.0.0.1:9464      # /metrics, /livez, /readyz, /healthz; "off" disables; default 127.0.0.1:9464
//	pools:
//	  - name: math                 # required; also names the task queue "snakepool.math"
//	    profile: process           # process (default) or thread
//	    size: 2                    # number of Python processes; required
//	    adapter: snakepool.examples.showcase:ShowcaseAdapter   # module:Class; required
//	    python: ../.venv/bin/python  # default python3 (from PATH)
//
// Paths in the file (python, dir, the TLS files, api_key_file) are relative to the file's
// directory; see PoolConfig and TemporalConfig.
type Config struct {
	// Temporal says which Temporal service the worker connects to, and how.
	Temporal TemporalConfig `yaml:"temporal"`
	// Metrics is the HTTP endpoint of cmd/worker (Start does not serve it).
	Metrics MetricsConfig `yaml:"metrics"`
	// Pools are the Python pools; each gets its own Temporal worker and task queue.
	// Required: at least one.
	Pools []PoolConfig `yaml:"pools"`
}

// MetricsConfig is the HTTP listener of cmd/worker, which serves /metrics (Prometheus), /livez,
// /readyz and /healthz.
type MetricsConfig struct {
	// Address is the host:port to listen on; MetricsOff disables the listener. Port 0 picks a free
	// port (the worker logs the one it got). Default: DefaultMetricsAddress (127.0.0.1:9464, this
	// machine only).
	Address string `yaml:"address"`
}

// TemporalConfig is the connection to Temporal and the workflow worker.
type TemporalConfig struct {
	// Address is the host:port of the Temporal frontend. Default: DefaultAddress (localhost:7233).
	Address string `yaml:"address"`
	// Namespace is the Temporal namespace. Default: "default".
	Namespace string `yaml:"namespace"`
	// TaskQueue is the task queue of the worker that runs the Pipeline workflow.
	// Default: workflows.TaskQueue ("snakepool").
	TaskQueue string `yaml:"task_queue"`
	// WorkerStopTimeout is how long running activities may take to finish when the worker stops,
	// before their contexts are cancelled (the tools see ctx.cancelled). Default: 10s.
	WorkerStopTimeout time.Duration `yaml:"worker_stop_timeout"`
	// Identity names this worker in Temporal (the Web UI's pollers, the activities' started
	// events). Default: the SDK's, "<pid>@<hostname>@".
	Identity string `yaml:"identity"`
	// TLS configures TLS and mutual TLS to the Temporal frontend. Default: plaintext, unless an
	// API key is set (then TLS with the system's root CAs).
	TLS TLSConfig `yaml:"tls"`
	// APIKey is an API key (Temporal Cloud), sent as "Authorization: Bearer <key>"; it turns TLS on.
	// Prefer APIKeyFile or the SNAKEPOOL_API_KEY environment variable of cmd/worker to a key
	// written in the config file. Default: none.
	APIKey string `yaml:"api_key"`
	// APIKeyFile is a file holding the API key (surrounding white space is ignored); relative to
	// the config file's directory. Exclusive with APIKey. Default: none.
	APIKeyFile string `yaml:"api_key_file"`
}

// TLSConfig is the TLS of the connection to Temporal. TLS is on when Enabled or any file is set.
type TLSConfig struct {
	// Enabled turns TLS on with the system's root CAs and no client certificate. Default: false.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of the CA certificates that verify the server, instead of the system's
	// root CAs. Default: none (the system's root CAs).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the PEM client certificate and key of mutual TLS; both or neither.
	// Default: none (no client certificate).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the server's certificate must have (and the SNI sent). Default: the
	// host of temporal.address.
	ServerName string `yaml:"server_name"`
}

// On reports whether TLS is configured.
func (t TLSConfig) On() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != ""
}

// PoolConfig is one pool. Durations are written like "30s" or "5m". Fields left out take the default
// of the corresponding pools.Options field unless said otherwise.
type PoolConfig struct {
	// Name names the pool in steps, logs and errors; [A-Za-z0-9_.-]+. Required.
	Name string `yaml:"name"`
	// Profile is "process" (one call per process) or "thread" (threads_per_worker calls per process).
	// Default: process.
	Profile string `yaml:"profile"`
	// Size is the number of Python processes. Required: at least 1.
	Size int `yaml:"size"`
	// ThreadsPerWorker is the calls one process runs at once in the thread profile. Default: 4
	// in the thread profile, 1 (the only valid value) in the process profile.
	ThreadsPerWorker int `yaml:"threads_per_worker"`
	// Adapter is the Python adapter class as "module:Class". Required.
	Adapter string `yaml:"adapter"`
	// Python is the interpreter, which must have the snakepool package installed. A bare name is
	// looked up in PATH; a path with a slash that is relative is relative to the config file's
	// directory. Default: python3.
	Python string `yaml:"python"`
	// Env is added to the Python processes' environment. Default: nothing added.
	Env map[string]string `yaml:"env"`
	// Dir is the working directory of the Python processes; `python -m` puts it on sys.path, so an
	// adapter module in it can be imported. Relative to the config file's directory.
	// Default: the config file's directory (the current directory for a Config built in Go).
	Dir string `yaml:"dir"`
	// TaskQueue is the pool's activity task queue. Default: "snakepool.<name>".
	TaskQueue string `yaml:"task_queue"`
	// Devices gives each Python process its own accelerator: the process of worker slot i (kept by
	// its replacements and recycled successors) gets device_env=devices[i % len(devices)], e.g.
	// devices: ["0", "1"] for two GPUs. Default: none.
	Devices []string `yaml:"devices"`
	// DeviceEnv is the variable that carries the device. Default: CUDA_VISIBLE_DEVICES when
	// devices is set.
	DeviceEnv string `yaml:"device_env"`
	// LogLevel is the Python logging level (DEBUG, INFO, WARNING, ERROR). Default: the server's.
	LogLevel string `yaml:"log_level"`
	// StartTimeout bounds the start of one Python process, adapter import included. Default: 60s.
	StartTimeout time.Duration `yaml:"start_timeout"`
	// StopTimeout is how long a Python process has to exit once asked to stop, before it is
	// killed: its cancelled calls get the first half, teardown() the rest. Default: 10s.
	StopTimeout time.Duration `yaml:"stop_timeout"`
	// DrainTimeout bounds how long stopping waits for calls in flight. Default: 30s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// CancelGrace is how long a cancelled tool may take to return before its process is replaced.
	// Default: 10s.
	CancelGrace time.Duration `yaml:"cancel_grace"`
	// MaxWorkerTTL recycles a Python process after it has lived this long. Default: never.
	MaxWorkerTTL time.Duration `yaml:"max_worker_ttl"`
	// MaxRequestsPerWorker recycles a Python process after this many calls. Default: never.
	MaxRequestsPerWorker int `yaml:"max_requests_per_worker"`
	// MaxWorkerMemoryMB recycles a Python process whose resident memory exceeds this many MiB.
	// Default: never.
	MaxWorkerMemoryMB int64 `yaml:"max_worker_memory_mb"`
	// MemoryCheckInterval is how often each process's resident memory is read. Default: 5s.
	MemoryCheckInterval time.Duration `yaml:"memory_check_interval"`
	// RecycleJitter lowers each process's TTL, request and memory limits by a random fraction in
	// [0, recycle_jitter), so that processes started together do not recycle together. Default:
	// 0.1; negative: no jitter.
	RecycleJitter float64 `yaml:"recycle_jitter"`
	// StartupBatchSize is how many processes start at once when the pool starts. Default: 8.
	StartupBatchSize int `yaml:"startup_batch_size"`
	// StartupBatchDelay is the pause between two startup batches. Default: 0 (no pause).
	StartupBatchDelay time.Duration `yaml:"startup_batch_delay"`
	// HealthCheckInterval is the period of each process's health check. Default: 10s; negative
	// disables health checks.
	HealthCheckInterval time.Duration `yaml:"health_check_interval"`
	// HealthCheckTimeout bounds one health check. Default: 5s.
	HealthCheckTimeout time.Duration `yaml:"health_check_timeout"`
	// MaxMissedHealthChecks is how many health checks in a row a process may miss before it is
	// killed and replaced. Default: 3.
	MaxMissedHealthChecks int `yaml:"max_missed_health_checks"`
	// RestartBackoff is the delay before a crashed process is replaced, doubled for each further
	// failure within crash_loop_window. Default: 100ms.
	RestartBackoff time.Duration `yaml:"restart_backoff"`
	// MaxRestartBackoff caps restart_backoff's doubling. Default: 30s.
	MaxRestartBackoff time.Duration `yaml:"max_restart_backoff"`
	// CrashLoopThreshold is how many failures within crash_loop_window mark the pool degraded
	// while it is short of processes. Default: 5.
	CrashLoopThreshold int `yaml:"crash_loop_threshold"`
	// CrashLoopWindow is the window of crash_loop_threshold. Default: 1m.
	CrashLoopWindow time.Duration `yaml:"crash_loop_window"`
	// ThreadSafetyCheck makes the Python server check the adapter's thread-safety declarations.
	// Default: false.
	ThreadSafetyCheck bool `yaml:"thread_safety_check"`

	// MaxPayloadBytes is the largest JSON arguments and the largest JSON result of one call, in
	// bytes; larger ones fail the activity with a non-retryable PayloadTooLarge error. Default:
	// 2097152 (2 MiB, Temporal's default payload limit); negative: no limit.
	MaxPayloadBytes int `yaml:"max_payload_bytes"`
	// HeartbeatInterval is the longest pause between two heartbeats of a running tool: the worker
	// heartbeats by itself every heartbeat_interval (or every third of the activity's
	// HeartbeatTimeout when shorter) while the Python call runs, which is how cancellations reach
	// the tool. It is also the Temporal SDK's heartbeat throttle interval for activities without
	// a HeartbeatTimeout. Default: 10s.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// MaxCrashedAttempts is how many attempts of one activity may crash their Python process
	// (segfault, OOM kill, os._exit, missed health checks) before the activity fails with a
	// non-retryable WorkerCrashed error, whatever its retry policy: a poison input does not crash
	// workers without end. Default: 3; negative: no limit.
	MaxCrashedAttempts int `yaml:"max_crashed_attempts"`
	// ProgressTimeout fails an attempt whose tool has not called ctx.heartbeat for this long (the
	// worker's own heartbeats do not count): the call is cancelled in Python (with cancel_grace)
	// and the attempt fails with a retryable ProgressTimeout error. It catches a tool that is alive
	// but stuck. Default: 0, off.
	ProgressTimeout time.Duration `yaml:"progress_timeout"`
	// Tools are per-tool settings, by tool name; every name must be a tool of the pool's adapter
	// (checked when the worker starts). Default: none.
	Tools map[string]ToolConfig `yaml:"tools"`
}

// ToolConfig is the settings of one tool of a pool; a field left out takes the pool's.
type ToolConfig struct {
	// ProgressTimeout overrides the pool's progress_timeout for this tool; a negative value turns
	// it off for this tool. Default: the pool's.
	ProgressTimeout time.Duration `yaml:"progress_timeout"`
}

// Defaults of Config.
const (
	DefaultAddress           = "localhost:7233"
	DefaultNamespace         = "default"
	DefaultWorkerStopTimeout = 10 * time.Second
	DefaultMetricsAddress    = "127.0.0.1:9464"
	// MetricsOff as metrics.address disables the HTTP listener.
	MetricsOff = "off"
)

var poolNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// maxWorkerMemoryMB is the largest max_worker_memory_mb whose bytes fit in an int64.
const maxWorkerMemoryMB = math.MaxInt64 >> 20

// LoadConfig reads a YAML config file strictly (an unknown field is an error naming it and its
// line), resolves its relative paths against the file's directory, applies the defaults and
// validates it. Errors start with the file name.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	cfg, err := ParseConfig(data, dir)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig is LoadConfig on YAML text whose relative paths are relative to baseDir
// (the current directory when empty).
func ParseConfig(data []byte, baseDir string) (Config, error) {
	if err := checkUTF8(data); err != nil {
		return Config{}, err
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("the file is empty")
		}
		return Config{}, explainTypeError(data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("more than one YAML document")
	}
	if baseDir != "" {
		for i := range cfg.Pools {
			cfg.Pools[i].resolvePaths(baseDir)
		}
		cfg.Temporal.resolvePaths(baseDir)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		var line lineError
		if errors.As(err, &line) {
			if n := poolLine(data, line.pool); n > 0 {
				return Config{}, fmt.Errorf("line %d: %w", n, err)
			}
		}
		return Config{}, err
	}
	return cfg, nil
}

// WithDefaults returns c with every empty field that has a default set to it.
func (c Config) WithDefaults() Config {
	if c.Temporal.Address == "" {
		c.Temporal.Address = DefaultAddress
	}
	if c.Temporal.Namespace == "" {
		c.Temporal.Namespace = DefaultNamespace
	}
	if c.Temporal.TaskQueue == "" {
		c.Temporal.TaskQueue = workflows.TaskQueue
	}
	if c.Temporal.WorkerStopTimeout == 0 {
		c.Temporal.WorkerStopTimeout = DefaultWorkerStopTimeout
	}
	if c.Metrics.Address == "" {
		c.Metrics.Address = DefaultMetricsAddress
	}
	c.Pools = append([]PoolConfig(nil), c.Pools...)
	for i := range c.Pools {
		p := &c.Pools[i]
		if p.TaskQueue == "" {
			p.TaskQueue = workflows.PoolTaskQueue(p.Name)
		}
		if p.Python == "" {
			p.Python = pools.DefaultPython
		}
		if p.Profile == "" {
			p.Profile = string(pools.ProfileProcess)
		}
		if p.MaxPayloadBytes == 0 {
			p.MaxPayloadBytes = activities.DefaultMaxPayloadBytes
		}
		if p.HeartbeatInterval == 0 {
			p.HeartbeatInterval = activities.DefaultHeartbeatInterval
		}
		if p.MaxCrashedAttempts == 0 {
			p.MaxCrashedAttempts = activities.DefaultMaxCrashedAttempts
		}
	}
	return c
}

// Validate checks c (after WithDefaults); the error names the offending field.
func (c Config) Validate() error {
	if c.Temporal.WorkerStopTimeout < 0 {
		return fmt.Errorf("temporal.worker_stop_timeout must be >= 0, got %s", c.Temporal.WorkerStopTimeout)
	}
	if err := c.Temporal.validateSecurity(); err != nil {
		return err
	}
	if len(c.Pools) == 0 {
		return errors.New("pools: at least one pool is required")
	}
	names := map[string]int{}
	queues := map[string]string{c.Temporal.TaskQueue: "temporal.task_queue"}
	for i, p := range c.Pools {
		field := fmt.Sprintf("pools[%d]", i)
		bad := func(format string, args ...any) error {
			return lineError{pool: i, err: fmt.Errorf("%s (%q): %s", field, p.Name, fmt.Sprintf(format, args...))}
		}
		if p.Name == "" {
			return lineError{pool: i, err: fmt.Errorf("%s: name is required", field)}
		}
		if !poolNamePattern.MatchString(p.Name) {
			return bad("name must match [A-Za-z0-9_.-]+")
		}
		if j, dup := names[p.Name]; dup {
			return bad("name is also the name of pools[%d]", j)
		}
		names[p.Name] = i
		if other, dup := queues[p.TaskQueue]; dup {
			return bad("task_queue %q is also the task queue of %s", p.TaskQueue, other)
		}
		queues[p.TaskQueue] = field
		if p.MaxWorkerMemoryMB < 0 || p.MaxWorkerMemoryMB > maxWorkerMemoryMB {
			return bad("max_worker_memory_mb must be from 0 to %d, got %d", maxWorkerMemoryMB, p.MaxWorkerMemoryMB)
		}
		if p.HeartbeatInterval < 0 {
			return bad("heartbeat_interval must be >= 0, got %s", p.HeartbeatInterval)
		}
		if p.ProgressTimeout < 0 {
			return bad("progress_timeout must be >= 0 (0: off), got %s", p.ProgressTimeout)
		}
		for name := range p.Tools {
			if strings.TrimSpace(name) == "" {
				return bad("tools: a tool name must not be empty")
			}
		}
		if err := p.Options().Validate(); err != nil {
			return bad("%s", strings.TrimPrefix(err.Error(), fmt.Sprintf("pools: pool %q: ", p.Name)))
		}
	}
	return nil
}

// Options returns the pools.Options of the pool (without Logger and Metrics).
func (p PoolConfig) Options() pools.Options {
	return pools.Options{
		Name:                  p.Name,
		Profile:               pools.Profile(p.Profile),
		Size:                  p.Size,
		ThreadsPerWorker:      p.ThreadsPerWorker,
		Adapter:               p.Adapter,
		Python:                p.Python,
		Env:                   p.Env,
		Dir:                   p.Dir,
		Devices:               p.Devices,
		DeviceEnv:             p.DeviceEnv,
		LogLevel:              p.LogLevel,
		StartTimeout:          p.StartTimeout,
		StopTimeout:           p.StopTimeout,
		DrainTimeout:          p.DrainTimeout,
		CancelGrace:           p.CancelGrace,
		MaxWorkerTTL:          p.MaxWorkerTTL,
		MaxRequestsPerWorker:  p.MaxRequestsPerWorker,
		MaxWorkerMemory:       p.MaxWorkerMemoryMB << 20,
		MemoryCheckInterval:   p.MemoryCheckInterval,
		RecycleJitter:         p.RecycleJitter,
		StartupBatchSize:      p.StartupBatchSize,
		StartupBatchDelay:     p.StartupBatchDelay,
		HealthCheckInterval:   p.HealthCheckInterval,
		HealthCheckTimeout:    p.HealthCheckTimeout,
		MaxMissedHealthChecks: p.MaxMissedHealthChecks,
		RestartBackoff:        p.RestartBackoff,
		MaxRestartBackoff:     p.MaxRestartBackoff,
		CrashLoopThreshold:    p.CrashLoopThreshold,
		CrashLoopWindow:       p.CrashLoopWindow,
		ThreadSafetyCheck:     p.ThreadSafetyCheck,
	}
}

// ActivityOptions returns the activities.Options of the pool.
func (p PoolConfig) ActivityOptions() activities.Options {
	opts := activities.Options{
		MaxPayloadBytes:    p.MaxPayloadBytes,
		HeartbeatInterval:  p.HeartbeatInterval,
		MaxCrashedAttempts: p.MaxCrashedAttempts,
		ProgressTimeout:    p.ProgressTimeout,
	}
	for name, tool := range p.Tools {
		if tool.ProgressTimeout != 0 {
			if opts.ToolProgressTimeouts == nil {
				opts.ToolProgressTimeouts = map[string]time.Duration{}
			}
			opts.ToolProgressTimeouts[name] = tool.ProgressTimeout
		}
	}
	return opts
}

// checkTools checks that every per-tool setting of the pool names a tool of its adapter.
func (p PoolConfig) checkTools(pool activities.Pool) error {
	var names []string
	for _, t := range pool.Tools() {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	for name := range p.Tools {
		if !slices.Contains(names, name) {
			return fmt.Errorf("worker: pool %q: tools.%s: the adapter %s has no such tool (its tools: %s)",
				p.Name, name, p.Adapter, strings.Join(names, ", "))
		}
	}
	return nil
}

func (p *PoolConfig) resolvePaths(baseDir string) {
	if p.Python != "" && strings.ContainsRune(p.Python, filepath.Separator) && !filepath.IsAbs(p.Python) {
		p.Python = filepath.Join(baseDir, p.Python)
	}
	switch {
	case p.Dir == "":
		p.Dir = baseDir
	case !filepath.IsAbs(p.Dir):
		p.Dir = filepath.Join(baseDir, p.Dir)
	}
}

func (t *TemporalConfig) resolvePaths(baseDir string) {
	for _, path := range []*string{&t.TLS.CAFile, &t.TLS.CertFile, &t.TLS.KeyFile, &t.APIKeyFile} {
		if *path != "" && !filepath.IsAbs(*path) {
			*path = filepath.Join(baseDir, *path)
		}
	}
}

// validateSecurity checks the TLS and API key settings.
func (t TemporalConfig) validateSecurity() error {
	if (t.TLS.CertFile == "") != (t.TLS.KeyFile == "") {
		return errors.New("temporal.tls: cert_file and key_file must be set together")
	}
	if t.APIKey != "" && t.APIKeyFile != "" {
		return errors.New("temporal: set api_key or api_key_file, not both")
	}
	return nil
}

// lineError is a validation error about pools[pool], to be prefixed with the pool's line.
type lineError struct {
	pool int
	err  error
}

func (e lineError) Error() string { return e.err.Error() }
func (e lineError) Unwrap() error { return e.err }

// poolLine returns the line of the i-th entry of the top-level "pools" sequence, or 0.
func poolLine(data []byte, i int) int {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return 0
	}
	root := doc.Content[0]
	for k := 0; k+1 < len(root.Content); k += 2 {
		if root.Content[k].Value == "pools" && i < len(root.Content[k+1].Content) {
			return root.Content[k+1].Content[i].Line
		}
	}
	return 0
}
