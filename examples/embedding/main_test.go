package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/examplestest"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker/workertest"
)

// TestEmbedding runs the example against a dev server: Report's calls reach pool "math" on the
// program's own task queue and pool "io" on its own, the program's interceptor sees them, the
// activity type nobody registered reaches the program's dynamic activity (not the pool's
// ToolNotFound catch-all), and stopping leaves no Python process.
func TestEmbedding(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	config := examplestest.Config(t, "examples/embedding/snakepool.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, srv.Address, config, true))
	assert.Equal(t, "sum of squares 14, io computed 0.25; handled LegacyAudit by the program's dynamic activity\n"+
		"activities seen by the interceptor: square=3 compute=1 FormatReport=1 LegacyAudit=1\n", out.String())
	assert.Empty(t, examplestest.PythonChildren(t, os.Getpid()), "the pools' Python processes are stopped")
}
