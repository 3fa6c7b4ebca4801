// Package pythonworkflow_test runs the example of this directory (docs/examples.md).
package pythonworkflow_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/examplestest"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker/workertest"
)

// TestPythonWorkflow runs workflow.py (a Temporal Python SDK worker and client) against a dev
// server and the worker of examples/snakepool.yaml: its workflow calls the square tool by name
// and runs Pipeline as a child workflow.
func TestPythonWorkflow(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	examplestest.StartWorker(t, srv, "examples/snakepool.yaml")
	p := examplestest.Start(t, "", nil, testenv.Python(t), "examples/python-workflow/workflow.py",
		"--address", srv.Address, "--x", "4")
	require.NoError(t, p.Wait(t, 2*time.Minute), p.Output())
	var result struct {
		Square   float64 `json:"square"`
		Pipeline struct {
			Results []struct {
				Name   string          `json:"name"`
				Result json.RawMessage `json:"result"`
			} `json:"results"`
		} `json:"pipeline"`
	}
	require.NoError(t, json.Unmarshal([]byte(p.Stdout()), &result), p.Output())
	assert.Equal(t, 16.0, result.Square)
	require.Len(t, result.Pipeline.Results, 2)
	assert.JSONEq(t, `[225, 289]`, string(result.Pipeline.Results[0].Result), "15² and 17²")
	assert.JSONEq(t, `true`, string(result.Pipeline.Results[1].Result), "17 is prime")
}
