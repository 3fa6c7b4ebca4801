package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/examplestest"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker/workertest"
)

// TestGoWorkflow runs the example against a dev server and the worker of examples/snakepool.yaml.
func TestGoWorkflow(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	examplestest.StartWorker(t, srv, "examples/snakepool.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, srv.Address, []float64{1, 2, 4, 6}))
	// 1 + 4 + 16 + 36 = 57 = 3 * 19.
	assert.Equal(t, "squares [1 4 16 36], sum 57 (prime: false), io slept and returned 0.09\n", out.String())
}
