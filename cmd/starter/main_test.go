package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
	"github.com/snakepool/snakepool/workflows"
)

func runStarter(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestUsageAndSpecErrors(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no pipeline", nil, 2, "usage: snakepool-starter --pipeline FILE"},
		{"extra argument", []string{"--pipeline", "x.json", "extra"}, 2, "usage:"},
		{"help", []string{"-h"}, 0, "usage:"},
		{"missing file", []string{"--pipeline", "/nonexistent/p.json"}, 1, "/nonexistent/p.json"},
		{
			"invalid spec names file and field",
			[]string{"--pipeline", writeFile(t, "bad.json", `{"steps":[{"pool":"math"}]}`)},
			1, "bad.json: invalid pipeline: step 0: steps[0].tool: required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runStarter(t, tt.args...)
			assert.Equal(t, tt.wantCode, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.wantStderr)
		})
	}
}

func TestUIURL(t *testing.T) {
	assert.Equal(t, "http://localhost:8233/namespaces/default/workflows/pipeline-demo-1/run-2/history",
		uiURL("http://localhost:8233/", "default", "pipeline-demo-1", "run-2"))
	assert.Equal(t, "http://ui/namespaces/my%20ns/workflows/a%2Fb/r/history", uiURL("http://ui", "my ns", "a/b", "r"))
}

func TestPrintResult(t *testing.T) {
	result := workflows.PipelineResult{Results: []workflows.StepResult{
		{Step: 0, Name: "square", Pool: "math", Tool: "square", Result: json.RawMessage(`144`)},
		{Step: 1, Pool: "math", Tool: "stats", Result: json.RawMessage(`{ "mean": 1.5,  "n": 2 }`)},
	}}
	var readable bytes.Buffer
	require.NoError(t, printResult(&readable, result, false))
	assert.Equal(t, strings.Join([]string{
		"STEP    POOL  TOOL    RESULT",
		"square  math  square  144",
		`#1      math  stats   {"mean":1.5,"n":2}`,
		"",
	}, "\n"), readable.String())

	var asJSON bytes.Buffer
	require.NoError(t, printResult(&asJSON, result, true))
	var back workflows.PipelineResult
	require.NoError(t, json.Unmarshal(asJSON.Bytes(), &back))
	assert.Len(t, back.Results, 2)
	assert.Contains(t, asJSON.String(), "\n  \"results\": [", "indented")
}

// TestStarterEndToEnd runs the starter against a real dev server and a real worker that uses the
// example config and the example pipeline.
func TestStarterEndToEnd(t *testing.T) {
	root := testenv.RepoRoot(t)
	python := testenv.Python(t)
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	cfg, err := worker.LoadConfig(filepath.Join(root, "examples", "snakepool.yaml"))
	require.NoError(t, err)
	cfg.Temporal.Address = srv.Address
	cfg.Temporal.WorkerStopTimeout = 2 * time.Second
	for i := range cfg.Pools {
		cfg.Pools[i].Python = python
	}
	workertest.StartWorker(t, cfg)
	demo := filepath.Join(root, "examples", "pipelines", "demo.json")

	t.Run("readable", func(t *testing.T) {
		code, stdout, stderr := runStarter(t, "--pipeline", demo, "--address", srv.Address, "--workflow-id", "demo-readable")
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stderr, "Web UI: http://localhost:8233/namespaces/default/workflows/demo-readable/")
		assert.Regexp(t, `(?m)^square\s+math\s+square\s+144(\.0)?$`, stdout)
		assert.Regexp(t, `(?m)^is_prime\s+math\s+is_prime\s+true$`, stdout)
	})

	t.Run("json", func(t *testing.T) {
		code, stdout, stderr := runStarter(t, "--pipeline", demo, "--address", srv.Address, "--json", "--ui", "")
		require.Equal(t, 0, code, stderr)
		assert.NotContains(t, stderr, "Web UI")
		var result workflows.PipelineResult
		require.NoError(t, json.Unmarshal([]byte(stdout), &result), stdout)
		require.GreaterOrEqual(t, len(result.Results), 2)
		assert.JSONEq(t, `144`, string(result.Results[0].Result))
		assert.JSONEq(t, `true`, string(result.Results[1].Result))
	})

	t.Run("python exception", func(t *testing.T) {
		spec := writeFile(t, "fail.json", `{"steps":[{"name":"explode","pool":"math","tool":"fail",
			"args":{"message":"boom"},"retry":{"maximum_attempts":1}}]}`)
		code, stdout, stderr := runStarter(t, "--pipeline", spec, "--address", srv.Address)
		assert.Equal(t, 1, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, `pipeline failed: step explode (tool "fail" on pool "math") failed: ValueError: boom`)
		assert.Contains(t, stderr, "Traceback", "the Python traceback is printed")
	})

	t.Run("unknown tool", func(t *testing.T) {
		spec := writeFile(t, "cube.json", `{"steps":[{"pool":"math","tool":"cube","args":{"x":3}}]}`)
		code, _, stderr := runStarter(t, "--pipeline", spec, "--address", srv.Address)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, `ToolNotFound: pool "math" has no tool "cube"`)
	})

	t.Run("unreachable Temporal", func(t *testing.T) {
		code, _, stderr := runStarter(t, "--pipeline", demo, "--address", "127.0.0.1:1")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "connect to Temporal at 127.0.0.1:1")
	})
}
