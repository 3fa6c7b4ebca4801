package workflows_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/workflows"
)

// replayGeneration names the directory under testdata/replay that `make replay-record` writes:
// the histories of the latest version's scenarios. The other directories hold histories of older
// versions.
const replayGeneration = "v1"

// replayIndexFile, in each generation's directory, maps each history file to its execution: the
// workflow ID is not in a history, and Pipeline derives its chunks' IDs from it.
const replayIndexFile = "executions.json"

// replayExecution is an entry of replayIndexFile.
type replayExecution struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
}

// replayHistory is a committed history: testdata/replay/<generation>/<name>.json.
type replayHistory struct {
	path       string
	generation string
	execution  replayExecution
}

func replayHistories(t *testing.T) []replayHistory {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "replay", "*"))
	require.NoError(t, err)
	var out []replayHistory
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, replayIndexFile))
		require.NoError(t, err)
		var index map[string]replayExecution
		require.NoError(t, json.Unmarshal(data, &index))
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		require.NoError(t, err)
		for _, f := range files {
			if filepath.Base(f) == replayIndexFile {
				continue
			}
			exec, ok := index[filepath.Base(f)]
			require.True(t, ok, "%s is not in %s", f, replayIndexFile)
			out = append(out, replayHistory{path: f, generation: filepath.Base(dir), execution: exec})
		}
	}
	return out
}

// replay replays one history with the current code.
func replay(replayer sdkworker.WorkflowReplayer, h replayHistory) error {
	f, err := os.Open(h.path)
	if err != nil {
		return err
	}
	defer f.Close()
	history, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		return fmt.Errorf("read %s: %w", h.path, err)
	}
	return replayer.ReplayWorkflowHistoryWithOptions(nil, history, sdkworker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: h.execution.WorkflowID, RunID: h.execution.RunID},
	})
}

func newReplayer() sdkworker.WorkflowReplayer {
	r := sdkworker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.Pipeline, workflow.RegisterOptions{Name: workflows.PipelineName})
	return r
}

// TestReplayHistories replays every committed history with the current Pipeline code: a change of
// pipeline.go that is not deterministic for runs in flight fails here.
func TestReplayHistories(t *testing.T) {
	histories := replayHistories(t)
	perGeneration := map[string]int{}
	for _, h := range histories {
		perGeneration[h.generation]++
	}
	// Every scenario of the current generation is committed.
	for _, sc := range replayScenarios {
		_, err := os.Stat(filepath.Join("testdata", "replay", replayGeneration, sc.name+".json"))
		assert.NoError(t, err, "run `make replay-record` to record scenario %q", sc.name)
	}
	require.NotEmpty(t, perGeneration["v0"], "the histories recorded before Pipeline was versioned")
	replayer := newReplayer()
	for _, h := range histories {
		t.Run(h.generation+"/"+strings.TrimSuffix(filepath.Base(h.path), ".json"), func(t *testing.T) {
			require.NoError(t, replay(replayer, h))
		})
	}
}

// TestReplayCatchesAChangeWithoutVersion replays the histories of the code before versioning with
// a Pipeline whose behaviour changes (the worker inspection, default heartbeat timeouts, the memo)
// are not behind workflow.GetVersion: the suite must find them non-deterministic.
func TestReplayCatchesAChangeWithoutVersion(t *testing.T) {
	restore := workflows.IgnoreVersions()
	defer restore()
	replayer := newReplayer()
	failed := 0
	for _, h := range replayHistories(t) {
		if h.generation != "v0" {
			continue
		}
		err := replay(replayer, h)
		if strings.HasSuffix(h.path, "invalid.json") {
			assert.NoError(t, err, "an invalid spec runs no step in any version")
			continue
		}
		if assert.Error(t, err, h.path) {
			assert.Contains(t, err.Error(), "TMPRL1100", h.path, "the SDK's non-determinism error")
			failed++
		}
	}
	assert.Positive(t, failed)
}
