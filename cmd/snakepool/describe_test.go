package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/examplestest"
)

func TestDescribeAnAdapter(t *testing.T) {
	r := runCLI(t, "describe", showcase, "--python", python(t))
	require.Equal(t, exitOK, r.code)
	lines := strings.Split(r.stdout, "\n")
	assert.Equal(t, showcase+" (python "+python(t)+")", lines[0])
	assert.Equal(t, "TOOL ARGUMENTS DESCRIPTION", squeeze(lines[1]))
	var rows []string
	for _, line := range lines[2:] {
		rows = append(rows, squeeze(line))
	}
	assert.Contains(t, rows, "square x: number Return x * x")
	assert.Contains(t, rows, "progress steps: integer = 5, interval: number = 0 Heartbeat `steps` times with progress, sleeping")
	assert.Contains(t, rows, "`interval` seconds between them", "a long description wraps")
	assert.Contains(t, rows, "echo **kwargs Echo the arguments back")
	assert.Contains(t, rows, "noop - Do nothing and return null (latency benchmarks)")
}

func TestDescribeJSONHasTheFullSchemas(t *testing.T) {
	r := runCLI(t, "describe", "cli_adapters:Talkative", "--dir", "testdata", "--python", python(t), "--json")
	require.Equal(t, exitOK, r.code)
	var pools []describedPool
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &pools))
	require.Len(t, pools, 1)
	assert.Equal(t, "cli_adapters:Talkative", pools[0].Adapter)
	assert.Equal(t, testdata(t), pools[0].Dir)
	require.Len(t, pools[0].Tools, 3)
	speak := pools[0].Tools[0]
	assert.Equal(t, "speak", speak.Name)
	assert.Equal(t, "Print text to stdout and stderr, and log it with ctx.logger.", speak.Description)
	assert.JSONEq(t, `{"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"], "additionalProperties": false}`,
		string(speak.InputSchema))
}

func TestDescribeAConfig(t *testing.T) {
	config := examplestest.Config(t, "examples/snakepool.yaml")
	r := runCLI(t, "describe", "--config", config)
	require.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "pool math: "+showcase+", task queue snakepool.math")
	assert.Contains(t, r.stdout, "pool io: "+showcase+", task queue snakepool.io")

	r = runCLI(t, "describe", "--config", config, "--pool", "io", "--json")
	require.Equal(t, exitOK, r.code)
	var pools []describedPool
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &pools))
	require.Len(t, pools, 1)
	assert.Equal(t, "snakepool.io", pools[0].TaskQueue)
}

func TestDescribeDoesNotRunSetup(t *testing.T) {
	r := runCLI(t, "describe", "cli_adapters:BrokenSetup", "--dir", "testdata", "--python", python(t))
	require.Equal(t, exitOK, r.code, "setup() raises, but describe only imports")
	assert.Contains(t, squeeze(r.stdout), "noop - Nothing.")
	assert.NotRegexp(t, ` \n`, r.stdout, "no trailing spaces")
}

func TestDescribeAnAdapterThatDoesNotImport(t *testing.T) {
	r := runCLI(t, "describe", "cli_missing_dependency:NeedsIt", "--dir", "testdata", "--python", python(t))
	assert.Equal(t, exitStart, r.code)
	assert.Contains(t, r.stderr, "cli_missing_dependency:NeedsIt cannot be imported: ModuleNotFoundError: No module named 'snakepool_cli_test_missing_dependency'")
	assert.Contains(t, r.stderr, "Traceback (most recent call last)")
	assert.Contains(t, r.stderr, `fix: install what provides the module "snakepool_cli_test_missing_dependency"`)
}
