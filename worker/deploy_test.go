package worker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/snakepool/snakepool/internal/testenv"
)

// docker-compose.yml and the Dockerfile cannot be run here (no Docker engine); this keeps them
// consistent with the repository: the worker runs the example config, whose ../.venv/bin/python
// is the image's /app/.venv, and Temporal is reached by its service name. (deploy/compose_test.go
// validates the whole file with compose-go.)
func TestDockerComposeMatchesTheImage(t *testing.T) {
	root := testenv.RepoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Image      string   `yaml:"image"`
			Command    []string `yaml:"command"`
			Entrypoint []string `yaml:"entrypoint"`
			Ports      []string `yaml:"ports"`
			Build      *struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(data, &compose))

	temporal, ok := compose.Services["temporal"]
	require.True(t, ok, "a temporal service")
	assert.Equal(t, []string{"7233:7233"}, temporal.Ports, "the frontend")
	ui, ok := compose.Services["temporal-ui"]
	require.True(t, ok, "a Web UI service")
	assert.Equal(t, []string{"8233:8080"}, ui.Ports, "the Web UI on the port of the starter's links")

	w, ok := compose.Services["worker"]
	require.True(t, ok, "a worker service")
	require.NotNil(t, w.Build)
	dockerfile, err := os.ReadFile(filepath.Join(root, w.Build.Context, w.Build.Dockerfile))
	require.NoError(t, err)
	assert.Equal(t, []string{"--config", "/app/examples/snakepool.yaml", "--temporal-address", "temporal:7233",
		"--metrics-address", "0.0.0.0:9464", "--log-format", "json"}, w.Command)
	assert.Empty(t, w.Ports, "two replicas: no host port; Prometheus scrapes them on the compose network")
	prometheus, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus.yml"))
	require.NoError(t, err)
	assert.Contains(t, string(prometheus), "port: 9464", "Prometheus scrapes the workers' --metrics-address port")
	for _, want := range []string{
		"COPY examples/ /app/examples/",
		"python -m venv /app/.venv",
		"./cmd/worker",
		// tini is PID 1 and reaps zombies; the worker is its child (docs/reliability.md).
		"apt-get install -y --no-install-recommends tini",
		`ENTRYPOINT ["/usr/bin/tini", "--", "snakepool-worker"]`,
	} {
		assert.Contains(t, string(dockerfile), want)
	}
	config, err := os.ReadFile(filepath.Join(root, "examples", "snakepool.yaml"))
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(config), "python: ../.venv/bin/python"),
		"examples/snakepool.yaml's python resolves to /app/.venv/bin/python in the image")

	starter, ok := compose.Services["starter"]
	require.True(t, ok, "a starter service")
	assert.Equal(t, w.Image, starter.Image)
	pipeline := starter.Command[1]
	_, err = os.Stat(filepath.Join(root, strings.TrimPrefix(pipeline, "/app/")))
	assert.NoError(t, err, "the starter's pipeline %s exists in examples/", pipeline)
}
