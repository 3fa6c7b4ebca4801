package worker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/worker"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := worker.ParseConfig([]byte(`
pools:
  - name: math
    size: 2
    adapter: pkg.mod:Adapter
`), "/etc/snakepool")
	require.NoError(t, err)
	assert.Equal(t, worker.TemporalConfig{
		Address:           "localhost:7233",
		Namespace:         "default",
		TaskQueue:         "snakepool",
		WorkerStopTimeout: 10 * time.Second,
	}, cfg.Temporal)
	assert.Equal(t, worker.MetricsConfig{Address: "127.0.0.1:9464"}, cfg.Metrics)
	require.Len(t, cfg.Pools, 1)
	p := cfg.Pools[0]
	assert.Equal(t, activities.Options{MaxPayloadBytes: 2 << 20, HeartbeatInterval: 10 * time.Second, MaxCrashedAttempts: 3}, p.ActivityOptions())
	assert.Equal(t, "snakepool.math", p.TaskQueue)
	assert.Equal(t, "python3", p.Python, "a bare name stays a PATH lookup")
	assert.Equal(t, "/etc/snakepool", p.Dir, "Python runs in the config file's directory by default")
	opts := p.Options()
	assert.Equal(t, pools.Options{Name: "math", Profile: pools.ProfileProcess, Size: 2, Adapter: "pkg.mod:Adapter", Python: "python3", Dir: "/etc/snakepool"}, opts)
}

func TestParseConfigFull(t *testing.T) {
	cfg, err := worker.ParseConfig([]byte(`
temporal:
  address: temporal:7233
  namespace: ml
  task_queue: pipelines
  worker_stop_timeout: 1m
  identity: gpu-box-1
  tls:
    enabled: true
    ca_file: certs/ca.pem
    cert_file: /abs/client.pem
    key_file: certs/client.key
    server_name: temporal.internal
  api_key_file: secrets/key
metrics:
  address: 0.0.0.0:9090
pools:
  - name: cpu
    profile: thread
    size: 2
    threads_per_worker: 8
    adapter: pkg.mod:Adapter
    python: ../venv/bin/python
    dir: work
    env: {A: "1"}
    task_queue: gpu-box.cpu
    log_level: DEBUG
    start_timeout: 2m
    stop_timeout: 3s
    drain_timeout: 4s
    cancel_grace: 5s
    max_worker_ttl: 1h
    max_requests_per_worker: 100
    max_worker_memory_mb: 512
    memory_check_interval: 6s
    recycle_jitter: 0.2
    startup_batch_size: 3
    startup_batch_delay: 250ms
    health_check_interval: 7s
    health_check_timeout: 8s
    max_missed_health_checks: 9
    restart_backoff: 10ms
    max_restart_backoff: 11s
    crash_loop_threshold: 12
    crash_loop_window: 13m
    thread_safety_check: true
    max_payload_bytes: 1000
    heartbeat_interval: 14s
    max_crashed_attempts: 5
    progress_timeout: 15m
    tools:
      train: {progress_timeout: 2h}
      predict: {progress_timeout: -1s}
      other: {}
  - name: abs
    size: 1
    adapter: a:B
    python: /usr/bin/python3
    dir: /srv
