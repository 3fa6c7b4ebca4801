package workflows

import (
	"encoding/json"
	"slices"
)

// Progress is the answer to the Pipeline workflow's "progress" query (ProgressQuery): what the
// workflow knows of its steps. The workflow cannot see the heartbeats of running activities;
// DescribeProgress adds them (and the attempt and last failure of each running call) from
// DescribeWorkflowExecution, and the progress of maps that run in child workflows.
type Progress struct {
	// Status is the pipeline's: "running", "done", "failed" or "cancelled".
	Status string `json:"status"`
	// Total counts the pipeline's steps (groups are not counted; finally steps are); Done,
	// Running, Failed and Skipped count those that succeeded, are running, failed, and were
	// skipped by their condition.
	Total   int `json:"total"`
	Done    int `json:"done"`
	Running int `json:"running"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped,omitempty"`
	// Calls counts tool calls: one per tool step and one per map item. A map whose list is a
	// reference adds its items to Calls.Total once the list is known.
	Calls Counts `json:"calls"`
	// Error is the pipeline's failure when Status is "failed".
	Error string `json:"error,omitempty"`
	// Steps lists every step, nested ones included, in the order of the spec.
	Steps []StepProgress `json:"steps"`
}

// Counts are numbers of calls.
type Counts struct {
	Total   int `json:"total"`
	Done    int `json:"done"`
	Running int `json:"running"`
	Failed  int `json:"failed"`
}

// StepProgress is the state of one step.
type StepProgress struct {
	// Path is the step's JSON path in the spec, e.g. "steps[2].parallel[0]".
	Path string `json:"path"`
	// Name is the step's name, if it has one. The activity ID of a tool step's call is its name
	// (its path when it has none); that of a map item's call is "<name or path>/<item index>".
	Name string `json:"name,omitempty"`
	// Kind is "tool", "map", "parallel", "sequence", "dag", "sleep" or "wait".
	Kind string `json:"kind"`
	// Pool and Tool are the step's, empty for a group.
	Pool string `json:"pool,omitempty"`
	Tool string `json:"tool,omitempty"`
	// Status is "pending", "running", "done", "failed", "skipped" (its condition was false) or
	// "cancelled".
	Status string `json:"status"`
	// Items is the progress of a map's items; nil for other kinds.
	Items *MapProgress `json:"items,omitempty"`
	// Signal is the signal a wait step waits for.
	Signal string `json:"signal,omitempty"`
	// Error is the step's failure when Status is "failed".
	Error string `json:"error,omitempty"`

	// The fields below are filled by DescribeProgress, not by the query, from the pending
	// activities of the step (for a map: the one that heartbeated last).

	// Attempt is the attempt number of the running call (1 for the first attempt).
	Attempt int32 `json:"attempt,omitempty"`
	// Heartbeat is the details of the running call's latest heartbeat (ctx.heartbeat(details)).
	Heartbeat json.RawMessage `json:"heartbeat,omitempty"`
	// HeartbeatProgress is the progress of that heartbeat (ctx.heartbeat(..., progress=0.4)), if any.
	HeartbeatProgress *float64 `json:"heartbeat_progress,omitempty"`
	// LastFailure is the failure of the call's previous attempt, if it is being retried.
	LastFailure string `json:"last_failure,omitempty"`
}

// MapProgress is the progress of a map's items.
type MapProgress struct {
	// Known reports whether the list is known yet (a list that is a reference is known when the
	// map starts); Total is its length.
	Known bool `json:"known"`
	Total int  `json:"total"`
	// Done, Running and Failed count items. Items that run in child workflows count as done when
	// their chunk is done; the query reports no Running items for them, DescribeProgress adds the
	// children's own counts.
	Done    int `json:"done"`
	Running int `json:"running"`
	Failed  int `json:"failed"`
	// Chunks is the number of child workflows the map runs in (0: it runs in the pipeline's own
	// workflow); ChunksDone counts those that finished.
	Chunks     int `json:"chunks,omitempty"`
	ChunksDone int `json:"chunks_done,omitempty"`
	// Children lists the workflow IDs of the running chunks.
	Children []string `json:"children,omitempty"`
}

// Step and pipeline statuses.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusDone      = "done"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusSkipped   = "skipped"
)

// progressState is the workflow's progress, updated as steps run and copied by the query.
type progressState struct {
	status string
	err    string
	steps  []StepProgress
}

func newProgress(p *plan) *progressState {
	ps := &progressState{status: StatusRunning, steps: make([]StepProgress, len(p.nodes))}
	for i, n := range p.nodes {
		sp := StepProgress{Path: n.key, Name: n.step.Name, Kind: string(n.kind), Pool: n.step.Pool, Tool: n.step.Tool, Status: StatusPending}
		if n.kind == kindWait {
			sp.Signal = n.step.Wait.Signal
		}
		if n.kind == kindMap {
			sp.Items = &MapProgress{}
			if n.overLen >= 0 {
				sp.Items.Known, sp.Items.Total = true, n.overLen
			}
		}
		ps.steps[i] = sp
	}
	return ps
}

func (ps *progressState) step(n *node) *StepProgress { return &ps.steps[n.index] }

// snapshot is the query's answer: a deep copy with the totals.
func (ps *progressState) snapshot() Progress {
	out := Progress{Status: ps.status, Error: ps.err, Steps: make([]StepProgress, len(ps.steps))}
	for i, sp := range ps.steps {
		if sp.Items != nil {
			items := *sp.Items
			items.Children = slices.Clone(items.Children)
			sp.Items = &items
		}
		out.Steps[i] = sp
	}
	out.recount()
	return out
}

// stepCounts counts the steps for the memo and search attributes.
func (ps *progressState) stepCounts() StepCounts {
	p := Progress{Steps: ps.steps}
	p.recount()
	return StepCounts{Total: p.Total, Done: p.Done, Failed: p.Failed, Skipped: p.Skipped}
}

// recount sets the totals from the steps.
func (p *Progress) recount() {
	p.Total, p.Done, p.Running, p.Failed, p.Skipped = 0, 0, 0, 0, 0
	p.Calls = Counts{}
	for _, sp := range p.Steps {
		switch {
		case sp.Status == StatusSkipped && (sp.Kind == string(kindTool) || sp.Kind == string(kindMap)):
			// no calls
		case sp.Kind == string(kindTool):
			p.Calls.Total++
			switch sp.Status {
			case StatusDone:
				p.Calls.Done++
			case StatusRunning:
				p.Calls.Running++
			case StatusFailed:
				p.Calls.Failed++
			}
		case sp.Kind == string(kindMap):
			p.Calls.Total += sp.Items.Total
			p.Calls.Done += sp.Items.Done
			p.Calls.Running += sp.Items.Running
			p.Calls.Failed += sp.Items.Failed
		case sp.Kind == string(kindSleep) || sp.Kind == string(kindWait):
		default:
			continue
		}
		p.Total++
		switch sp.Status {
		case StatusDone:
			p.Done++
		case StatusRunning:
			p.Running++
		case StatusFailed:
			p.Failed++
		case StatusSkipped:
			p.Skipped++
		}
	}
}
