package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/worker"
)

// pythonPIDs returns the pids of the live Python processes of the pool named pool among this
// test process's children, read from /proc (the pools start them with --worker-id <pool>-<n>).
// (It may run in require.Eventually's goroutine, so it must not stop the test.)
func pythonPIDs(t *testing.T, pool string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Errorf("list processes: %v", err)
		return nil
	}
	workerID := regexp.MustCompile(`^` + regexp.QuoteMeta(pool) + `-\d+$`)
	me := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[0] == "Z" || fields[1] != strconv.Itoa(me) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "--worker-id" && workerID.MatchString(args[i+1]) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// onePythonPID returns the pid of the only Python process of pool.
func onePythonPID(t *testing.T, pool string) int {
	t.Helper()
	pids := pythonPIDs(t, pool)
	require.Len(t, pids, 1, "python processes of pool %q", pool)
	return pids[0]
}

// poolStatus returns the status of the pool named name of w. (It may run in require.Eventually's
// goroutine, so it must not stop the test.)
func poolStatus(t *testing.T, w *worker.Worker, name string) worker.PoolStatus {
	for _, s := range w.Status() {
		if s.Name == name {
			return s
		}
	}
	t.Errorf("no pool %q", name)
	return worker.PoolStatus{}
}

// pendingActivity returns run's only pending activity, or nil.
func pendingActivity(ctx context.Context, c client.Client, run client.WorkflowRun) *workflowpb.PendingActivityInfo {
	desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	if err != nil || len(desc.GetPendingActivities()) != 1 {
		return nil
	}
	return desc.GetPendingActivities()[0]
}

// activityRunning reports whether run's activity has been started by a worker.
func activityRunning(ctx context.Context, c client.Client, run client.WorkflowRun) bool {
	pa := pendingActivity(ctx, c, run)
	return pa != nil && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED
}

// heartbeatJSON returns the first value of a pending activity's heartbeat details (the tool's JSON
// details), or nil. (It runs in require.Eventually's goroutine, so it must not fail the test.)
func heartbeatJSON(t *testing.T, pa *workflowpb.PendingActivityInfo) json.RawMessage {
	if pa == nil || len(pa.GetHeartbeatDetails().GetPayloads()) == 0 {
		return nil
	}
	var details json.RawMessage
	if err := converter.GetDefaultDataConverter().FromPayload(pa.GetHeartbeatDetails().GetPayloads()[0], &details); err != nil {
		t.Errorf("heartbeat details %v: %v", pa.GetHeartbeatDetails(), err)
		return nil
	}
	return details
}

// history returns run's events.
func history(ctx context.Context, t *testing.T, c client.Client, run client.WorkflowRun) []*historypb.HistoryEvent {
	t.Helper()
	iter := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for iter.HasNext() {
		event, err := iter.Next()
		require.NoError(t, err)
		events = append(events, event)
	}
	return events
}

// started returns the attempt and worker identity of run's activity's started event (recorded
// with the last attempt).
func started(ctx context.Context, t *testing.T, c client.Client, run client.WorkflowRun) (int32, string) {
	t.Helper()
	for _, event := range history(ctx, t, c, run) {
		if attrs := event.GetActivityTaskStartedEventAttributes(); attrs != nil {
			return attrs.GetAttempt(), attrs.GetIdentity()
		}
	}
	t.Fatalf("workflow %s has no activity started event", run.GetID())
	return 0, ""
}

// hasEvent reports whether run's history has an event of type.
func hasEvent(ctx context.Context, t *testing.T, c client.Client, run client.WorkflowRun, eventType enumspb.EventType) bool {
	t.Helper()
	for _, event := range history(ctx, t, c, run) {
		if event.GetEventType() == eventType {
			return true
		}
	}
	return false
}

// activityAppError returns the ApplicationError of a failed CallWorkflow's activity.
func activityAppError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var actErr *temporal.ActivityError
	require.ErrorAs(t, err, &actErr, "the workflow failed because of its activity: %v", err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(actErr, &appErr), "the activity failed with an ApplicationError: %v", err)
	return appErr
}
