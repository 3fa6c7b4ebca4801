// Package deploy_test checks the deployment files of deploy/ and docker-compose.yml against the
// code: the Grafana dashboard's metrics against a real worker's /metrics, the Kubernetes and
// systemd stop budgets against the worker's timeouts, the compose file with compose-go.
package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/examplestest"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// metricFamilies returns the metric names in a Prometheus text exposition (samples, with their
// _bucket, _sum and _count suffixes).
func metricFamilies(text string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		names[name] = true
	}
	return names
}

// promMetric matches the metric names in a PromQL expression: the project's and the SDK's.
var promMetric = regexp.MustCompile(`\b(?:snakepool|temporal|process|go)_[a-z0-9_]+\b`)

// dashboardExprs returns every PromQL expression of the dashboard's panels, by panel title.
func dashboardExprs(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var dashboard struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(data, &dashboard))
	require.NotEmpty(t, dashboard.Panels)
	out := map[string][]string{}
	for _, p := range dashboard.Panels {
		for _, target := range p.Targets {
			out[p.Title] = append(out[p.Title], target.Expr)
		}
	}
	return out
}

// TestGrafanaDashboardMetricsExist runs the worker binary with a pool that has devices, runs
// activities, and checks that every metric the Grafana dashboard queries is on its /metrics, and
// that /healthz and /metrics show the devices of the worker slots.
func TestGrafanaDashboardMetricsExist(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	c := srv.Client(t)
	callQueue := workertest.StartCallWorker(t, c)
	config := filepath.Join(t.TempDir(), "snakepool.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `
temporal:
  task_queue: snakepool-deploy-test
pools:
  - name: gpu
    size: 2
    adapter: snakepool.examples.showcase:ShowcaseAdapter
    python: %s
    devices: ["0", "1"]
`, testenv.Python(t)), 0o600))
	bin := examplestest.Build(t, "./cmd/worker")
	p := examplestest.Start(t, "", nil, bin, "--config", config, "--temporal-address", srv.Address,
		"--metrics-address", "127.0.0.1:0", "--log-format", "json")
	listening := p.WaitLog(t, "HTTP endpoint listening", time.Minute)
	base := "http://" + listening["address"].(string)
	p.WaitLog(t, worker.ReadyMessage, 2*time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, call := range []workertest.Call{
		{TaskQueue: "snakepool.gpu", Tool: "square", Args: json.RawMessage(`{"x": 3}`)},
		{TaskQueue: "snakepool.gpu", Tool: "fail", MaximumAttempts: 2}, // failures and retries
	} {
		_ = workertest.ExecuteCall(t, c, callQueue, call).Get(ctx, nil)
	}

	// A crash: the restart counter, and the replacement keeps slot 0's device.
	pythons := examplestest.PythonChildren(t, p.Cmd.Process.Pid)
	require.Len(t, pythons, 2)
	mark := p.Lines()
	require.NoError(t, syscall.Kill(pythons[0], syscall.SIGKILL))
	p.WaitLogFrom(t, mark, "python worker ready", 30*time.Second)

	code, body := httpGet(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code, body)
	var health worker.Health
	require.NoError(t, json.Unmarshal([]byte(body), &health))
	require.Len(t, health.Pools, 1)
	assert.Equal(t, []string{"0", "1"}, health.Pools[0].Devices, "/healthz: the device of each slot")
	assert.Equal(t, "CUDA_VISIBLE_DEVICES", health.Pools[0].DeviceEnv)

	exprs := dashboardExprs(t, filepath.Join(testenv.RepoRoot(t), "deploy", "grafana", "dashboards", "snakepool.json"))
	var missing []string
	assert.Eventually(t, func() bool {
		_, text := httpGet(t, base+"/metrics")
		have := metricFamilies(text)
		missing = nil
		for panel, list := range exprs {
			for _, expr := range list {
				for _, name := range promMetric.FindAllString(expr, -1) {
					if !have[name] {
						missing = append(missing, fmt.Sprintf("%s (panel %q)", name, panel))
					}
				}
			}
		}
		return len(missing) == 0 && strings.Contains(text, `snakepool_pool_worker_device{device="1",pool="gpu",slot="1"} 1`)
	}, 20*time.Second, 250*time.Millisecond, "metrics of the dashboard missing from /metrics")
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Errorf("the dashboard queries metrics that /metrics does not have: %s", strings.Join(missing, ", "))
		_, text := httpGet(t, base+"/metrics")
		names := []string{}
		for n := range metricFamilies(text) {
			names = append(names, n)
		}
		slices.Sort(names)
		t.Logf("/metrics has: %s", strings.Join(names, " "))
	}
}
