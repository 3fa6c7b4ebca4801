package pools

import "encoding/json"

// Call is one tool invocation.
type Call struct {
	// Tool is the name of the tool to run, as the adapter reports it in Tools(). Required.
	Tool string
	// Args is a JSON object bound to the tool's parameters by name; it reaches Python untouched.
	// Default: empty, which is sent as {}.
	Args json.RawMessage
	// Resume is the JSON details of the last heartbeat of a previous attempt; the tool sees it as
	// ctx.resume. Default: empty (ctx.resume is None).
	Resume json.RawMessage
	// Info tells the tool where the call comes from (Temporal details). Default: zero (empty fields).
	Info CallInfo
	// OnHeartbeat, when set, is called for every heartbeat the tool sends, in order, from the
	// goroutine that runs Call. It must not block for long. Default: nil (heartbeats are dropped).
	OnHeartbeat func(Heartbeat)
}

// CallInfo describes the origin of a call; all fields are optional.
type CallInfo struct {
	WorkflowID   string
	RunID        string
	ActivityID   string
	ActivityType string
	Attempt      int32
	TaskQueue    string
	Namespace    string
}

// Heartbeat is what a tool reported with ctx.heartbeat(details, progress).
type Heartbeat struct {
	// Details is the JSON the tool passed, or empty when it passed none.
	Details json.RawMessage
	// Progress is in [0, 1], or negative when the tool gave none.
	Progress float64
	// Item is the index of the batch item whose tool sent it (CallBatch); 0 for a Call.
	Item int
}

// BatchCall runs one tool over several items (Pool.CallBatch). The tool is written for one item:
// each item's arguments are bound to it as a Call's are.
type BatchCall struct {
	// Tool is the name of the tool to run on every item. Required.
	Tool string
	// Items holds one JSON arguments object per item; an empty one is sent as {}. Default: none
	// (the batch ends at once).
	Items []json.RawMessage
	// First is the index of the first item to run; the items before it are done already (a
	// resumed batch). Must be in [0, len(Items)]. Default: 0.
	First int
	// ContinueOnError: false ends the batch after the first item that fails; true runs every
	// item, each ending in its result or its error. Default: false.
	ContinueOnError bool
	// Resume is the JSON details of the last heartbeat of a previous attempt, given as ctx.resume
	// to the item at First only. Default: empty.
	Resume json.RawMessage
	// Info tells the tool where the batch comes from, for every item. Default: zero.
	Info CallInfo
	// OnItem, when set, is called once per item as it ends, in item order, from the goroutine
	// that runs CallBatch. It must not block for long. Default: nil (the items' results are
	// dropped).
	OnItem func(ItemResult)
	// OnHeartbeat, when set, receives the tools' heartbeats in order (Heartbeat.Item says which
	// item sent it), from the goroutine that runs CallBatch. Default: nil.
	OnHeartbeat func(Heartbeat)
}

// ItemResult is how one item of a batch ended: Result on success, Err when its tool raised (or
// its arguments were invalid: InvalidArguments).
type ItemResult struct {
	// Index is the item's index in BatchCall.Items.
	Index  int
	Result json.RawMessage
	Err    *ToolError
}

// ToolSpec describes one tool of the pool's adapter.
type ToolSpec struct {
	Name        string
	Description string
	// InputSchema is a JSON Schema object of the tool's arguments.
	InputSchema json.RawMessage
}

// InterpreterInfo describes the Python interpreter that runs a pool's workers.
type InterpreterInfo struct {
	// Version is Python's sys.version.
	Version string
	// GILEnabled reports whether the GIL is on (always true before Python 3.13t).
	GILEnabled bool
	// Mode is "process" or "thread"; MaxWorkers is the calls one process runs at once.
	Mode       string
	MaxWorkers int
}
