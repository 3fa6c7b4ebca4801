package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/worker"
)

// defaultConfig is the config file the verbs use when neither an adapter nor --config is given
// (the worker's default too).
const defaultConfig = "snakepool.yaml"

// cliPool names the pool of an adapter given on the command line.
const cliPool = "cli"

// targetFlags say which adapter a verb works on: an adapter given on the command line (with its
// interpreter, directory and profile), or the pools of a config file.
type targetFlags struct {
	config  string
	pool    string
	python  string
	dir     string
	profile string
	threads int
	env     keyValues
	set     map[string]bool // the flags given on the command line
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	t.env = keyValues{}
	fs.StringVar(&t.config, "config", "", "a worker config `file`: work on its pools (default: "+defaultConfig+" when no adapter is given and it exists)")
	fs.StringVar(&t.pool, "pool", "", "the config's pool `name` (default: every pool; call needs one when the config has several)")
	fs.StringVar(&t.python, "python", "", "the Python `interpreter` (default: the config's, else $VIRTUAL_ENV/bin/python, else python3)")
	fs.StringVar(&t.dir, "dir", "", "the `directory` the Python processes run in, on their sys.path (default: the config's, else .)")
	fs.StringVar(&t.profile, "profile", "", "the pool `profile`, process or thread (default: the config's, else process)")
	fs.IntVar(&t.threads, "threads", 0, "`N` calls at once per process in the thread profile (default: the config's, else 4)")
	fs.Var(t.env, "env", "`KEY=VALUE` added to the Python processes' environment (repeatable)")
}

// target is one pool a verb works on.
type target struct {
	// Pool is the pool's name (cliPool for an adapter given on the command line).
	Pool string
	// TaskQueue is the pool's activity task queue (from the config), or empty.
	TaskQueue string
	// Options are the pool's options, for one Python process.
	Options pools.Options
	// Tools are the tool names the config's per-tool settings name.
	Tools []string
}

// selection is what targetFlags resolved to.
type selection struct {
	// ConfigPath is the config file, or empty for an adapter given on the command line.
	ConfigPath string
	// Config is the loaded config (zero without ConfigPath).
	Config  worker.Config
	Targets []target
}

// resolve returns the pools to work on: the adapter, when not empty, or the config's pools.
// onePool requires a single pool (call).
func (t *targetFlags) resolve(fs *flag.FlagSet, adapter string, onePool bool, getenv func(string) string) (selection, error) {
	t.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { t.set[f.Name] = true })
	if t.threads < 0 {
		return selection{}, errors.New("--threads must be at least 1")
	}
	if t.profile != "" && t.profile != string(pools.ProfileProcess) && t.profile != string(pools.ProfileThread) {
		return selection{}, fmt.Errorf("--profile must be process or thread, not %q", t.profile)
	}
	if adapter != "" {
		if t.config != "" || t.pool != "" {
			return selection{}, fmt.Errorf("give an adapter (%s) or --config/--pool, not both", adapter)
		}
		if !strings.ContainsAny(adapter, ":.") {
			return selection{}, fmt.Errorf("adapter %q must look like package.module:Class", adapter)
		}
		opts := pools.Options{Name: cliPool, Adapter: adapter, Python: t.python, Dir: t.dir, Size: 1}
		if opts.Python == "" {
			opts.Python = defaultPython(getenv)
		}
		if opts.Dir == "" {
			opts.Dir = "."
		}
		t.apply(&opts)
		abs, err := filepath.Abs(opts.Dir)
		if err != nil {
			return selection{}, fmt.Errorf("--dir: %w", err)
		}
		opts.Dir = abs
		return selection{Targets: []target{{Pool: cliPool, Options: opts}}}, nil
	}
	path := t.config
	if path == "" {
		if _, err := os.Stat(defaultConfig); err != nil {
			return selection{}, fmt.Errorf("no adapter given and no %s here: give an adapter (package.module:Class) or --config FILE", defaultConfig)
		}
		path = defaultConfig
	}
	cfg, err := worker.LoadConfig(path)
	if err != nil {
		return selection{}, err
	}
	sel := selection{ConfigPath: path, Config: cfg}
	var names []string
	for _, pc := range cfg.Pools {
		names = append(names, pc.Name)
		if t.pool != "" && pc.Name != t.pool {
			continue
		}
		opts := pc.Options()
		opts.Size = 1
		if t.set["python"] {
			opts.Python = t.python
		}
		if t.set["dir"] {
			abs, err := filepath.Abs(t.dir)
			if err != nil {
				return selection{}, fmt.Errorf("--dir: %w", err)
			}
			opts.Dir = abs
		}
		t.apply(&opts)
		var tools []string
		for name := range pc.Tools {
			tools = append(tools, name)
		}
		sel.Targets = append(sel.Targets, target{Pool: pc.Name, TaskQueue: pc.TaskQueue, Options: opts, Tools: tools})
	}
	switch {
	case len(sel.Targets) == 0:
		return selection{}, fmt.Errorf("config %s has no pool %q (its pools: %s)", path, t.pool, strings.Join(names, ", "))
	case onePool && len(sel.Targets) > 1:
		return selection{}, fmt.Errorf("config %s has %d pools (%s): choose one with --pool", path, len(names), strings.Join(names, ", "))
	}
	return sel, nil
}

// apply sets the options that the profile, threads and env flags give.
func (t *targetFlags) apply(opts *pools.Options) {
	if t.profile != "" {
		opts.Profile = pools.Profile(t.profile)
		if opts.Profile == pools.ProfileProcess {
			opts.ThreadsPerWorker = 0
		}
	}
	if t.threads > 0 {
		opts.ThreadsPerWorker = t.threads
	}
	if len(t.env) > 0 {
		env := make(map[string]string, len(opts.Env)+len(t.env))
		for k, v := range opts.Env {
			env[k] = v
		}
		for k, v := range t.env {
			env[k] = v
		}
		opts.Env = env
	}
}

// defaultPython is the interpreter of an adapter given on the command line without --python: the
// active virtualenv's, else python3 from PATH.
func defaultPython(getenv func(string) string) string {
	if venv := getenv("VIRTUAL_ENV"); venv != "" {
		return filepath.Join(venv, "bin", "python")
	}
	return pools.DefaultPython
}

// describeTarget names a target for messages: "pool ml (mod:Class, /venv/bin/python)".
func describeTarget(t target) string {
	python := t.Options.Python
	if python == "" {
		python = pools.DefaultPython
	}
	if t.Pool == cliPool {
		return fmt.Sprintf("%s (%s)", t.Options.Adapter, python)
	}
	return fmt.Sprintf("pool %s (%s, %s)", t.Pool, t.Options.Adapter, python)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
