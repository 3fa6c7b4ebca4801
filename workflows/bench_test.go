package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
	"github.com/snakepool/snakepool/workflows"
)

// BenchmarkPipelineMap runs a map of `square` over many items on a real dev server and real Python
// pools (examples/snakepool.yaml), and reports the items per second and the longest history of
// the pipeline and its chunk workflows. It is not part of the default test run:
//
//	go test -run '^$' -bench PipelineMap -benchtime 1x ./workflows/
//
// Environment: SNAKEPOOL_BENCH_ITEMS (default 10000), SNAKEPOOL_BENCH_POOL (default math),
// SNAKEPOOL_BENCH_CONCURRENCY (default 16), SNAKEPOOL_BENCH_CHUNK (default 500).
func BenchmarkPipelineMap(b *testing.B) {
	items := envInt(b, "SNAKEPOOL_BENCH_ITEMS", 10000)
	concurrency := envInt(b, "SNAKEPOOL_BENCH_CONCURRENCY", 16)
	chunk := envInt(b, "SNAKEPOOL_BENCH_CHUNK", workflows.DefaultMapChunkSize)
	pool := os.Getenv("SNAKEPOOL_BENCH_POOL")
	if pool == "" {
		pool = "math"
	}

	python := testenv.Python(b)
	srv := workertest.StartDevServer(b, testenv.Temporal(b))
	cfg, err := worker.LoadConfig(filepath.Join(testenv.RepoRoot(b), "examples", "snakepool.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.Temporal.Address = srv.Address
	for i := range cfg.Pools {
		cfg.Pools[i].Python = python
	}
	workertest.StartWorker(b, cfg)
	c := srv.Client(b)

	over := make([]int, items)
	for i := range over {
		over[i] = i
	}
	overJSON, err := json.Marshal(over)
	if err != nil {
		b.Fatal(err)
	}
	spec, err := workflows.ParseSpec(fmt.Appendf(nil, `{"steps": [{"name": "squares", "pool": %q, "tool": "square",
		"map": {"over": %s, "as": "x", "concurrency": %d, "chunk_size": %d}}]}`, pool, overJSON, concurrency, chunk))
	if err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	var longest int64
	var elapsed time.Duration
	for range b.N {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue}, workflows.PipelineName, spec)
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		var result workflows.PipelineResult
		err = run.Get(ctx, &result)
		elapsed += time.Since(start)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		var got []float64
		if err := json.Unmarshal(result.Results[0].Result, &got); err != nil || len(got) != items || got[items-1] != float64((items-1)*(items-1)) {
			b.Fatalf("wrong result (%d values, error %v)", len(got), err)
		}
		b.StopTimer()
		ids := []string{run.GetID()}
		for k := range (items + chunk - 1) / chunk {
			if items > chunk {
				ids = append(ids, fmt.Sprintf("%s/steps[0]/chunk-%d", run.GetID(), k))
			}
		}
		for _, id := range ids {
			desc, err := c.DescribeWorkflowExecution(context.Background(), id, "")
			if err != nil {
				b.Fatal(err)
			}
			longest = max(longest, desc.GetWorkflowExecutionInfo().GetHistoryLength())
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(items*b.N)/elapsed.Seconds(), "items/s")
	b.ReportMetric(float64(longest), "max-history-events")
}

func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
