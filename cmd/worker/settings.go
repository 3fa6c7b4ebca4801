package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/snakepool/snakepool/worker"
)

// settings are the resolved settings of a run.
type settings struct {
	configPath      string
	cfg             worker.Config
	logLevel        slog.Level
	logFormat       string
	shutdownTimeout time.Duration
}

func (s settings) logger(w io.Writer) *slog.Logger { return newLogger(w, s.logLevel, s.logFormat) }

// Defaults of the settings that are not in the config file.
const (
	defaultConfigPath = "snakepool.yaml"
	defaultLogLevel   = "info"
	defaultLogFormat  = "text"
)

// option is a setting that a flag and an environment variable can set. A flag that is given
// beats the environment variable, which beats the config file (for config settings), which
// beats the default.
type option struct {
	flag  string // without the dashes; empty: environment only
	env   string // empty: flag only
	usage string
	// isBool makes the flag a boolean flag (--tls means --tls=true).
	isBool bool
	// apply sets the value in the config (nil for the settings outside the config file).
	apply func(cfg *worker.Config, value string) error
}

// options are the settings of the config file that flags and the environment override.
var options = []option{
	{flag: "temporal-address", env: "SNAKEPOOL_TEMPORAL_ADDRESS", usage: "Temporal frontend `host:port` (temporal.address)",
		apply: func(c *worker.Config, v string) error { c.Temporal.Address = v; return nil }},
	{flag: "namespace", env: "SNAKEPOOL_NAMESPACE", usage: "Temporal `namespace` (temporal.namespace)",
		apply: func(c *worker.Config, v string) error { c.Temporal.Namespace = v; return nil }},
	{flag: "task-queue", env: "SNAKEPOOL_TASK_QUEUE", usage: "`task queue` of the Pipeline workflow (temporal.task_queue)",
		apply: func(c *worker.Config, v string) error { c.Temporal.TaskQueue = v; return nil }},
	{flag: "identity", env: "SNAKEPOOL_IDENTITY", usage: "worker `identity` shown by Temporal (temporal.identity)",
		apply: func(c *worker.Config, v string) error { c.Temporal.Identity = v; return nil }},
	{flag: "worker-stop-timeout", env: "SNAKEPOOL_WORKER_STOP_TIMEOUT", usage: "`duration` running activities get to finish on stop (temporal.worker_stop_timeout)",
		apply: func(c *worker.Config, v string) error {
			d, err := time.ParseDuration(v)
			c.Temporal.WorkerStopTimeout = d
			return err
		}},
	{flag: "tls", env: "SNAKEPOOL_TLS", isBool: true, usage: "connect to Temporal with TLS (temporal.tls.enabled)",
		apply: func(c *worker.Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.Temporal.TLS.Enabled = b
			return err
		}},
	{flag: "tls-ca", env: "SNAKEPOOL_TLS_CA", usage: "PEM `file` of the CA certificates that verify the server (temporal.tls.ca_file)",
		apply: func(c *worker.Config, v string) error { c.Temporal.TLS.CAFile = v; return nil }},
	{flag: "tls-cert", env: "SNAKEPOOL_TLS_CERT", usage: "PEM client certificate `file` for mutual TLS (temporal.tls.cert_file)",
		apply: func(c *worker.Config, v string) error { c.Temporal.TLS.CertFile = v; return nil }},
	{flag: "tls-key", env: "SNAKEPOOL_TLS_KEY", usage: "PEM client key `file` for mutual TLS (temporal.tls.key_file)",
		apply: func(c *worker.Config, v string) error { c.Temporal.TLS.KeyFile = v; return nil }},
	{flag: "tls-server-name", env: "SNAKEPOOL_TLS_SERVER_NAME", usage: "server `name` to verify (temporal.tls.server_name)",
		apply: func(c *worker.Config, v string) error { c.Temporal.TLS.ServerName = v; return nil }},
	{env: "SNAKEPOOL_API_KEY", usage: "Temporal API key (temporal.api_key)",
		apply: func(c *worker.Config, v string) error { c.Temporal.APIKey, c.Temporal.APIKeyFile = v, ""; return nil }},
	{flag: "api-key-file", env: "SNAKEPOOL_API_KEY_FILE", usage: "`file` holding the Temporal API key (temporal.api_key_file)",
		apply: func(c *worker.Config, v string) error { c.Temporal.APIKeyFile, c.Temporal.APIKey = v, ""; return nil }},
	{flag: "metrics-address", env: "SNAKEPOOL_METRICS_ADDRESS", usage: "`host:port` of /metrics, /livez, /readyz and /healthz, or \"off\" (metrics.address)",
		apply: func(c *worker.Config, v string) error { c.Metrics.Address = v; return nil }},
}

// stringValue is a flag.Value that remembers whether it was set.
type stringValue struct {
	value  string
	isBool bool
}

