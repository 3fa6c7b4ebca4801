package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/worker"
)

// subprocessEnv, set to 1, makes the test binary run main() instead of the tests: the integration
// test runs the worker command as a child process that way.
const subprocessEnv = "SNAKEPOOL_WORKER_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(subprocessEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// env returns a getenv over vars.
func env(vars map[string]string) func(string) string {
	return func(key string) string { return vars[key] }
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("pools:\n  - name: m\n    sise: 1\n"), 0o600))
	good := writeConfig(t, dir, "")
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStderr string
	}{
		{"help", []string{"-h"}, nil, 0, "usage: snakepool-worker"},
		{"unknown flag", []string{"--nope"}, nil, 2, "flag provided but not defined"},
		{"extra argument", []string{"extra"}, nil, 2, "unexpected arguments: extra"},
		{"bad log level", []string{"--log-level", "loud", "--config", good}, nil, 2, "--log-level: slog: level string"},
		{"bad log level in the environment", []string{"--config", good}, map[string]string{"SNAKEPOOL_LOG_LEVEL": "loud"}, 2, "SNAKEPOOL_LOG_LEVEL:"},
		{"bad log format", []string{"--log-format", "xml", "--config", good}, nil, 2, `--log-format: must be text or json, got "xml"`},
		{"bad shutdown timeout", []string{"--shutdown-timeout", "0s", "--config", good}, nil, 2, "--shutdown-timeout: want a positive duration"},
		{"missing config", []string{"--config", filepath.Join(dir, "missing.yaml")}, nil, 1, "missing.yaml"},
		{"missing default config", nil, map[string]string{"SNAKEPOOL_CONFIG": filepath.Join(dir, "nope.yaml")}, 1, "nope.yaml"},
		{"invalid config", []string{"--config", bad}, nil, 1, "bad.yaml: yaml: unmarshal errors:\n  line 3: field sise not found"},
		{"bad bool in the environment", []string{"--config", good}, map[string]string{"SNAKEPOOL_TLS": "maybe"}, 2, `SNAKEPOOL_TLS="maybe": strconv.ParseBool`},
		{"bad duration flag", []string{"--config", good, "--worker-stop-timeout", "soon"}, nil, 2, `--worker-stop-timeout="soon"`},
		{"two API keys", []string{"--config", good}, map[string]string{"SNAKEPOOL_API_KEY": "k", "SNAKEPOOL_API_KEY_FILE": "/k"}, 2, "set SNAKEPOOL_API_KEY or SNAKEPOOL_API_KEY_FILE, not both"},
		{"client certificate without key", []string{"--config", good, "--tls-cert", "c.pem"}, nil, 1, "temporal.tls: cert_file and key_file must be set together"},
		{"Temporal unreachable", []string{"--config", good, "--temporal-address", "127.0.0.1:1", "--metrics-address", "off"}, nil, 1, `connect to Temporal at 127.0.0.1:1 (namespace \"default\", tls false)`},
		{"bad metrics address", []string{"--config", good, "--metrics-address", "256.0.0.1:1"}, nil, 1, "metrics endpoint: listen tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			assert.Equal(t, tt.wantCode, run(tt.args, env(tt.env), &stderr))
			assert.Contains(t, stderr.String(), tt.wantStderr)
		})
	}
}