`), "/etc/snakepool")
	require.NoError(t, err)
	assert.Equal(t, worker.TemporalConfig{
		Address: "temporal:7233", Namespace: "ml", TaskQueue: "pipelines", WorkerStopTimeout: time.Minute,
		Identity: "gpu-box-1",
		TLS: worker.TLSConfig{
			Enabled: true, CAFile: "/etc/snakepool/certs/ca.pem", CertFile: "/abs/client.pem",
			KeyFile: "/etc/snakepool/certs/client.key", ServerName: "temporal.internal",
		},
		APIKeyFile: "/etc/snakepool/secrets/key",
	}, cfg.Temporal)
	assert.Equal(t, worker.MetricsConfig{Address: "0.0.0.0:9090"}, cfg.Metrics)
	require.Len(t, cfg.Pools, 2)
	assert.Equal(t, pools.Options{
		Name: "cpu", Profile: pools.ProfileThread, Size: 2, ThreadsPerWorker: 8, Adapter: "pkg.mod:Adapter",
		Python: "/etc/venv/bin/python", Dir: "/etc/snakepool/work", Env: map[string]string{"A": "1"}, LogLevel: "DEBUG",
		StartTimeout: 2 * time.Minute, StopTimeout: 3 * time.Second, DrainTimeout: 4 * time.Second,
		CancelGrace: 5 * time.Second, MaxWorkerTTL: time.Hour, MaxRequestsPerWorker: 100, MaxWorkerMemory: 512 << 20,
		MemoryCheckInterval: 6 * time.Second, RecycleJitter: 0.2, StartupBatchSize: 3, StartupBatchDelay: 250 * time.Millisecond,
		HealthCheckInterval: 7 * time.Second, HealthCheckTimeout: 8 * time.Second, MaxMissedHealthChecks: 9,
		RestartBackoff: 10 * time.Millisecond, MaxRestartBackoff: 11 * time.Second,
		CrashLoopThreshold: 12, CrashLoopWindow: 13 * time.Minute, ThreadSafetyCheck: true,
	}, cfg.Pools[0].Options())
	assert.Equal(t, activities.Options{
		MaxPayloadBytes: 1000, HeartbeatInterval: 14 * time.Second, MaxCrashedAttempts: 5, ProgressTimeout: 15 * time.Minute,
		ToolProgressTimeouts: map[string]time.Duration{"train": 2 * time.Hour, "predict": -time.Second},
	}, cfg.Pools[0].ActivityOptions())
	assert.Equal(t, "gpu-box.cpu", cfg.Pools[0].TaskQueue)
	assert.Equal(t, "/usr/bin/python3", cfg.Pools[1].Python)
	assert.Equal(t, "/srv", cfg.Pools[1].Dir)
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"empty", ``, "the file is empty"},
		{"no pools", "temporal: {address: x:1}\n", "pools: at least one pool is required"},
		{"unknown top-level field", "pool: []\n", "line 1: field pool not found"},
		{"unknown pool field names field and line", "pools:\n  - name: a\n    size: 1\n    adapter: a:B\n    sizes: 2\n", "line 5: field sizes not found"},
		{"wrong type", "pools:\n  - name: a\n    size: two\n", "line 3: pools[0].size: cannot unmarshal !!str `two` into int"},
		{
			"bad duration", "temporal: {worker_stop_timeout: soon}\npools: []\n",
			"line 1: temporal.worker_stop_timeout: cannot unmarshal !!str `soon` into time.Duration (a duration such as \"30s\", \"5m\" or \"1h30m\")",
		},
		{
			"two wrong types on one line",
			"pools:\n  - {name: a, size: [2], adapter: a:B, stop_timeout: 3}\n",
			"line 2: pools[0].size: cannot unmarshal !!seq into int\n  line 2: pools[0].stop_timeout: cannot unmarshal !!int `3` into time.Duration",
		},
		{"wrong type in a map", "pools:\n  - name: a\n    env: {A: [1]}\n", "line 3: pools[0].env.A: cannot unmarshal !!seq into string"},
		{"pools not a list", "pools: 3\n", "line 1: pools: cannot unmarshal !!int `3` into []worker.PoolConfig"},
		{"not a mapping", "- math\n", "line 1: the top level (a mapping of temporal, metrics and pools): cannot unmarshal !!seq into worker.Config"},
		{
			"an alias names its own field",
			"temporal: {namespace: &one 1}\npools:\n  - {name: a, size: *one, adapter: a:B, stop_timeout: *one}\n",
			"line 1: pools[0].stop_timeout: cannot unmarshal !!int `1` into time.Duration (a duration",
		},
		{"a mapping for a list", "pools: {a: {b: 1}}\n", "line 1: pools: cannot unmarshal !!map into []worker.PoolConfig"},
		{"not UTF-8", "pools:\n  - name: caf\xe9\n", "line 2, column 14: byte 0xE9 is not valid UTF-8 (the file must be UTF-8 text)"},
		{"nested too deep", strings.Repeat("[", 10001), "yaml: exceeded max depth of 10000"},
		{"bad indentation", "pools:\n  - name: a\n   size: 1\n", "yaml: line 1: did not find expected '-' indicator"},
		{"missing name", "pools:\n  - size: 1\n    adapter: a:B\n", "line 2: pools[0]: name is required"},
		{"bad name", "pools:\n  - name: a b\n    size: 1\n    adapter: a:B\n", `line 2: pools[0] ("a b"): name must match`},
		{
			"duplicate name",
			"pools:\n  - name: a\n    size: 1\n    adapter: a:B\n  - name: a\n    size: 1\n    adapter: a:B\n",
			`line 5: pools[1] ("a"): name is also the name of pools[0]`,
		},
		{
			"task queue clash",
			"pools:\n  - name: a\n    size: 1\n    adapter: a:B\n    task_queue: snakepool\n",
			`pools[0] ("a"): task_queue "snakepool" is also the task queue of temporal.task_queue`,
		},
		{"size", "pools:\n  - name: a\n    adapter: a:B\n", `line 2: pools[0] ("a"): size must be >= 1, got 0`},
		{"adapter", "pools:\n  - name: a\n    size: 1\n    adapter: nocolon\n", `pools[0] ("a"): adapter must be "module:Class", got "nocolon"`},
		{"profile", "pools:\n  - name: a\n    size: 1\n    adapter: a:B\n    profile: fork\n", `pools[0] ("a"): profile must be "process" or "thread", got "fork"`},
		{"two documents", "pools: []\n---\npools: []\n", "more than one YAML document"},
		{
			"client certificate without key",
			"temporal: {tls: {cert_file: c.pem}}\npools:\n  - name: a\n    size: 1\n    adapter: a:B\n",
			"temporal.tls: cert_file and key_file must be set together",
		},
		{
			"two API keys",
			"temporal: {api_key: k, api_key_file: f}\npools:\n  - name: a\n    size: 1\n    adapter: a:B\n",
			"temporal: set api_key or api_key_file, not both",
		},
		{
			"negative heartbeat interval",
			"pools:\n  - name: a\n    size: 1\n    adapter: a:B\n    heartbeat_interval: -1s\n",
			`pools[0] ("a"): heartbeat_interval must be >= 0, got -1s`,
		},
		{
			"memory limit whose bytes overflow",
			"pools:\n  - name: a\n    size: 1\n    adapter: a:B\n    max_worker_memory_mb: 17592186044416\n",
			`line 2: pools[0] ("a"): max_worker_memory_mb must be from 0 to 8796093022207, got 17592186044416`,
		},
		{
			"negative progress timeout",
			"pools:\n  - name: a\n    size: 1\n    adapter: a:B\n    progress_timeout: -1s\n",
			`pools[0] ("a"): progress_timeout must be >= 0 (0: off), got -1s`,
		},
		{
			"pool option checked by the pools package",
			"pools:\n  - name: a\n    size: 1\n    adapter: a:B\n    recycle_jitter: 1.5\n",
			`line 2: pools[0] ("a"): recycle_jitter must be in [0, 1), got 1.5`,
		},
		{"unknown tls field", "temporal: {tls: {insecure: true}}\npools: []\n", "field insecure not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := worker.ParseConfig([]byte(tt.yaml), "")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestLoadConfigNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(path, []byte("pools:\n  - name: a\n    colour: blue\n"), 0o600))
	_, err := worker.LoadConfig(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "config "+path+": ")
	assert.Contains(t, err.Error(), "line 3: field colour not found")

	_, err = worker.LoadConfig(filepath.Join(dir, "missing.yaml"))
	require.Error(t, err)
	assert.Equal(t, "config: open "+filepath.Join(dir, "missing.yaml")+": no such file or directory", err.Error())
}

// The example config must stay valid, and its python must be the repository's .venv.
func TestExampleConfig(t *testing.T) {
	root := testenv.RepoRoot(t)
	cfg, err := worker.LoadConfig(filepath.Join(root, "examples", "snakepool.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, cfg.Pools)
	assert.Equal(t, "math", cfg.Pools[0].Name)
	assert.Equal(t, filepath.Join(root, ".venv", "bin", "python"), cfg.Pools[0].Python)
}
