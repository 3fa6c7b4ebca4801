package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
//	go test -run '^$' -bench 'PipelineMap$' -benchtime 1x ./workflows/
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

	c := startBenchStack(b)
	spec := squaresSpec(b, pool, items, fmt.Sprintf(`"concurrency": %d, "chunk_size": %d`, concurrency, chunk))

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

// startBenchStack starts a dev server and a worker with the pools of examples/snakepool.yaml.
func startBenchStack(b *testing.B) client.Client {
	b.Helper()
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
	return srv.Client(b)
}

// squaresSpec is a pipeline of one map of square over 0..items-1 on pool; mapOptions are more
// fields of the map, e.g. `"concurrency": 4`.
func squaresSpec(b *testing.B, pool string, items int, mapOptions string) workflows.PipelineSpec {
	b.Helper()
	over := make([]int, items)
	for i := range over {
		over[i] = i
	}
	overJSON, err := json.Marshal(over)
	if err != nil {
		b.Fatal(err)
	}
	if mapOptions != "" {
		mapOptions = ", " + mapOptions
	}
	spec, err := workflows.ParseSpec(fmt.Appendf(nil, `{"steps": [{"name": "squares", "pool": %q, "tool": "square",
		"map": {"over": %s, "as": "x"%s}}]}`, pool, overJSON, mapOptions))
	if err != nil {
		b.Fatal(err)
	}
	return spec
}

// runSquares runs a squaresSpec of items and checks its result; it returns how long it took.
func runSquares(b *testing.B, c client.Client, spec workflows.PipelineSpec, items int) time.Duration {
	b.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue}, workflows.PipelineName, spec)
	if err != nil {
		b.Fatal(err)
	}
	var result workflows.PipelineResult
	if err := run.Get(ctx, &result); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	var got []float64
	if err := json.Unmarshal(result.Results[0].Result, &got); err != nil || len(got) != items || got[items-1] != float64((items-1)*(items-1)) {
		b.Fatalf("wrong result (%d values, error %v)", len(got), err)
	}
	return elapsed
}

// BenchmarkPipelineMapBatched measures a batched map (map.batch_size) beside the same map without
// batching, on one dev server and one worker, in alternating rounds: a map of `square` (a trivial
// tool) on the math pool of examples/snakepool.yaml (2 process slots). The unbatched map runs
// fewer items (it takes about 15 ms per item on a 2-core machine), so the two are compared by
// items per second. It reports the medians of the rounds, their ratio, and each median's spread
// (the slowest and fastest round) in the log. Not part of the default test run:
//
//	go test -run '^$' -bench PipelineMapBatched -benchtime 1x ./workflows/
//
// Environment: SNAKEPOOL_BENCH_ROUNDS (default 3), SNAKEPOOL_BENCH_ITEMS (batched items, default
// 10000), SNAKEPOOL_BENCH_UNBATCHED_ITEMS (default 1000), SNAKEPOOL_BENCH_BATCH (map.batch_size,
// default 500), SNAKEPOOL_BENCH_CONCURRENCY (map.concurrency of both, default 10).
func BenchmarkPipelineMapBatched(b *testing.B) {
	rounds := envInt(b, "SNAKEPOOL_BENCH_ROUNDS", 3)
	items := envInt(b, "SNAKEPOOL_BENCH_ITEMS", 10000)
	unbatchedItems := envInt(b, "SNAKEPOOL_BENCH_UNBATCHED_ITEMS", 1000)
	batch := envInt(b, "SNAKEPOOL_BENCH_BATCH", 500)
	concurrency := envInt(b, "SNAKEPOOL_BENCH_CONCURRENCY", workflows.DefaultMapConcurrency)

	c := startBenchStack(b)
	batched := squaresSpec(b, "math", items, fmt.Sprintf(`"batch_size": %d, "concurrency": %d`, batch, concurrency))
	unbatched := squaresSpec(b, "math", unbatchedItems, fmt.Sprintf(`"concurrency": %d`, concurrency))
	// Warm up both paths (Python workers, the server's task queues) outside the figures.
	runSquares(b, c, squaresSpec(b, "math", 20, `"batch_size": 5`), 20)
	runSquares(b, c, squaresSpec(b, "math", 20, ""), 20)

	b.ResetTimer()
	var batchedRates, unbatchedRates []float64
	for range b.N {
		for round := range rounds {
			measure := []func(){
				func() { batchedRates = append(batchedRates, float64(items)/runSquares(b, c, batched, items).Seconds()) },
				func() {
					unbatchedRates = append(unbatchedRates, float64(unbatchedItems)/runSquares(b, c, unbatched, unbatchedItems).Seconds())
				},
			}
			if round%2 == 1 { // alternate which goes first
				measure[0], measure[1] = measure[1], measure[0]
			}
			for _, m := range measure {
				m()
			}
		}
	}
	b.StopTimer()
	bm, um := median(batchedRates), median(unbatchedRates)
	b.Logf("batched, %d items in batches of %d: median %.0f items/s (rounds %s)", items, batch, bm, rates(batchedRates))
	b.Logf("unbatched, %d items: median %.0f items/s (rounds %s)", unbatchedItems, um, rates(unbatchedRates))
	b.Logf("ratio of the medians: %.1fx (concurrency %d, %d alternating rounds)", bm/um, concurrency, len(batchedRates))
	b.ReportMetric(bm, "batched-items/s")
	b.ReportMetric(um, "unbatched-items/s")
	b.ReportMetric(bm/um, "x")
}

// median of xs (not empty).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// rates lists items/s figures, e.g. "6012, 5890, 6120".
func rates(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, ", ")
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
