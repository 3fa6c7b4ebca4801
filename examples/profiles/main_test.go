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

// TestProfiles runs one round of the comparison against a dev server: the process pool runs its
// calls in two processes, the thread pool in two threads of one process, both compute the same
// results, and the table has a row per work and pool. (How long they take is the example's
// output, not something a test asserts.)
func TestProfiles(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ms, err := Compare(ctx, srv.Address, examplestest.Config(t, "examples/profiles/snakepool.yaml"), 1, 2)
	require.NoError(t, err)
	require.Len(t, ms, 4)
	byKey := map[string]Measurement{}
	for _, m := range ms {
		byKey[m.Work+"/"+m.Pool] = m
		assert.Len(t, m.Results, 2)
	}
	for _, wk := range works {
		procs, threads := byKey[wk.label+"/procs"], byKey[wk.label+"/threads"]
		assert.Equal(t, 2, procs.PIDs, "%s: the process pool's two processes", wk.label)
		assert.Equal(t, 2, procs.Threads, "%s: one thread in each", wk.label)
		assert.Equal(t, 1, threads.PIDs, "%s: the thread pool's one process", wk.label)
		assert.Equal(t, 2, threads.Threads, "%s: two threads in it", wk.label)
		for _, r := range append(procs.Results, threads.Results...) {
			assert.Equal(t, procs.Results[0], r, "%s: every call computes the same", wk.label)
		}
	}
	assert.EqualValues(t, 13848, byKey[works[0].label+"/procs"].Results[0], "primes below 150,000")

	var out bytes.Buffer
	Print(&out, ms, 2)
	assert.Regexp(t, `(?m)^CPU-bound pure Python\s+procs\s+2\s+2\s+\d+\.\d\ds`, out.String())
	assert.Regexp(t, `(?m)^GIL-releasing C \(hashlib\)\s+threads\s+1\s+2\s+\d+\.\d\ds`, out.String())
	t.Log("\n" + out.String())
}
