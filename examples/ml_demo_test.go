// Package examples_test runs the examples of this directory as a user does (docs/ml-demo.md,
// docs/examples.md): the binaries, the configs and the pipelines as they are, against a real
// Temporal dev server and real Python pools.
package examples_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/snakepool/snakepool/internal/examplestest"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
	"github.com/snakepool/snakepool/workflows"
)

// trainResult is the part of the train tool's result the tests read.
type trainResult struct {
	StartedFromEpoch int     `json:"started_from_epoch"`
	Epochs           int     `json:"epochs"`
	Accuracy         float64 `json:"accuracy"`
}

// TestSweepResumesAfterTheWorkerIsKilled is the walk-through of docs/ml-demo.md: the worker of
// examples/ml.yaml runs examples/pipelines/sweep-resume.json; once Temporal has recorded a
// checkpoint of epoch 3 or later, the worker gets SIGKILL (its Python processes go with it); a new
// worker takes the retries after the heartbeat timeout, and each model resumes at the epoch of its
// last recorded checkpoint instead of epoch 0.
func TestSweepResumesAfterTheWorkerIsKilled(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	c := srv.Client(t)
	bin := examplestest.Build(t, "./cmd/worker")
	config := examplestest.Config(t, "examples/ml.yaml")
	args := []string{"--config", config, "--temporal-address", srv.Address, "--metrics-address", "off", "--log-format", "json"}

	first := examplestest.Start(t, "", nil, bin, args...)
	first.WaitLog(t, worker.ReadyMessage, 2*time.Minute)
	pythons := examplestest.PythonChildren(t, first.Cmd.Process.Pid)
	require.Len(t, pythons, 2, "the ml pool's two Python processes")

	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "examples", "pipelines", "sweep-resume.json"))
	require.NoError(t, err)
	spec, err := workflows.ParseSpec(data)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "sweep-resume", TaskQueue: workflows.TaskQueue},
		workflows.PipelineName, spec)
	require.NoError(t, err)

	// The checkpoints Temporal has recorded (what a retry gets as ctx.resume), by activity ID.
	recorded := func() map[string]int {
		desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
		require.NoError(t, err)
		epochs := map[string]int{}
		for _, pa := range desc.GetPendingActivities() {
			payloads := pa.GetHeartbeatDetails().GetPayloads()
			if len(payloads) == 0 {
				continue
			}
			var details struct {
				Epoch int `json:"epoch"`
			}
			if converter.GetDefaultDataConverter().FromPayload(payloads[0], &details) == nil {
				epochs[pa.GetActivityId()] = details.Epoch
			}
		}
		return epochs
	}
	var before map[string]int
	require.Eventually(t, func() bool {
		before = recorded()
		return before["train/0"] >= 3 && before["train/1"] >= 3
	}, time.Minute, 200*time.Millisecond, "checkpoints of epoch 3 or later for both models")

	require.NoError(t, first.Cmd.Process.Signal(syscall.SIGKILL))
	_ = first.Wait(t, 10*time.Second)
	examplestest.WaitGone(t, pythons, 10*time.Second)
	// What the retries get: the last checkpoints recorded before the kill (or later ones, recorded
	// by the dying worker in its last moment).
	atKill := recorded()

	second := examplestest.Start(t, "", nil, bin, args...)
	second.WaitLog(t, worker.ReadyMessage, 2*time.Minute)
	var result workflows.PipelineResult
	require.NoError(t, run.Get(ctx, &result))
	require.Len(t, result.Results, 3)
	var trained []trainResult
	require.NoError(t, json.Unmarshal(result.Results[0].Result, &trained))
	require.Len(t, trained, 2)
	for i, r := range trained {
		id := "train/" + string(rune('0'+i))
		assert.GreaterOrEqual(t, r.StartedFromEpoch, before[id], "%s resumed at its checkpoint, not at epoch 0", id)
		assert.Equal(t, atKill[id], r.StartedFromEpoch, "%s resumed at the last checkpoint Temporal recorded", id)
		assert.Equal(t, 12, r.Epochs)
		assert.Greater(t, r.Accuracy, 0.85)
	}
	var best map[string]any
	require.NoError(t, json.Unmarshal(result.Results[2].Result, &best))
	assert.Equal(t, "macro_f1", best["metric"])
}
