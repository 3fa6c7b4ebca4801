package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/worker"
)

// stopMargin is the slack a stop budget keeps over the worker's own timeouts.
const stopMargin = 10 * time.Second

// checkStopBudget checks that a supervisor's grace period (Kubernetes'
// terminationGracePeriodSeconds, systemd's TimeoutStopSec) fits the worker's stop: after SIGTERM
// the running activities get temporal.worker_stop_timeout, the calls still running then get each
// pool's drain_timeout, and the Python processes each pool's stop_timeout; --shutdown-timeout
// must cover all of it (it bounds the pools' part), and the grace must cover the shutdown timeout,
// a last stop_timeout and a margin, or the supervisor's SIGKILL cuts a graceful stop short.
func checkStopBudget(t *testing.T, cfg worker.Config, shutdown, grace time.Duration) {
	t.Helper()
	var drainAndStop, stop time.Duration
	for _, p := range cfg.Pools {
		o := p.Options()
		require.NoError(t, o.Validate())
		d, s := o.DrainTimeout, o.StopTimeout
		if d == 0 {
			d = pools.DefaultDrainTimeout
		}
		if s == 0 {
			s = pools.DefaultStopTimeout
		}
		drainAndStop, stop = max(drainAndStop, d+s), max(stop, s)
	}
	need := cfg.Temporal.WorkerStopTimeout + drainAndStop
	assert.GreaterOrEqual(t, shutdown, need,
		"--shutdown-timeout %s < worker_stop_timeout %s + drain_timeout and stop_timeout %s", shutdown, cfg.Temporal.WorkerStopTimeout, drainAndStop)
	assert.GreaterOrEqual(t, grace, shutdown+stop+stopMargin,
		"the grace period %s < --shutdown-timeout %s + stop_timeout %s + %s", grace, shutdown, stop, stopMargin)
}

// shutdownFlag returns the value of --shutdown-timeout in args, or the worker's default.
func shutdownFlag(t *testing.T, args []string) time.Duration {
	t.Helper()
	for i, a := range args {
		if a == "--shutdown-timeout" && i+1 < len(args) {
			d, err := time.ParseDuration(args[i+1])
			require.NoError(t, err)
			return d
		}
	}
	return worker.DefaultShutdownTimeout
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// TestKubernetesDeployment: the worker's probes are liveness on /livez and readiness on /readyz on
// the metrics port of the config, and the pod's termination grace fits the stop budget of the
// config in the ConfigMap.
func TestKubernetesDeployment(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deploy", "kubernetes", "worker.yaml"))
	require.NoError(t, err)
	var configYAML string
	var pod struct {
		TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
		Containers                    []struct {
			Args  []string `yaml:"args"`
			Ports []struct {
				Name          string `yaml:"name"`
				ContainerPort int    `yaml:"containerPort"`
			} `yaml:"ports"`
			Liveness  probe `yaml:"livenessProbe"`
			Readiness probe `yaml:"readinessProbe"`
			Startup   probe `yaml:"startupProbe"`
		} `yaml:"containers"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
			Spec struct {
				Template struct {
					Spec yaml.Node `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		switch doc.Kind {
		case "ConfigMap":
			configYAML = doc.Data["snakepool.yaml"]
		case "Deployment":
			require.NoError(t, doc.Spec.Template.Spec.Decode(&pod))
		}
	}
	require.NotEmpty(t, configYAML, "the ConfigMap holds snakepool.yaml")
	cfg, err := worker.ParseConfig([]byte(configYAML), "")
	require.NoError(t, err, "the ConfigMap's snakepool.yaml is a valid worker config")
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]

	_, port, _ := strings.Cut(cfg.Metrics.Address, ":")
	require.Len(t, c.Ports, 1)
	assert.Equal(t, port, strconv.Itoa(c.Ports[0].ContainerPort), "the container port is the config's metrics port")
	for name, p := range map[string]probe{"liveness": c.Liveness, "readiness": c.Readiness, "startup": c.Startup} {
		assert.Equal(t, c.Ports[0].Name, p.HTTPGet.Port, "%s probe port", name)
	}
	assert.Equal(t, "/livez", c.Liveness.HTTPGet.Path)
	assert.Equal(t, "/readyz", c.Readiness.HTTPGet.Path)
	assert.Equal(t, "/livez", c.Startup.HTTPGet.Path)
	checkStopBudget(t, cfg, shutdownFlag(t, c.Args), time.Duration(pod.TerminationGracePeriodSeconds)*time.Second)
}

// TestSystemdUnit: TimeoutStopSec fits the stop budget of a config with the default timeouts,
// and the unit stops the worker with SIGTERM to the main process only (the worker stops its
// Python processes itself; the final SIGKILL reaches the whole cgroup).
func TestSystemdUnit(t *testing.T) {
	f, err := os.Open(filepath.Join(testenv.RepoRoot(t), "deploy", "systemd", "snakepool-worker.service"))
	require.NoError(t, err)
	defer f.Close()
	unit := map[string]string{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			unit[k] = v
		}
	}
	require.NoError(t, scanner.Err())
	assert.Equal(t, "mixed", unit["KillMode"])
	assert.Equal(t, "SIGTERM", unit["KillSignal"])
	grace, err := strconv.Atoi(unit["TimeoutStopSec"])
	require.NoError(t, err)
	args := regexp.MustCompile(`\s+`).Split(unit["ExecStart"], -1)
	require.Equal(t, "/usr/local/bin/snakepool-worker", args[0])
	cfg, err := worker.ParseConfig([]byte("pools: [{name: p, size: 1, adapter: 'm:C'}]"), "")
	require.NoError(t, err)
	checkStopBudget(t, cfg, shutdownFlag(t, args[1:]), time.Duration(grace)*time.Second)
}
