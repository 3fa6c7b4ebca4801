package examplestest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
	"github.com/snakepool/snakepool/workflows"
)

// StartWorker starts, in-process, a worker with the config file rel (see Config) against srv;
// it is stopped when the test ends.
func StartWorker(t testing.TB, srv *workertest.DevServer, rel string) (*worker.Worker, worker.Config) {
	t.Helper()
	cfg, err := worker.LoadConfig(Config(t, rel))
	if err != nil {
		t.Fatalf("examplestest: %v", err)
	}
	cfg.Temporal.Address = srv.Address
	cfg.Temporal.WorkerStopTimeout = 2 * time.Second
	return workertest.StartWorker(t, cfg), cfg
}

// RunPipeline runs the pipeline file rel (relative to the repository root) on the Pipeline task
// queue taskQueue and returns its result, failing the test if it fails or takes over 2 minutes.
func RunPipeline(t testing.TB, c client.Client, taskQueue, rel string) workflows.PipelineResult {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), rel))
	if err != nil {
		t.Fatalf("examplestest: %v", err)
	}
	spec, err := workflows.ParseSpec(data)
	if err != nil {
		t.Fatalf("examplestest: %s: %v", rel, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue}, workflows.PipelineName, spec)
	if err != nil {
		t.Fatalf("examplestest: start %s: %v", rel, err)
	}
	var result workflows.PipelineResult
	if err := run.Get(ctx, &result); err != nil {
		t.Fatalf("examplestest: %s failed: %v", rel, err)
	}
	return result
}