// writeConfig writes a config file with one pool and the temporal section extra (YAML lines
// indented under temporal:, or empty), and returns its path.
func writeConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	path := filepath.Join(dir, "snakepool.yaml")
	text := "pools:\n  - name: math\n    size: 1\n    adapter: pkg.mod:Adapter\n"
	if extra != "" {
		text = extra + text
	}
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// Settings come from flags, then SNAKEPOOL_* environment variables, then the file, then defaults.
func TestSettingsPrecedence(t *testing.T) {
	const file = `temporal:
  address: file:7233
  namespace: file-ns
  identity: file-id
  api_key_file: key.txt
metrics:
  address: 127.0.0.1:1111
`
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		args  []string
		check func(t *testing.T, s settings, dir string)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, s settings, _ string) {
				assert.Equal(t, "localhost:7233", s.cfg.Temporal.Address)
				assert.Equal(t, "default", s.cfg.Temporal.Namespace)
				assert.Equal(t, "snakepool", s.cfg.Temporal.TaskQueue)
				assert.Equal(t, 10*time.Second, s.cfg.Temporal.WorkerStopTimeout)
				assert.Equal(t, worker.DefaultMetricsAddress, s.cfg.Metrics.Address)
				assert.Equal(t, "127.0.0.1:9464", s.cfg.Metrics.Address)
				assert.False(t, s.cfg.Temporal.TLS.On())
				assert.Empty(t, s.cfg.Temporal.APIKey)
				assert.Equal(t, "INFO", s.logLevel.String())
				assert.Equal(t, "text", s.logFormat)
				assert.Equal(t, time.Minute, s.shutdownTimeout)
			},
		},
		{
			name: "the file beats the defaults; its paths are relative to it",
			file: file,
			check: func(t *testing.T, s settings, dir string) {
				assert.Equal(t, "file:7233", s.cfg.Temporal.Address)
				assert.Equal(t, "file-ns", s.cfg.Temporal.Namespace)
				assert.Equal(t, "file-id", s.cfg.Temporal.Identity)
				assert.Equal(t, filepath.Join(dir, "key.txt"), s.cfg.Temporal.APIKeyFile)
				assert.Equal(t, "127.0.0.1:1111", s.cfg.Metrics.Address)
			},
		},
		{
			name: "the environment beats the file",
			file: file,
			env: map[string]string{
				"SNAKEPOOL_TEMPORAL_ADDRESS":    "env:7233",
				"SNAKEPOOL_NAMESPACE":           "env-ns",
				"SNAKEPOOL_IDENTITY":            "env-id",
				"SNAKEPOOL_API_KEY":             "secret",
				"SNAKEPOOL_METRICS_ADDRESS":     "off",
				"SNAKEPOOL_TASK_QUEUE":          "env-tq",
				"SNAKEPOOL_WORKER_STOP_TIMEOUT": "3s",
				"SNAKEPOOL_LOG_LEVEL":           "debug",
				"SNAKEPOOL_LOG_FORMAT":          "json",
				"SNAKEPOOL_SHUTDOWN_TIMEOUT":    "2m",
				"SNAKEPOOL_TLS":                 "true",
				"SNAKEPOOL_TLS_CA":              "ca.pem",
				"SNAKEPOOL_TLS_CERT":            "c.pem",
				"SNAKEPOOL_TLS_KEY":             "k.pem",
				"SNAKEPOOL_TLS_SERVER_NAME":     "temporal.example",
			},
			check: func(t *testing.T, s settings, _ string) {
				assert.Equal(t, "env:7233", s.cfg.Temporal.Address)
				assert.Equal(t, "env-ns", s.cfg.Temporal.Namespace)
				assert.Equal(t, "env-id", s.cfg.Temporal.Identity)
				assert.Equal(t, "env-tq", s.cfg.Temporal.TaskQueue)
				assert.Equal(t, 3*time.Second, s.cfg.Temporal.WorkerStopTimeout)
				assert.Equal(t, "secret", s.cfg.Temporal.APIKey)
				assert.Empty(t, s.cfg.Temporal.APIKeyFile, "SNAKEPOOL_API_KEY replaces the file's api_key_file")
				assert.Equal(t, worker.MetricsOff, s.cfg.Metrics.Address)
				assert.Equal(t, worker.TLSConfig{Enabled: true, CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "temporal.example"}, s.cfg.Temporal.TLS)
				assert.Equal(t, "DEBUG", s.logLevel.String())
				assert.Equal(t, "json", s.logFormat)
				assert.Equal(t, 2*time.Minute, s.shutdownTimeout)
			},
		},
		{
			name: "flags beat the environment",
			file: file,
			env: map[string]string{
				"SNAKEPOOL_TEMPORAL_ADDRESS": "env:7233", "SNAKEPOOL_NAMESPACE": "env-ns", "SNAKEPOOL_API_KEY": "secret",
				"SNAKEPOOL_METRICS_ADDRESS": "off", "SNAKEPOOL_LOG_LEVEL": "debug", "SNAKEPOOL_TLS": "true",
				"SNAKEPOOL_TLS_CA": "env-ca.pem",
			},
			args: []string{
				"--temporal-address", "flag:7233", "--namespace", "flag-ns", "--api-key-file", "/run/key",
				"--metrics-address", "127.0.0.1:0", "--log-level", "warn", "--tls=false", "--tls-ca", "flag-ca.pem",
				"--shutdown-timeout", "5s",
			},
			check: func(t *testing.T, s settings, _ string) {
				assert.Equal(t, "flag:7233", s.cfg.Temporal.Address)
				assert.Equal(t, "flag-ns", s.cfg.Temporal.Namespace)
				assert.Equal(t, "/run/key", s.cfg.Temporal.APIKeyFile)
				assert.Empty(t, s.cfg.Temporal.APIKey, "--api-key-file replaces SNAKEPOOL_API_KEY")
				assert.Equal(t, "127.0.0.1:0", s.cfg.Metrics.Address)
				assert.Equal(t, "WARN", s.logLevel.String())
				assert.False(t, s.cfg.Temporal.TLS.Enabled)
				assert.Equal(t, "flag-ca.pem", s.cfg.Temporal.TLS.CAFile)
				assert.Equal(t, 5*time.Second, s.shutdownTimeout)
			},
		},
		{
			name: "a bare --tls turns TLS on",
			args: []string{"--tls"},
			check: func(t *testing.T, s settings, _ string) {
				assert.True(t, s.cfg.Temporal.TLS.Enabled)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeConfig(t, dir, tt.file)
			vars := map[string]string{"SNAKEPOOL_CONFIG": path}
			for k, v := range tt.env {
				vars[k] = v
			}
			var stderr bytes.Buffer
			s, code := configure(tt.args, env(vars), &stderr)
			require.Equal(t, -1, code, stderr.String())
			assert.Equal(t, path, s.configPath)
			tt.check(t, s, dir)
		})
	}
}

// --config beats SNAKEPOOL_CONFIG.
func TestConfigFlagBeatsTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "")
	var stderr bytes.Buffer
	s, code := configure([]string{"--config", path}, env(map[string]string{"SNAKEPOOL_CONFIG": filepath.Join(dir, "other.yaml")}), &stderr)
	require.Equal(t, -1, code, stderr.String())
	assert.Equal(t, path, s.configPath)
}
