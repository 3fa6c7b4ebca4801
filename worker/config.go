package worker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/workflows"
)

// Config is the worker's configuration, usually read from a YAML file by LoadConfig:
//
//	temporal:
//	  address: localhost:7233      # default localhost:7233
//	  namespace: default           # default "default"
//	  task_queue: snakepool        # the Pipeline workflow's task queue; default "snakepool"
//	pools:
//	  - name: math                 # required; also names the task queue "snakepool.math"
//	    profile: process           # process (default) or thread
//	    size: 2                    # number of Python processes; required
//	    adapter: snakepool.examples.showcase:ShowcaseAdapter   # module:Class; required
//	    python: ../.venv/bin/python  # default python3 (from PATH)
//
// Paths in the file (python, dir) are relative to the file's directory; see PoolConfig.
type Config struct {
	// Temporal says which Temporal service the worker connects to.
	Temporal TemporalConfig `yaml:"temporal"`
	// Pools are the Python pools; each gets its own Temporal worker and task queue.
	// Required: at least one.
	Pools []PoolConfig `yaml:"pools"`
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
	// LogLevel is the Python logging level (DEBUG, INFO, WARNING, ERROR). Default: the server's.
	LogLevel string `yaml:"log_level"`
	// StartTimeout bounds the start of one Python process, adapter import included. Default: 60s.
	StartTimeout time.Duration `yaml:"start_timeout"`
	// StopTimeout is how long a Python process has to exit before it is killed. Default: 5s.
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
}

// Defaults of Config.
const (
	DefaultAddress           = "localhost:7233"
	DefaultNamespace         = "default"
	DefaultWorkerStopTimeout = 10 * time.Second
)

var poolNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

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
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("the file is empty")
		}
		return Config{}, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("more than one YAML document")
	}
	if baseDir != "" {
		for i := range cfg.Pools {
			cfg.Pools[i].resolvePaths(baseDir)
		}
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
	}
	return c
}

// Validate checks c (after WithDefaults); the error names the offending field.
func (c Config) Validate() error {
	if c.Temporal.WorkerStopTimeout < 0 {
		return fmt.Errorf("temporal.worker_stop_timeout must be >= 0, got %s", c.Temporal.WorkerStopTimeout)
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
		if p.MaxWorkerMemoryMB < 0 {
			return bad("max_worker_memory_mb must be >= 0, got %d", p.MaxWorkerMemoryMB)
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
		Name:                 p.Name,
		Profile:              pools.Profile(p.Profile),
		Size:                 p.Size,
		ThreadsPerWorker:     p.ThreadsPerWorker,
		Adapter:              p.Adapter,
		Python:               p.Python,
		Env:                  p.Env,
		Dir:                  p.Dir,
		LogLevel:             p.LogLevel,
		StartTimeout:         p.StartTimeout,
		StopTimeout:          p.StopTimeout,
		DrainTimeout:         p.DrainTimeout,
		CancelGrace:          p.CancelGrace,
		MaxWorkerTTL:         p.MaxWorkerTTL,
		MaxRequestsPerWorker: p.MaxRequestsPerWorker,
		MaxWorkerMemory:      p.MaxWorkerMemoryMB << 20,
	}
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