func (v *stringValue) String() string     { return v.value }
func (v *stringValue) Set(s string) error { v.value = s; return nil }
func (v *stringValue) IsBoolFlag() bool   { return v.isBool }

// configure parses the flags and resolves the settings. It returns the settings and -1, or an
// exit code once it has written why to stderr.
func configure(args []string, getenv func(string) string, stderr io.Writer) (settings, int) {
	flags := flag.NewFlagSet("snakepool-worker", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", fmt.Sprintf("the YAML config `file` (env SNAKEPOOL_CONFIG; default %s)", defaultConfigPath))
	logLevel := flags.String("log-level", "", "log `level`: debug, info, warn or error (env SNAKEPOOL_LOG_LEVEL; default info)")
	logFormat := flags.String("log-format", "", "log `format`: text or json (env SNAKEPOOL_LOG_FORMAT; default text)")
	shutdown := flags.String("shutdown-timeout", "", fmt.Sprintf("`duration` bounding the whole stop after a signal (env SNAKEPOOL_SHUTDOWN_TIMEOUT; default %s)", worker.DefaultShutdownTimeout))
	values := make([]*stringValue, len(options))
	for i, o := range options {
		values[i] = &stringValue{isBool: o.isBool}
		if o.flag != "" {
			flags.Var(values[i], o.flag, fmt.Sprintf("%s (env %s)", o.usage, o.env))
		}
	}
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: snakepool-worker [flags]")
		fmt.Fprintln(stderr, "Runs the Python pools of the config as Temporal activity workers until SIGINT/SIGTERM.")
		fmt.Fprintln(stderr, "Precedence: flags, then SNAKEPOOL_* environment variables, then the config file, then defaults.")
		fmt.Fprintln(stderr, "SNAKEPOOL_API_KEY sets the Temporal API key (temporal.api_key); there is no flag for it.")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return settings{}, 0
		}
		return settings{}, 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "snakepool-worker: unexpected arguments: %s\n", strings.Join(flags.Args(), " "))
		return settings{}, 2
	}
	given := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { given[f.Name] = true })
	// pick returns the flag's value if it was given, else the environment's if set, else def.
	pick := func(flagName string, flagValue string, env, def string) (value, source string) {
		if given[flagName] {
			return flagValue, "--" + flagName
		}
		if v := getenv(env); v != "" {
			return v, env
		}
		return def, ""
	}
	usage := func(format string, args ...any) (settings, int) {
		fmt.Fprintf(stderr, "snakepool-worker: "+format+"\n", args...)
		return settings{}, 2
	}

	var s settings
	level, source := pick("log-level", *logLevel, "SNAKEPOOL_LOG_LEVEL", defaultLogLevel)
	if err := s.logLevel.UnmarshalText([]byte(level)); err != nil {
		return usage("%s: %v", or(source, "log level"), err)
	}
	format, source := pick("log-format", *logFormat, "SNAKEPOOL_LOG_FORMAT", defaultLogFormat)
	var err error
	if s.logFormat, err = parseLogFormat(format); err != nil {
		return usage("%s: %v", or(source, "log format"), err)
	}
	timeout, source := pick("shutdown-timeout", *shutdown, "SNAKEPOOL_SHUTDOWN_TIMEOUT", worker.DefaultShutdownTimeout.String())
	if s.shutdownTimeout, err = time.ParseDuration(timeout); err != nil || s.shutdownTimeout <= 0 {
		return usage("%s: want a positive duration such as 1m, got %q", or(source, "shutdown timeout"), timeout)
	}
	s.configPath, _ = pick("config", *configPath, "SNAKEPOOL_CONFIG", defaultConfigPath)

	s.cfg, err = worker.LoadConfig(s.configPath)
	if err != nil {
		fmt.Fprintf(stderr, "snakepool-worker: %v\n", err)
		return settings{}, 1
	}
	// The environment first, then the flags, so that a flag wins.
	for _, o := range options {
		if o.env == "" {
			continue
		}
		if v := getenv(o.env); v != "" {
			if err := o.apply(&s.cfg, v); err != nil {
				return usage("%s=%q: %v", o.env, v, err)
			}
		}
	}
	for i, o := range options {
		if o.flag != "" && given[o.flag] {
			if err := o.apply(&s.cfg, values[i].value); err != nil {
				return usage("--%s=%q: %v", o.flag, values[i].value, err)
			}
		}
	}
	if getenv("SNAKEPOOL_API_KEY") != "" && getenv("SNAKEPOOL_API_KEY_FILE") != "" && !given["api-key-file"] {
		return usage("set SNAKEPOOL_API_KEY or SNAKEPOOL_API_KEY_FILE, not both")
	}
	s.cfg = s.cfg.WithDefaults()
	if err := s.cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "snakepool-worker: config %s with flags and environment: %v\n", s.configPath, err)
		return settings{}, 1
	}
	return s, -1
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
