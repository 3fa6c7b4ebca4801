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
