//go:build replayrecord

package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/snakepool/snakepool/workflows"
)

// TestRecordReplayHistories runs every replay scenario that has no committed history in
// testdata/replay/<replayGeneration>/ against a dev server with real pools, and writes the
// histories of its runs there (chunk children and continued runs included). A committed history
// is never rewritten: it was recorded by earlier code of the same version, and replaying it is
// what proves that later code still runs it; to re-record a scenario (its spec changed), delete
// its files and its entries in executions.json. `make replay-record` runs it:
//
//	go test -tags replayrecord -run TestRecordReplayHistories ./workflows/
func TestRecordReplayHistories(t *testing.T) {
	dir := filepath.Join("testdata", "replay", replayGeneration)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	executions := map[string]replayExecution{}
	if data, err := os.ReadFile(filepath.Join(dir, replayIndexFile)); err == nil {
		require.NoError(t, json.Unmarshal(data, &executions), "%s", replayIndexFile)
	} else {
		require.ErrorIs(t, err, os.ErrNotExist)
	}
	var missing []replayScenario
	for _, sc := range replayScenarios {
		if _, err := os.Stat(filepath.Join(dir, sc.name+".json")); err == nil {
			t.Logf("%s: committed, kept", sc.name)
			continue
		}
		missing = append(missing, sc)
	}
	if len(missing) == 0 {
		t.Logf("every scenario of %s has a committed history: nothing to record", replayGeneration)
		return
	}
	s := startStack(t)
	t.Cleanup(func() {
		data, err := json.MarshalIndent(executions, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, replayIndexFile), append(data, '\n'), 0o644))
	})
	for _, sc := range missing {
		t.Run(sc.name, func(t *testing.T) {
			run := startScenario(t, s, sc)
			firstRunID := run.GetRunID() // Get follows the runs a continue-as-new starts
			driveScenario(t, s, sc, run)
			_, err := wait(t, run)
			if sc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			writeHistories(t, s.client, dir, sc.name, run.GetID(), firstRunID, executions)
		})
	}
}

func startScenario(t *testing.T, s stack, sc replayScenario) client.WorkflowRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []any{json.RawMessage(sc.spec)}
	if sc.input != "" {
		args = append(args, json.RawMessage(sc.input))
	}
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       "replay-" + sc.name,
		TaskQueue:                workflows.TaskQueue,
		WorkflowExecutionTimeout: 3 * time.Minute,
	}, workflows.PipelineName, args...)
	require.NoError(t, err)
	return run
}

// driveScenario sends the scenario's signals and cancellation when the steps wait for them.
func driveScenario(t *testing.T, s stack, sc replayScenario, run client.WorkflowRun) {
	t.Helper()
	for name, payload := range sc.signals {
		require.Eventually(t, func() bool { return waitingFor(t, s, run.GetID(), name) }, time.Minute, 50*time.Millisecond,
			"a step waits for signal %q", name)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, s.client.SignalWorkflow(ctx, run.GetID(), "", name, json.RawMessage(payload)))
		cancel()
	}
	if sc.cancel {
		require.Eventually(t, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			desc, err := s.client.DescribeWorkflowExecution(ctx, run.GetID(), "")
			if err != nil {
				return false
			}
			for _, pa := range desc.GetPendingActivities() {
				if pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED && pa.GetHeartbeatDetails() != nil {
					return true
				}
			}
			return false
		}, time.Minute, 50*time.Millisecond, "the last step runs and has heartbeated")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.client.CancelWorkflow(ctx, run.GetID(), ""))
	}
}

// writeHistories writes the history of the run, then of its chunk children and continued runs.
func writeHistories(t *testing.T, c client.Client, dir, name, workflowID, runID string, executions map[string]replayExecution) {
	t.Helper()
	history := fetchHistory(t, c, workflowID, runID)
	data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(history)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json"), append(data, '\n'), 0o644))
	executions[name+".json"] = replayExecution{WorkflowID: workflowID, RunID: runID}
	children := 0
	for _, e := range history.GetEvents() {
		if a := e.GetChildWorkflowExecutionStartedEventAttributes(); a != nil {
			writeHistories(t, c, dir, fmt.Sprintf("%s.chunk-%d", name, children), a.GetWorkflowExecution().GetWorkflowId(), a.GetWorkflowExecution().GetRunId(), executions)
			children++
		}
		if a := e.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
			writeHistories(t, c, dir, name+".next", workflowID, a.GetNewExecutionRunId(), executions)
		}
	}
}
