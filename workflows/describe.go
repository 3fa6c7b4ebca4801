package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// MaxDescribedChildren bounds how many running chunk workflows DescribeProgress looks into per map.
const MaxDescribedChildren = 8

// DescribeProgress returns the progress of a running or finished Pipeline workflow (runID may be
// empty: the latest run): the answer to its "progress" query, completed with what only the
// Temporal service knows:
//
//   - for each running call, the latest heartbeat details and progress, the attempt number and
//     the previous attempt's failure, from DescribeWorkflowExecution's pending activities (for a
//     map, those of the item that heartbeated last);
//   - for a map that runs in child workflows, the item counts and heartbeats of up to
//     MaxDescribedChildren running children, from their own query and description.
//
// The query needs a worker that runs the Pipeline workflow; without one it fails (after ctx's
// deadline, or the service's own timeout).
func DescribeProgress(ctx context.Context, c client.Client, workflowID, runID string) (Progress, error) {
	p, err := queryProgress(ctx, c, workflowID, runID)
	if err != nil {
		return Progress{}, err
	}
	desc, err := c.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		return Progress{}, fmt.Errorf("describe workflow %s: %w", workflowID, err)
	}
	applyPending(&p, desc.GetPendingActivities(), nil)
	for i := range p.Steps {
		sp := &p.Steps[i]
		if sp.Items == nil || len(sp.Items.Children) == 0 {
			continue
		}
		for j, childID := range sp.Items.Children {
			if j == MaxDescribedChildren {
				break
			}
			child, err := queryProgress(ctx, c, childID, "")
			if err != nil || len(child.Steps) != 1 || child.Steps[0].Items == nil {
				continue // the chunk may have just finished; its items count when the parent sees it done
			}
			if child.Status == StatusRunning {
				sp.Items.Done += child.Steps[0].Items.Done
				sp.Items.Running += child.Steps[0].Items.Running
			}
			if childDesc, err := c.DescribeWorkflowExecution(ctx, childID, ""); err == nil {
				applyPending(&p, childDesc.GetPendingActivities(), sp)
			}
		}
	}
	p.recount()
	return p, nil
}

func queryProgress(ctx context.Context, c client.Client, workflowID, runID string) (Progress, error) {
	value, err := c.QueryWorkflow(ctx, workflowID, runID, ProgressQuery)
	if err != nil {
		return Progress{}, fmt.Errorf("query the progress of workflow %s: %w", workflowID, err)
	}
	var p Progress
	if err := value.Get(&p); err != nil {
		return Progress{}, fmt.Errorf("decode the progress of workflow %s: %w", workflowID, err)
	}
	return p, nil
}

// applyPending copies the heartbeats, attempts and last failures of pending activities to the
// steps they belong to (by activity ID, see StepProgress.Name); when into is set (a map
// running in child workflows), every activity belongs to it.
func applyPending(p *Progress, pending []*workflowpb.PendingActivityInfo, into *StepProgress) {
	dc := converter.GetDefaultDataConverter()
	latest := map[*StepProgress]int64{}
	for _, pa := range pending {
		sp := into
		if sp == nil {
			sp = stepOfActivity(p, pa.GetActivityId())
		}
		if sp == nil {
			continue
		}
		hbTime := pa.GetLastHeartbeatTime().AsTime().UnixNano()
		if pa.GetLastHeartbeatTime() == nil {
			hbTime = 0
		}
		if prev, seen := latest[sp]; seen && hbTime <= prev {
			sp.Attempt = max(sp.Attempt, pa.GetAttempt())
			continue
		}
		latest[sp] = hbTime
		sp.Attempt = max(sp.Attempt, pa.GetAttempt())
		if f := pa.GetLastFailure(); f != nil {
			msg := f.GetMessage()
			if t := f.GetApplicationFailureInfo().GetType(); t != "" {
				msg = t + ": " + msg
			}
			sp.LastFailure = msg
		}
		payloads := pa.GetHeartbeatDetails().GetPayloads()
		if len(payloads) > 0 {
			var details json.RawMessage
			if err := dc.FromPayload(payloads[0], &details); err == nil {
				sp.Heartbeat = details
			}
		}
		if len(payloads) > 1 {
			var progress float64
			if err := dc.FromPayload(payloads[1], &progress); err == nil {
				sp.HeartbeatProgress = &progress
			}
		}
	}
}

// stepOfActivity finds the step of an activity ID: a tool step's name (or path), or a map step's
// name (or path) followed by "/<item>".
func stepOfActivity(p *Progress, activityID string) *StepProgress {
	prefix := activityID
	if i := strings.LastIndexByte(activityID, '/'); i >= 0 {
		prefix = activityID[:i]
	}
	for i := range p.Steps {
		sp := &p.Steps[i]
		id := sp.Name
		if id == "" {
			id = sp.Path
		}
		if (sp.Kind == string(kindTool) && id == activityID) || (sp.Kind == string(kindMap) && id == prefix) {
			return sp
		}
	}
	return nil
}
