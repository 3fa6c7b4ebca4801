// The bridge protocol between the Go supervisor and one Python worker process.
//
// The Go pool talks to a worker over two channels, both ends of Unix socket pairs that the Go side
// creates and passes to Python as file descriptors at spawn: nothing listens on a path or a port,
// and a worker the pool starts never imports grpc. Each frame on either channel is a 4-byte
// big-endian length and one serialised message.
//
// - The call channel (--calls-fd) carries the calls: SessionRequest from Go (a Start, a batch, or
//   a Cancel), SessionEvent from Python (zero or more heartbeats, then exactly one result or error
//   per call, tagged with its call_id; the events of one call are in order). A call costs one read
//   and one write on the thread that runs it (docs/performance.md). A batch (BatchRequest) runs
//   one tool over several items, one after the other on one tool thread: its events are the
//   items' heartbeats (tagged with the item's index), one ItemEnd per item as it ends, and then
//   one result (the batch ran to its end) or error (the batch could not run, or was cancelled).
//   When Go closes its end, every call started on it is cancelled; when the worker stops, Python
//   shuts its end once those calls have written their last event. Extending it: a new
//   Go-to-Python command is a new field of SessionRequest's oneof, answered by SessionEvents
//   tagged with its call_id. Python logs and skips a request of a kind it does not know. The
//   process profile's tool thread reads this channel only between calls, so the Go pool sends its
//   cancels on the control channel.
// - The control channel (--control-fd) carries ControlRequest from Go (Describe, Ping, Cancel,
//   Stop), each answered by exactly one ControlResponse with the same id, in the order of the
//   requests. A thread of its own reads it, so every request is answered while tools run, also
//   while a process-profile tool holds the tool thread (Ping is the health check). A Cancel can
//   overtake its call's Start on the call channel; the worker remembers it, and the call then ends
//   "Cancelled" without running. A request of a kind the worker does not know is answered with an
//   error of type "UnknownRequest". The control channel is also the lifeline: its end of file
//   means "the Go side is gone", and Python then kills what its tools started and exits at once
//   (status 3), without teardown.
//
// The Go side owns the worker's life (--supervised): Python ignores SIGTERM, SIGINT and SIGHUP (a
// service manager signals every process of the service at once) and stops on the Stop request
// (StopRequest): it refuses new calls, cancels the running ones and gives them grace_seconds to
// end, then runs the adapter's teardown and exits 0; timeout_seconds after the request the Go side
// SIGKILLs the process group. If a call is still running after the grace (its tool ignores the
// cancel), teardown is skipped (it never runs beside a tool) and Python exits 4. The tools' stdin
// is /dev/null.
//
// gRPC (the Bridge service below) is served only when asked, with --socket PATH: a Unix domain
// socket, for grpcurl, snakepool.testing.WorkerEnvironment and the tests. It answers Describe,
// Ping and Cancel also while a tool runs, and Execute, the one-call form. Python serves it with
// grpc.server, public grpcio API only, and imports grpc only then. A server started by hand
// (without --control-fd) takes its stdin, when it is a pipe, as its lifeline instead (end of file:
// the parent is gone), and stops on SIGTERM or SIGINT.
//
// Handshake (before any request): Go passes a pipe as file descriptor 3 (--handshake-fd 3). Once the
// adapter is loaded and the worker is serving, Python writes exactly one JSON line to it and
// closes it:
//
//   {"protocol": 4, "package_version": "0.1.0", "pid": 1234}
//
// (with "address": "unix:PATH" when it serves gRPC on --socket PATH), or, when the adapter cannot
// be loaded:
//
//   {"protocol": 4, "package_version": "0.1.0", "error": {"type": "ModuleNotFoundError", "message": "...", "traceback": "..."}}
//
// and then exits non-zero. Go waits for the line with a timeout, then sends Describe on the
// control channel. Nothing a tool prints to stdout or stderr can disturb the handshake or the
// channels, because none of them uses stdout.
//
// Version: bump PROTOCOL_VERSION on both sides for any incompatible change (3: the lifeline's
// commands, --supervised, batches; 4: the control channel, gRPC only with --socket). The check
// runs both ways, before anything else: Go passes its version in the environment variable
// SNAKEPOOL_BRIDGE_PROTOCOL, and Python checks it before it parses its command line (so that flags
// added by a newer Go side cannot be what it complains about); on a mismatch it writes the
// handshake with error type "ProtocolMismatch", naming both versions, and exits 1. Go checks the
// handshake's "protocol" before anything else in it. A package older than the check fails on the
// first flag it does not know before any handshake; Go then asks the interpreter for
// snakepool.PROTOCOL_VERSION and __version__ to say which release it met.

// Code generated by protoc-gen-go. DO NOT EDIT.
// versions:
// 	protoc-gen-go v1.36.12
// 	protoc        v7.35.1
// source: snakepool/bridge/v1/bridge.proto

package bridgev1

import (
	protoreflect "google.golang.org/protobuf/reflect/protoreflect"
	protoimpl "google.golang.org/protobuf/runtime/protoimpl"
	reflect "reflect"
	sync "sync"
	unsafe "unsafe"
)

const (
	// Verify that this generated code is sufficiently up-to-date.
	_ = protoimpl.EnforceVersion(20 - protoimpl.MinVersion)
	// Verify that runtime/protoimpl is sufficiently up-to-date.
	_ = protoimpl.EnforceVersion(protoimpl.MaxVersion - 20)
)

type DescribeRequest struct {
	state         protoimpl.MessageState `protogen:"open.v1"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *DescribeRequest) Reset() {
	*x = DescribeRequest{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[0]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *DescribeRequest) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*DescribeRequest) ProtoMessage() {}

func (x *DescribeRequest) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[0]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use DescribeRequest.ProtoReflect.Descriptor instead.
func (*DescribeRequest) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{0}
}

type DescribeResponse struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// The adapter as "module:Class".
	Adapter string      `protobuf:"bytes,1,opt,name=adapter,proto3" json:"adapter,omitempty"`
	Tools   []*ToolSpec `protobuf:"bytes,2,rep,name=tools,proto3" json:"tools,omitempty"`
	// "process" or "thread".
	Mode string `protobuf:"bytes,3,opt,name=mode,proto3" json:"mode,omitempty"`
	// How many calls this process runs at once (1 in process mode).
	MaxWorkers int32 `protobuf:"varint,4,opt,name=max_workers,json=maxWorkers,proto3" json:"max_workers,omitempty"`
	// sys.version of the interpreter.
	PythonVersion string `protobuf:"bytes,5,opt,name=python_version,json=pythonVersion,proto3" json:"python_version,omitempty"`
	// sys._is_gil_enabled() where it exists, else true.
	GilEnabled bool  `protobuf:"varint,6,opt,name=gil_enabled,json=gilEnabled,proto3" json:"gil_enabled,omitempty"`
	Pid        int32 `protobuf:"varint,7,opt,name=pid,proto3" json:"pid,omitempty"`
	// The bridge protocol version the server speaks.
	ProtocolVersion int32 `protobuf:"varint,8,opt,name=protocol_version,json=protocolVersion,proto3" json:"protocol_version,omitempty"`
	unknownFields   protoimpl.UnknownFields
	sizeCache       protoimpl.SizeCache
}

func (x *DescribeResponse) Reset() {
	*x = DescribeResponse{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[1]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *DescribeResponse) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*DescribeResponse) ProtoMessage() {}

func (x *DescribeResponse) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[1]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use DescribeResponse.ProtoReflect.Descriptor instead.
func (*DescribeResponse) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{1}
}

func (x *DescribeResponse) GetAdapter() string {
	if x != nil {
		return x.Adapter
	}
	return ""
}

func (x *DescribeResponse) GetTools() []*ToolSpec {
	if x != nil {
		return x.Tools
	}
	return nil
}

func (x *DescribeResponse) GetMode() string {
	if x != nil {
		return x.Mode
	}
	return ""
}

func (x *DescribeResponse) GetMaxWorkers() int32 {
	if x != nil {
		return x.MaxWorkers
	}
	return 0
}

func (x *DescribeResponse) GetPythonVersion() string {
	if x != nil {
		return x.PythonVersion
	}
	return ""
}

func (x *DescribeResponse) GetGilEnabled() bool {
	if x != nil {
		return x.GilEnabled
	}
	return false
}

func (x *DescribeResponse) GetPid() int32 {
	if x != nil {
		return x.Pid
	}
	return 0
}

func (x *DescribeResponse) GetProtocolVersion() int32 {
	if x != nil {
		return x.ProtocolVersion
	}
	return 0
}

type ToolSpec struct {
	state       protoimpl.MessageState `protogen:"open.v1"`
	Name        string                 `protobuf:"bytes,1,opt,name=name,proto3" json:"name,omitempty"`
	Description string                 `protobuf:"bytes,2,opt,name=description,proto3" json:"description,omitempty"`
	// A JSON Schema (an object schema) of the tool's arguments, as JSON text.
	InputSchemaJson string `protobuf:"bytes,3,opt,name=input_schema_json,json=inputSchemaJson,proto3" json:"input_schema_json,omitempty"`
	unknownFields   protoimpl.UnknownFields
	sizeCache       protoimpl.SizeCache
}

func (x *ToolSpec) Reset() {
	*x = ToolSpec{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[2]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *ToolSpec) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*ToolSpec) ProtoMessage() {}

func (x *ToolSpec) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[2]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use ToolSpec.ProtoReflect.Descriptor instead.
func (*ToolSpec) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{2}
}

func (x *ToolSpec) GetName() string {
	if x != nil {
		return x.Name
	}
	return ""
}

func (x *ToolSpec) GetDescription() string {
	if x != nil {
		return x.Description
	}
	return ""
}

func (x *ToolSpec) GetInputSchemaJson() string {
	if x != nil {
		return x.InputSchemaJson
	}
	return ""
}

type ExecuteRequest struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// Unique per Go process; used by Cancel.
	CallId string `protobuf:"bytes,1,opt,name=call_id,json=callId,proto3" json:"call_id,omitempty"`
	Tool   string `protobuf:"bytes,2,opt,name=tool,proto3" json:"tool,omitempty"`
	// The arguments: a JSON object, bound to the tool's parameters by name. Passed through untouched.
	ArgsJson []byte `protobuf:"bytes,3,opt,name=args_json,json=argsJson,proto3" json:"args_json,omitempty"`
	// Details of the last heartbeat of a previous attempt (JSON), empty when there is none.
	ResumeJson    []byte    `protobuf:"bytes,4,opt,name=resume_json,json=resumeJson,proto3" json:"resume_json,omitempty"`
	Info          *CallInfo `protobuf:"bytes,5,opt,name=info,proto3" json:"info,omitempty"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *ExecuteRequest) Reset() {
	*x = ExecuteRequest{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[3]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *ExecuteRequest) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*ExecuteRequest) ProtoMessage() {}

func (x *ExecuteRequest) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[3]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use ExecuteRequest.ProtoReflect.Descriptor instead.
func (*ExecuteRequest) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{3}
}

func (x *ExecuteRequest) GetCallId() string {
	if x != nil {
		return x.CallId
	}
	return ""
}

func (x *ExecuteRequest) GetTool() string {
	if x != nil {
		return x.Tool
	}
	return ""
}

func (x *ExecuteRequest) GetArgsJson() []byte {
	if x != nil {
		return x.ArgsJson
	}
	return nil
}

func (x *ExecuteRequest) GetResumeJson() []byte {
	if x != nil {
		return x.ResumeJson
	}
	return nil
}

func (x *ExecuteRequest) GetInfo() *CallInfo {
	if x != nil {
		return x.Info
	}
	return nil
}

// CallInfo tells the tool where the call comes from (Temporal details, empty outside Temporal).
type CallInfo struct {
	state         protoimpl.MessageState `protogen:"open.v1"`
	WorkflowId    string                 `protobuf:"bytes,1,opt,name=workflow_id,json=workflowId,proto3" json:"workflow_id,omitempty"`
	RunId         string                 `protobuf:"bytes,2,opt,name=run_id,json=runId,proto3" json:"run_id,omitempty"`
	ActivityId    string                 `protobuf:"bytes,3,opt,name=activity_id,json=activityId,proto3" json:"activity_id,omitempty"`
	ActivityType  string                 `protobuf:"bytes,4,opt,name=activity_type,json=activityType,proto3" json:"activity_type,omitempty"`
	Attempt       int32                  `protobuf:"varint,5,opt,name=attempt,proto3" json:"attempt,omitempty"`
	TaskQueue     string                 `protobuf:"bytes,6,opt,name=task_queue,json=taskQueue,proto3" json:"task_queue,omitempty"`
	Namespace     string                 `protobuf:"bytes,7,opt,name=namespace,proto3" json:"namespace,omitempty"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *CallInfo) Reset() {
	*x = CallInfo{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[4]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *CallInfo) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*CallInfo) ProtoMessage() {}

func (x *CallInfo) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[4]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use CallInfo.ProtoReflect.Descriptor instead.
func (*CallInfo) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{4}
}

func (x *CallInfo) GetWorkflowId() string {
	if x != nil {
		return x.WorkflowId
	}
	return ""
}

func (x *CallInfo) GetRunId() string {
	if x != nil {
		return x.RunId
	}
	return ""
}

func (x *CallInfo) GetActivityId() string {
	if x != nil {
		return x.ActivityId
	}
	return ""
}

func (x *CallInfo) GetActivityType() string {
	if x != nil {
		return x.ActivityType
	}
	return ""
}

func (x *CallInfo) GetAttempt() int32 {
	if x != nil {
		return x.Attempt
	}
	return 0
}

func (x *CallInfo) GetTaskQueue() string {
	if x != nil {
		return x.TaskQueue
	}
	return ""
}

func (x *CallInfo) GetNamespace() string {
	if x != nil {
		return x.Namespace
	}
	return ""
}

// A message from Go on the call channel.
type SessionRequest struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// cancel is read promptly only where a thread reads the call channel while tools run (the
	// thread profile); the Go pool sends its cancels on the control channel.
	//
	// Types that are valid to be assigned to Request:
	//
	//	*SessionRequest_Start
	//	*SessionRequest_Cancel
	//	*SessionRequest_Batch
	Request       isSessionRequest_Request `protobuf_oneof:"request"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *SessionRequest) Reset() {
	*x = SessionRequest{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[5]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *SessionRequest) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*SessionRequest) ProtoMessage() {}

func (x *SessionRequest) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[5]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use SessionRequest.ProtoReflect.Descriptor instead.
func (*SessionRequest) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{5}
}

func (x *SessionRequest) GetRequest() isSessionRequest_Request {
	if x != nil {
		return x.Request
	}
	return nil
}

func (x *SessionRequest) GetStart() *ExecuteRequest {
	if x != nil {
		if x, ok := x.Request.(*SessionRequest_Start); ok {
			return x.Start
		}
	}
	return nil
}

func (x *SessionRequest) GetCancel() *CancelRequest {
	if x != nil {
		if x, ok := x.Request.(*SessionRequest_Cancel); ok {
			return x.Cancel
		}
	}
	return nil
}

func (x *SessionRequest) GetBatch() *BatchRequest {
	if x != nil {
		if x, ok := x.Request.(*SessionRequest_Batch); ok {
			return x.Batch
		}
	}
	return nil
}

type isSessionRequest_Request interface {
	isSessionRequest_Request()
}

type SessionRequest_Start struct {
	Start *ExecuteRequest `protobuf:"bytes,1,opt,name=start,proto3,oneof"`
}

type SessionRequest_Cancel struct {
	Cancel *CancelRequest `protobuf:"bytes,2,opt,name=cancel,proto3,oneof"`
}

type SessionRequest_Batch struct {
	Batch *BatchRequest `protobuf:"bytes,3,opt,name=batch,proto3,oneof"`
}

func (*SessionRequest_Start) isSessionRequest_Request() {}

func (*SessionRequest_Cancel) isSessionRequest_Request() {}

func (*SessionRequest_Batch) isSessionRequest_Request() {}

// BatchRequest runs one tool over several items in one worker, in item order, on one tool thread
// (it takes one call slot). The tool is written for one item: each item's arguments are bound to
// it as a call's are, and a bad item (InvalidArguments) is that item's error. Cancel (by call_id)
// cancels the item running and ends the batch: the items not run yet are not run.
type BatchRequest struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// Unique per Go process, like ExecuteRequest's; every event of the batch carries it.
	CallId string `protobuf:"bytes,1,opt,name=call_id,json=callId,proto3" json:"call_id,omitempty"`
	Tool   string `protobuf:"bytes,2,opt,name=tool,proto3" json:"tool,omitempty"`
	// One JSON object of arguments per item.
	ItemsJson [][]byte `protobuf:"bytes,3,rep,name=items_json,json=itemsJson,proto3" json:"items_json,omitempty"`
	// The index of the first item to run; the items before it are done already (a resumed batch).
	First int32 `protobuf:"varint,4,opt,name=first,proto3" json:"first,omitempty"`
	// False: the batch ends after the first item that fails. True: every item runs.
	ContinueOnError bool `protobuf:"varint,5,opt,name=continue_on_error,json=continueOnError,proto3" json:"continue_on_error,omitempty"`
	// Details of the last heartbeat of a previous attempt (JSON), for the item at first; empty when
	// there is none.
	ResumeJson    []byte    `protobuf:"bytes,6,opt,name=resume_json,json=resumeJson,proto3" json:"resume_json,omitempty"`
	Info          *CallInfo `protobuf:"bytes,7,opt,name=info,proto3" json:"info,omitempty"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *BatchRequest) Reset() {
	*x = BatchRequest{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[6]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *BatchRequest) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*BatchRequest) ProtoMessage() {}

func (x *BatchRequest) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[6]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use BatchRequest.ProtoReflect.Descriptor instead.
func (*BatchRequest) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{6}
}

func (x *BatchRequest) GetCallId() string {
	if x != nil {
		return x.CallId
	}
	return ""
}

func (x *BatchRequest) GetTool() string {
	if x != nil {
		return x.Tool
	}
	return ""
}

func (x *BatchRequest) GetItemsJson() [][]byte {
	if x != nil {
		return x.ItemsJson
	}
	return nil
}

func (x *BatchRequest) GetFirst() int32 {
	if x != nil {
		return x.First
	}
	return 0
}

func (x *BatchRequest) GetContinueOnError() bool {
	if x != nil {
		return x.ContinueOnError
	}
	return false
}

func (x *BatchRequest) GetResumeJson() []byte {
	if x != nil {
		return x.ResumeJson
	}
	return nil
}

func (x *BatchRequest) GetInfo() *CallInfo {
	if x != nil {
		return x.Info
	}
	return nil
}

// A message from Python on the call channel.
type SessionEvent struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// The call (or batch) this event belongs to.
	CallId string `protobuf:"bytes,1,opt,name=call_id,json=callId,proto3" json:"call_id,omitempty"`
	// Types that are valid to be assigned to Event:
	//
	//	*SessionEvent_Heartbeat
	//	*SessionEvent_Result
	//	*SessionEvent_Error
	//	*SessionEvent_Item
	Event         isSessionEvent_Event `protobuf_oneof:"event"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *SessionEvent) Reset() {
	*x = SessionEvent{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[7]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *SessionEvent) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*SessionEvent) ProtoMessage() {}

func (x *SessionEvent) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[7]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use SessionEvent.ProtoReflect.Descriptor instead.
func (*SessionEvent) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{7}
}

func (x *SessionEvent) GetCallId() string {
	if x != nil {
		return x.CallId
	}
	return ""
}

func (x *SessionEvent) GetEvent() isSessionEvent_Event {
	if x != nil {
		return x.Event
	}
	return nil
}

func (x *SessionEvent) GetHeartbeat() *Heartbeat {
	if x != nil {
		if x, ok := x.Event.(*SessionEvent_Heartbeat); ok {
			return x.Heartbeat
		}
	}
	return nil
}

func (x *SessionEvent) GetResult() *Result {
	if x != nil {
		if x, ok := x.Event.(*SessionEvent_Result); ok {
			return x.Result
		}
	}
	return nil
}

func (x *SessionEvent) GetError() *Error {
	if x != nil {
		if x, ok := x.Event.(*SessionEvent_Error); ok {
			return x.Error
		}
	}
	return nil
}

func (x *SessionEvent) GetItem() *ItemEnd {
	if x != nil {
		if x, ok := x.Event.(*SessionEvent_Item); ok {
			return x.Item
		}
	}
	return nil
}

type isSessionEvent_Event interface {
	isSessionEvent_Event()
}

type SessionEvent_Heartbeat struct {
	Heartbeat *Heartbeat `protobuf:"bytes,2,opt,name=heartbeat,proto3,oneof"`
}

type SessionEvent_Result struct {
	Result *Result `protobuf:"bytes,3,opt,name=result,proto3,oneof"`
}

type SessionEvent_Error struct {
	Error *Error `protobuf:"bytes,4,opt,name=error,proto3,oneof"`
}

type SessionEvent_Item struct {
	// A batch's item ended (before the batch's own result or error).
	Item *ItemEnd `protobuf:"bytes,5,opt,name=item,proto3,oneof"`
}

func (*SessionEvent_Heartbeat) isSessionEvent_Event() {}

func (*SessionEvent_Result) isSessionEvent_Event() {}

func (*SessionEvent_Error) isSessionEvent_Event() {}

func (*SessionEvent_Item) isSessionEvent_Event() {}

// ItemEnd is the end of one item of a batch: its result or its error.
type ItemEnd struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	Index int32                  `protobuf:"varint,1,opt,name=index,proto3" json:"index,omitempty"`
	// Types that are valid to be assigned to Outcome:
	//
	//	*ItemEnd_Result
	//	*ItemEnd_Error
	Outcome       isItemEnd_Outcome `protobuf_oneof:"outcome"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *ItemEnd) Reset() {
	*x = ItemEnd{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[8]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *ItemEnd) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*ItemEnd) ProtoMessage() {}

func (x *ItemEnd) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[8]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use ItemEnd.ProtoReflect.Descriptor instead.
func (*ItemEnd) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{8}
}

func (x *ItemEnd) GetIndex() int32 {
	if x != nil {
		return x.Index
	}
	return 0
}

func (x *ItemEnd) GetOutcome() isItemEnd_Outcome {
	if x != nil {
		return x.Outcome
	}
	return nil
}

func (x *ItemEnd) GetResult() *Result {
	if x != nil {
		if x, ok := x.Outcome.(*ItemEnd_Result); ok {
			return x.Result
		}
	}
	return nil
}

func (x *ItemEnd) GetError() *Error {
	if x != nil {
		if x, ok := x.Outcome.(*ItemEnd_Error); ok {
			return x.Error
		}
	}
	return nil
}

type isItemEnd_Outcome interface {
	isItemEnd_Outcome()
}

type ItemEnd_Result struct {
	Result *Result `protobuf:"bytes,2,opt,name=result,proto3,oneof"`
}

type ItemEnd_Error struct {
	Error *Error `protobuf:"bytes,3,opt,name=error,proto3,oneof"`
}

func (*ItemEnd_Result) isItemEnd_Outcome() {}

func (*ItemEnd_Error) isItemEnd_Outcome() {}

type ExecuteEvent struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// Types that are valid to be assigned to Event:
	//
	//	*ExecuteEvent_Heartbeat
	//	*ExecuteEvent_Result
	//	*ExecuteEvent_Error
	Event         isExecuteEvent_Event `protobuf_oneof:"event"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *ExecuteEvent) Reset() {
	*x = ExecuteEvent{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[9]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *ExecuteEvent) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*ExecuteEvent) ProtoMessage() {}

func (x *ExecuteEvent) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[9]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use ExecuteEvent.ProtoReflect.Descriptor instead.
func (*ExecuteEvent) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{9}
}

func (x *ExecuteEvent) GetEvent() isExecuteEvent_Event {
	if x != nil {
		return x.Event
	}
	return nil
}

func (x *ExecuteEvent) GetHeartbeat() *Heartbeat {
	if x != nil {
		if x, ok := x.Event.(*ExecuteEvent_Heartbeat); ok {
			return x.Heartbeat
		}
	}
	return nil
}

func (x *ExecuteEvent) GetResult() *Result {
	if x != nil {
		if x, ok := x.Event.(*ExecuteEvent_Result); ok {
			return x.Result
		}
	}
	return nil
}

func (x *ExecuteEvent) GetError() *Error {
	if x != nil {
		if x, ok := x.Event.(*ExecuteEvent_Error); ok {
			return x.Error
		}
	}
	return nil
}

type isExecuteEvent_Event interface {
	isExecuteEvent_Event()
}

type ExecuteEvent_Heartbeat struct {
	Heartbeat *Heartbeat `protobuf:"bytes,1,opt,name=heartbeat,proto3,oneof"`
}

type ExecuteEvent_Result struct {
	Result *Result `protobuf:"bytes,2,opt,name=result,proto3,oneof"`
}

type ExecuteEvent_Error struct {
	Error *Error `protobuf:"bytes,3,opt,name=error,proto3,oneof"`
}

func (*ExecuteEvent_Heartbeat) isExecuteEvent_Event() {}

func (*ExecuteEvent_Result) isExecuteEvent_Event() {}

func (*ExecuteEvent_Error) isExecuteEvent_Event() {}

type Heartbeat struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// The details the tool passed to ctx.heartbeat, as JSON; empty when it passed none.
	DetailsJson []byte `protobuf:"bytes,1,opt,name=details_json,json=detailsJson,proto3" json:"details_json,omitempty"`
	// Optional progress in [0, 1]; negative when not given.
	Progress float64 `protobuf:"fixed64,2,opt,name=progress,proto3" json:"progress,omitempty"`
	// In a batch, the index of the item whose tool sent it (0 outside a batch).
	Item          int32 `protobuf:"varint,3,opt,name=item,proto3" json:"item,omitempty"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *Heartbeat) Reset() {
	*x = Heartbeat{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[10]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *Heartbeat) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*Heartbeat) ProtoMessage() {}

func (x *Heartbeat) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[10]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use Heartbeat.ProtoReflect.Descriptor instead.
func (*Heartbeat) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{10}
}

func (x *Heartbeat) GetDetailsJson() []byte {
	if x != nil {
		return x.DetailsJson
	}
	return nil
}

func (x *Heartbeat) GetProgress() float64 {
	if x != nil {
		return x.Progress
	}
	return 0
}

func (x *Heartbeat) GetItem() int32 {
	if x != nil {
		return x.Item
	}
	return 0
}

type Result struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// The tool's return value as JSON.
	ResultJson    []byte `protobuf:"bytes,1,opt,name=result_json,json=resultJson,proto3" json:"result_json,omitempty"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *Result) Reset() {
	*x = Result{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[11]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *Result) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*Result) ProtoMessage() {}

func (x *Result) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[11]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use Result.ProtoReflect.Descriptor instead.
func (*Result) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{11}
}

func (x *Result) GetResultJson() []byte {
	if x != nil {
		return x.ResultJson
	}
	return nil
}

type Error struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// The Python exception class name, e.g. "ValueError", "InvalidArguments", "Cancelled".
	Type          string `protobuf:"bytes,1,opt,name=type,proto3" json:"type,omitempty"`
	Message       string `protobuf:"bytes,2,opt,name=message,proto3" json:"message,omitempty"`
	Traceback     string `protobuf:"bytes,3,opt,name=traceback,proto3" json:"traceback,omitempty"`
	NonRetryable  bool   `protobuf:"varint,4,opt,name=non_retryable,json=nonRetryable,proto3" json:"non_retryable,omitempty"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *Error) Reset() {
	*x = Error{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[12]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *Error) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*Error) ProtoMessage() {}

func (x *Error) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[12]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use Error.ProtoReflect.Descriptor instead.
func (*Error) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{12}
}

func (x *Error) GetType() string {
	if x != nil {
		return x.Type
	}
	return ""
}

func (x *Error) GetMessage() string {
	if x != nil {
		return x.Message
	}
	return ""
}

func (x *Error) GetTraceback() string {
	if x != nil {
		return x.Traceback
	}
	return ""
}

func (x *Error) GetNonRetryable() bool {
	if x != nil {
		return x.NonRetryable
	}
	return false
}

type CancelRequest struct {
	state         protoimpl.MessageState `protogen:"open.v1"`
	CallId        string                 `protobuf:"bytes,1,opt,name=call_id,json=callId,proto3" json:"call_id,omitempty"`
	Reason        string                 `protobuf:"bytes,2,opt,name=reason,proto3" json:"reason,omitempty"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *CancelRequest) Reset() {
	*x = CancelRequest{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[13]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *CancelRequest) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*CancelRequest) ProtoMessage() {}

func (x *CancelRequest) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[13]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use CancelRequest.ProtoReflect.Descriptor instead.
func (*CancelRequest) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{13}
}

func (x *CancelRequest) GetCallId() string {
	if x != nil {
		return x.CallId
	}
	return ""
}

func (x *CancelRequest) GetReason() string {
	if x != nil {
		return x.Reason
	}
	return ""
}

type CancelResponse struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// False when no call with that id is running (it finished already or never started).
	Found         bool `protobuf:"varint,1,opt,name=found,proto3" json:"found,omitempty"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *CancelResponse) Reset() {
	*x = CancelResponse{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[14]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *CancelResponse) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*CancelResponse) ProtoMessage() {}

func (x *CancelResponse) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[14]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use CancelResponse.ProtoReflect.Descriptor instead.
func (*CancelResponse) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{14}
}

func (x *CancelResponse) GetFound() bool {
	if x != nil {
		return x.Found
	}
	return false
}

type PingRequest struct {
	state         protoimpl.MessageState `protogen:"open.v1"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *PingRequest) Reset() {
	*x = PingRequest{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[15]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *PingRequest) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*PingRequest) ProtoMessage() {}

func (x *PingRequest) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[15]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use PingRequest.ProtoReflect.Descriptor instead.
func (*PingRequest) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{15}
}

type PingResponse struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	Pid   int32                  `protobuf:"varint,1,opt,name=pid,proto3" json:"pid,omitempty"`
	// Calls running now.
	ActiveCalls int32 `protobuf:"varint,2,opt,name=active_calls,json=activeCalls,proto3" json:"active_calls,omitempty"`
	// Calls finished since the process started.
	CompletedCalls int64 `protobuf:"varint,3,opt,name=completed_calls,json=completedCalls,proto3" json:"completed_calls,omitempty"`
	unknownFields  protoimpl.UnknownFields
	sizeCache      protoimpl.SizeCache
}

func (x *PingResponse) Reset() {
	*x = PingResponse{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[16]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *PingResponse) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*PingResponse) ProtoMessage() {}

func (x *PingResponse) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[16]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use PingResponse.ProtoReflect.Descriptor instead.
func (*PingResponse) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{16}
}

func (x *PingResponse) GetPid() int32 {
	if x != nil {
		return x.Pid
	}
	return 0
}

func (x *PingResponse) GetActiveCalls() int32 {
	if x != nil {
		return x.ActiveCalls
	}
	return 0
}

func (x *PingResponse) GetCompletedCalls() int64 {
	if x != nil {
		return x.CompletedCalls
	}
	return 0
}

// A message from Go on the control channel.
type ControlRequest struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// Chosen by Go, unique among its requests on this channel; the response carries it.
	Id uint64 `protobuf:"varint,1,opt,name=id,proto3" json:"id,omitempty"`
	// Types that are valid to be assigned to Request:
	//
	//	*ControlRequest_Describe
	//	*ControlRequest_Ping
	//	*ControlRequest_Cancel
	//	*ControlRequest_Stop
	Request       isControlRequest_Request `protobuf_oneof:"request"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *ControlRequest) Reset() {
	*x = ControlRequest{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[17]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *ControlRequest) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*ControlRequest) ProtoMessage() {}

func (x *ControlRequest) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[17]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use ControlRequest.ProtoReflect.Descriptor instead.
func (*ControlRequest) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{17}
}

func (x *ControlRequest) GetId() uint64 {
	if x != nil {
		return x.Id
	}
	return 0
}

func (x *ControlRequest) GetRequest() isControlRequest_Request {
	if x != nil {
		return x.Request
	}
	return nil
}

func (x *ControlRequest) GetDescribe() *DescribeRequest {
	if x != nil {
		if x, ok := x.Request.(*ControlRequest_Describe); ok {
			return x.Describe
		}
	}
	return nil
}

func (x *ControlRequest) GetPing() *PingRequest {
	if x != nil {
		if x, ok := x.Request.(*ControlRequest_Ping); ok {
			return x.Ping
		}
	}
	return nil
}

func (x *ControlRequest) GetCancel() *CancelRequest {
	if x != nil {
		if x, ok := x.Request.(*ControlRequest_Cancel); ok {
			return x.Cancel
		}
	}
	return nil
}

func (x *ControlRequest) GetStop() *StopRequest {
	if x != nil {
		if x, ok := x.Request.(*ControlRequest_Stop); ok {
			return x.Stop
		}
	}
	return nil
}

type isControlRequest_Request interface {
	isControlRequest_Request()
}

type ControlRequest_Describe struct {
	Describe *DescribeRequest `protobuf:"bytes,2,opt,name=describe,proto3,oneof"`
}

type ControlRequest_Ping struct {
	Ping *PingRequest `protobuf:"bytes,3,opt,name=ping,proto3,oneof"`
}

type ControlRequest_Cancel struct {
	Cancel *CancelRequest `protobuf:"bytes,4,opt,name=cancel,proto3,oneof"`
}

type ControlRequest_Stop struct {
	Stop *StopRequest `protobuf:"bytes,5,opt,name=stop,proto3,oneof"`
}

func (*ControlRequest_Describe) isControlRequest_Request() {}

func (*ControlRequest_Ping) isControlRequest_Request() {}

func (*ControlRequest_Cancel) isControlRequest_Request() {}

func (*ControlRequest_Stop) isControlRequest_Request() {}

// A message from Python on the control channel: the answer to the request with the same id.
type ControlResponse struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	Id    uint64                 `protobuf:"varint,1,opt,name=id,proto3" json:"id,omitempty"`
	// Types that are valid to be assigned to Response:
	//
	//	*ControlResponse_Describe
	//	*ControlResponse_Ping
	//	*ControlResponse_Cancel
	//	*ControlResponse_Stop
	//	*ControlResponse_Error
	Response      isControlResponse_Response `protobuf_oneof:"response"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *ControlResponse) Reset() {
	*x = ControlResponse{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[18]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *ControlResponse) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*ControlResponse) ProtoMessage() {}

func (x *ControlResponse) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[18]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use ControlResponse.ProtoReflect.Descriptor instead.
func (*ControlResponse) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{18}
}

func (x *ControlResponse) GetId() uint64 {
	if x != nil {
		return x.Id
	}
	return 0
}

func (x *ControlResponse) GetResponse() isControlResponse_Response {
	if x != nil {
		return x.Response
	}
	return nil
}

func (x *ControlResponse) GetDescribe() *DescribeResponse {
	if x != nil {
		if x, ok := x.Response.(*ControlResponse_Describe); ok {
			return x.Describe
		}
	}
	return nil
}

func (x *ControlResponse) GetPing() *PingResponse {
	if x != nil {
		if x, ok := x.Response.(*ControlResponse_Ping); ok {
			return x.Ping
		}
	}
	return nil
}

func (x *ControlResponse) GetCancel() *CancelResponse {
	if x != nil {
		if x, ok := x.Response.(*ControlResponse_Cancel); ok {
			return x.Cancel
		}
	}
	return nil
}

func (x *ControlResponse) GetStop() *StopResponse {
	if x != nil {
		if x, ok := x.Response.(*ControlResponse_Stop); ok {
			return x.Stop
		}
	}
	return nil
}

func (x *ControlResponse) GetError() *Error {
	if x != nil {
		if x, ok := x.Response.(*ControlResponse_Error); ok {
			return x.Error
		}
	}
	return nil
}

type isControlResponse_Response interface {
	isControlResponse_Response()
}

type ControlResponse_Describe struct {
	Describe *DescribeResponse `protobuf:"bytes,2,opt,name=describe,proto3,oneof"`
}

type ControlResponse_Ping struct {
	Ping *PingResponse `protobuf:"bytes,3,opt,name=ping,proto3,oneof"`
}

type ControlResponse_Cancel struct {
	Cancel *CancelResponse `protobuf:"bytes,4,opt,name=cancel,proto3,oneof"`
}

type ControlResponse_Stop struct {
	Stop *StopResponse `protobuf:"bytes,5,opt,name=stop,proto3,oneof"`
}

type ControlResponse_Error struct {
	// The request could not be answered: type "UnknownRequest" (a kind this worker does not know),
	// or "NotReady" (a request that needs the adapter before it is loaded).
	Error *Error `protobuf:"bytes,6,opt,name=error,proto3,oneof"`
}

func (*ControlResponse_Describe) isControlResponse_Response() {}

func (*ControlResponse_Ping) isControlResponse_Response() {}

func (*ControlResponse_Cancel) isControlResponse_Response() {}

func (*ControlResponse_Stop) isControlResponse_Response() {}

func (*ControlResponse_Error) isControlResponse_Response() {}

// StopRequest asks the worker to stop (see the header: the Go side owns the worker's life).
type StopRequest struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// How long the running calls get to end once cancelled.
	GraceSeconds float64 `protobuf:"fixed64,1,opt,name=grace_seconds,json=graceSeconds,proto3" json:"grace_seconds,omitempty"`
	// How long the process has to exit before its group gets SIGKILL (for the logs).
	TimeoutSeconds float64 `protobuf:"fixed64,2,opt,name=timeout_seconds,json=timeoutSeconds,proto3" json:"timeout_seconds,omitempty"`
	unknownFields  protoimpl.UnknownFields
	sizeCache      protoimpl.SizeCache
}

func (x *StopRequest) Reset() {
	*x = StopRequest{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[19]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *StopRequest) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*StopRequest) ProtoMessage() {}

func (x *StopRequest) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[19]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use StopRequest.ProtoReflect.Descriptor instead.
func (*StopRequest) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{19}
}

func (x *StopRequest) GetGraceSeconds() float64 {
	if x != nil {
		return x.GraceSeconds
	}
	return 0
}

func (x *StopRequest) GetTimeoutSeconds() float64 {
	if x != nil {
		return x.TimeoutSeconds
	}
	return 0
}

// StopResponse acknowledges a StopRequest: the worker has begun to stop.
type StopResponse struct {
	state         protoimpl.MessageState `protogen:"open.v1"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *StopResponse) Reset() {
	*x = StopResponse{}
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[20]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *StopResponse) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*StopResponse) ProtoMessage() {}

func (x *StopResponse) ProtoReflect() protoreflect.Message {
	mi := &file_snakepool_bridge_v1_bridge_proto_msgTypes[20]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use StopResponse.ProtoReflect.Descriptor instead.
func (*StopResponse) Descriptor() ([]byte, []int) {
	return file_snakepool_bridge_v1_bridge_proto_rawDescGZIP(), []int{20}
}

var File_snakepool_bridge_v1_bridge_proto protoreflect.FileDescriptor

const file_snakepool_bridge_v1_bridge_proto_rawDesc = "" +
	"\n" +
	" snakepool/bridge/v1/bridge.proto\x12\x13snakepool.bridge.v1\"\x11\n" +
	"\x0fDescribeRequest\"\x9b\x02\n" +
	"\x10DescribeResponse\x12\x18\n" +
	"\aadapter\x18\x01 \x01(\tR\aadapter\x123\n" +
	"\x05tools\x18\x02 \x03(\v2\x1d.snakepool.bridge.v1.ToolSpecR\x05tools\x12\x12\n" +
	"\x04mode\x18\x03 \x01(\tR\x04mode\x12\x1f\n" +
	"\vmax_workers\x18\x04 \x01(\x05R\n" +
	"maxWorkers\x12%\n" +
	"\x0epython_version\x18\x05 \x01(\tR\rpythonVersion\x12\x1f\n" +
	"\vgil_enabled\x18\x06 \x01(\bR\n" +
	"gilEnabled\x12\x10\n" +
	"\x03pid\x18\a \x01(\x05R\x03pid\x12)\n" +
	"\x10protocol_version\x18\b \x01(\x05R\x0fprotocolVersion\"l\n" +
	"\bToolSpec\x12\x12\n" +
	"\x04name\x18\x01 \x01(\tR\x04name\x12 \n" +
	"\vdescription\x18\x02 \x01(\tR\vdescription\x12*\n" +
	"\x11input_schema_json\x18\x03 \x01(\tR\x0finputSchemaJson\"\xae\x01\n" +
	"\x0eExecuteRequest\x12\x17\n" +
	"\acall_id\x18\x01 \x01(\tR\x06callId\x12\x12\n" +
	"\x04tool\x18\x02 \x01(\tR\x04tool\x12\x1b\n" +
	"\targs_json\x18\x03 \x01(\fR\bargsJson\x12\x1f\n" +
	"\vresume_json\x18\x04 \x01(\fR\n" +
	"resumeJson\x121\n" +
	"\x04info\x18\x05 \x01(\v2\x1d.snakepool.bridge.v1.CallInfoR\x04info\"\xdf\x01\n" +
	"\bCallInfo\x12\x1f\n" +
	"\vworkflow_id\x18\x01 \x01(\tR\n" +
	"workflowId\x12\x15\n" +
	"\x06run_id\x18\x02 \x01(\tR\x05runId\x12\x1f\n" +
	"\vactivity_id\x18\x03 \x01(\tR\n" +
	"activityId\x12#\n" +
	"\ractivity_type\x18\x04 \x01(\tR\factivityType\x12\x18\n" +
	"\aattempt\x18\x05 \x01(\x05R\aattempt\x12\x1d\n" +
	"\n" +
	"task_queue\x18\x06 \x01(\tR\ttaskQueue\x12\x1c\n" +
	"\tnamespace\x18\a \x01(\tR\tnamespace\"\xd1\x01\n" +
	"\x0eSessionRequest\x12;\n" +
	"\x05start\x18\x01 \x01(\v2#.snakepool.bridge.v1.ExecuteRequestH\x00R\x05start\x12<\n" +
	"\x06cancel\x18\x02 \x01(\v2\".snakepool.bridge.v1.CancelRequestH\x00R\x06cancel\x129\n" +
	"\x05batch\x18\x03 \x01(\v2!.snakepool.bridge.v1.BatchRequestH\x00R\x05batchB\t\n" +
	"\arequest\"\xf0\x01\n" +
	"\fBatchRequest\x12\x17\n" +
	"\acall_id\x18\x01 \x01(\tR\x06callId\x12\x12\n" +
	"\x04tool\x18\x02 \x01(\tR\x04tool\x12\x1d\n" +
	"\n" +
	"items_json\x18\x03 \x03(\fR\titemsJson\x12\x14\n" +
	"\x05first\x18\x04 \x01(\x05R\x05first\x12*\n" +
	"\x11continue_on_error\x18\x05 \x01(\bR\x0fcontinueOnError\x12\x1f\n" +
	"\vresume_json\x18\x06 \x01(\fR\n" +
	"resumeJson\x121\n" +
	"\x04info\x18\a \x01(\v2\x1d.snakepool.bridge.v1.CallInfoR\x04info\"\x8f\x02\n" +
	"\fSessionEvent\x12\x17\n" +
	"\acall_id\x18\x01 \x01(\tR\x06callId\x12>\n" +
	"\theartbeat\x18\x02 \x01(\v2\x1e.snakepool.bridge.v1.HeartbeatH\x00R\theartbeat\x125\n" +
	"\x06result\x18\x03 \x01(\v2\x1b.snakepool.bridge.v1.ResultH\x00R\x06result\x122\n" +
	"\x05error\x18\x04 \x01(\v2\x1a.snakepool.bridge.v1.ErrorH\x00R\x05error\x122\n" +
	"\x04item\x18\x05 \x01(\v2\x1c.snakepool.bridge.v1.ItemEndH\x00R\x04itemB\a\n" +
	"\x05event\"\x95\x01\n" +
	"\aItemEnd\x12\x14\n" +
	"\x05index\x18\x01 \x01(\x05R\x05index\x125\n" +
	"\x06result\x18\x02 \x01(\v2\x1b.snakepool.bridge.v1.ResultH\x00R\x06result\x122\n" +
	"\x05error\x18\x03 \x01(\v2\x1a.snakepool.bridge.v1.ErrorH\x00R\x05errorB\t\n" +
	"\aoutcome\"\xc2\x01\n" +
	"\fExecuteEvent\x12>\n" +
	"\theartbeat\x18\x01 \x01(\v2\x1e.snakepool.bridge.v1.HeartbeatH\x00R\theartbeat\x125\n" +
	"\x06result\x18\x02 \x01(\v2\x1b.snakepool.bridge.v1.ResultH\x00R\x06result\x122\n" +
	"\x05error\x18\x03 \x01(\v2\x1a.snakepool.bridge.v1.ErrorH\x00R\x05errorB\a\n" +
	"\x05event\"^\n" +
	"\tHeartbeat\x12!\n" +
	"\fdetails_json\x18\x01 \x01(\fR\vdetailsJson\x12\x1a\n" +
	"\bprogress\x18\x02 \x01(\x01R\bprogress\x12\x12\n" +
	"\x04item\x18\x03 \x01(\x05R\x04item\")\n" +
	"\x06Result\x12\x1f\n" +
	"\vresult_json\x18\x01 \x01(\fR\n" +
	"resultJson\"x\n" +
	"\x05Error\x12\x12\n" +
	"\x04type\x18\x01 \x01(\tR\x04type\x12\x18\n" +
	"\amessage\x18\x02 \x01(\tR\amessage\x12\x1c\n" +
	"\ttraceback\x18\x03 \x01(\tR\ttraceback\x12#\n" +
	"\rnon_retryable\x18\x04 \x01(\bR\fnonRetryable\"@\n" +
	"\rCancelRequest\x12\x17\n" +
	"\acall_id\x18\x01 \x01(\tR\x06callId\x12\x16\n" +
	"\x06reason\x18\x02 \x01(\tR\x06reason\"&\n" +
	"\x0eCancelResponse\x12\x14\n" +
	"\x05found\x18\x01 \x01(\bR\x05found\"\r\n" +
	"\vPingRequest\"l\n" +
	"\fPingResponse\x12\x10\n" +
	"\x03pid\x18\x01 \x01(\x05R\x03pid\x12!\n" +
	"\factive_calls\x18\x02 \x01(\x05R\vactiveCalls\x12'\n" +
	"\x0fcompleted_calls\x18\x03 \x01(\x03R\x0ecompletedCalls\"\x9d\x02\n" +
	"\x0eControlRequest\x12\x0e\n" +
	"\x02id\x18\x01 \x01(\x04R\x02id\x12B\n" +
	"\bdescribe\x18\x02 \x01(\v2$.snakepool.bridge.v1.DescribeRequestH\x00R\bdescribe\x126\n" +
	"\x04ping\x18\x03 \x01(\v2 .snakepool.bridge.v1.PingRequestH\x00R\x04ping\x12<\n" +
	"\x06cancel\x18\x04 \x01(\v2\".snakepool.bridge.v1.CancelRequestH\x00R\x06cancel\x126\n" +
	"\x04stop\x18\x05 \x01(\v2 .snakepool.bridge.v1.StopRequestH\x00R\x04stopB\t\n" +
	"\arequest\"\xd7\x02\n" +
	"\x0fControlResponse\x12\x0e\n" +
	"\x02id\x18\x01 \x01(\x04R\x02id\x12C\n" +
	"\bdescribe\x18\x02 \x01(\v2%.snakepool.bridge.v1.DescribeResponseH\x00R\bdescribe\x127\n" +
	"\x04ping\x18\x03 \x01(\v2!.snakepool.bridge.v1.PingResponseH\x00R\x04ping\x12=\n" +
	"\x06cancel\x18\x04 \x01(\v2#.snakepool.bridge.v1.CancelResponseH\x00R\x06cancel\x127\n" +
	"\x04stop\x18\x05 \x01(\v2!.snakepool.bridge.v1.StopResponseH\x00R\x04stop\x122\n" +
	"\x05error\x18\x06 \x01(\v2\x1a.snakepool.bridge.v1.ErrorH\x00R\x05errorB\n" +
	"\n" +
	"\bresponse\"[\n" +
	"\vStopRequest\x12#\n" +
	"\rgrace_seconds\x18\x01 \x01(\x01R\fgraceSeconds\x12'\n" +
	"\x0ftimeout_seconds\x18\x02 \x01(\x01R\x0etimeoutSeconds\"\x0e\n" +
	"\fStopResponse2\xd6\x02\n" +
	"\x06Bridge\x12W\n" +
	"\bDescribe\x12$.snakepool.bridge.v1.DescribeRequest\x1a%.snakepool.bridge.v1.DescribeResponse\x12S\n" +
	"\aExecute\x12#.snakepool.bridge.v1.ExecuteRequest\x1a!.snakepool.bridge.v1.ExecuteEvent0\x01\x12Q\n" +
	"\x06Cancel\x12\".snakepool.bridge.v1.CancelRequest\x1a#.snakepool.bridge.v1.CancelResponse\x12K\n" +
	"\x04Ping\x12 .snakepool.bridge.v1.PingRequest\x1a!.snakepool.bridge.v1.PingResponseBCZAgithub.com/snakepool/snakepool/proto/snakepool/bridge/v1;bridgev1b\x06proto3"

var (
	file_snakepool_bridge_v1_bridge_proto_rawDescOnce sync.Once
	file_snakepool_bridge_v1_bridge_proto_rawDescData []byte
)

func file_snakepool_bridge_v1_bridge_proto_rawDescGZIP() []byte {
	file_snakepool_bridge_v1_bridge_proto_rawDescOnce.Do(func() {
		file_snakepool_bridge_v1_bridge_proto_rawDescData = protoimpl.X.CompressGZIP(unsafe.Slice(unsafe.StringData(file_snakepool_bridge_v1_bridge_proto_rawDesc), len(file_snakepool_bridge_v1_bridge_proto_rawDesc)))
	})
	return file_snakepool_bridge_v1_bridge_proto_rawDescData
}

var file_snakepool_bridge_v1_bridge_proto_msgTypes = make([]protoimpl.MessageInfo, 21)
var file_snakepool_bridge_v1_bridge_proto_goTypes = []any{
	(*DescribeRequest)(nil),  // 0: snakepool.bridge.v1.DescribeRequest
	(*DescribeResponse)(nil), // 1: snakepool.bridge.v1.DescribeResponse
	(*ToolSpec)(nil),         // 2: snakepool.bridge.v1.ToolSpec
	(*ExecuteRequest)(nil),   // 3: snakepool.bridge.v1.ExecuteRequest
	(*CallInfo)(nil),         // 4: snakepool.bridge.v1.CallInfo
	(*SessionRequest)(nil),   // 5: snakepool.bridge.v1.SessionRequest
	(*BatchRequest)(nil),     // 6: snakepool.bridge.v1.BatchRequest
	(*SessionEvent)(nil),     // 7: snakepool.bridge.v1.SessionEvent
	(*ItemEnd)(nil),          // 8: snakepool.bridge.v1.ItemEnd
	(*ExecuteEvent)(nil),     // 9: snakepool.bridge.v1.ExecuteEvent
	(*Heartbeat)(nil),        // 10: snakepool.bridge.v1.Heartbeat
	(*Result)(nil),           // 11: snakepool.bridge.v1.Result
	(*Error)(nil),            // 12: snakepool.bridge.v1.Error
	(*CancelRequest)(nil),    // 13: snakepool.bridge.v1.CancelRequest
	(*CancelResponse)(nil),   // 14: snakepool.bridge.v1.CancelResponse
	(*PingRequest)(nil),      // 15: snakepool.bridge.v1.PingRequest
	(*PingResponse)(nil),     // 16: snakepool.bridge.v1.PingResponse
	(*ControlRequest)(nil),   // 17: snakepool.bridge.v1.ControlRequest
	(*ControlResponse)(nil),  // 18: snakepool.bridge.v1.ControlResponse
	(*StopRequest)(nil),      // 19: snakepool.bridge.v1.StopRequest
	(*StopResponse)(nil),     // 20: snakepool.bridge.v1.StopResponse
}
var file_snakepool_bridge_v1_bridge_proto_depIdxs = []int32{
	2,  // 0: snakepool.bridge.v1.DescribeResponse.tools:type_name -> snakepool.bridge.v1.ToolSpec
	4,  // 1: snakepool.bridge.v1.ExecuteRequest.info:type_name -> snakepool.bridge.v1.CallInfo
	3,  // 2: snakepool.bridge.v1.SessionRequest.start:type_name -> snakepool.bridge.v1.ExecuteRequest
	13, // 3: snakepool.bridge.v1.SessionRequest.cancel:type_name -> snakepool.bridge.v1.CancelRequest
	6,  // 4: snakepool.bridge.v1.SessionRequest.batch:type_name -> snakepool.bridge.v1.BatchRequest
	4,  // 5: snakepool.bridge.v1.BatchRequest.info:type_name -> snakepool.bridge.v1.CallInfo
	10, // 6: snakepool.bridge.v1.SessionEvent.heartbeat:type_name -> snakepool.bridge.v1.Heartbeat
	11, // 7: snakepool.bridge.v1.SessionEvent.result:type_name -> snakepool.bridge.v1.Result
	12, // 8: snakepool.bridge.v1.SessionEvent.error:type_name -> snakepool.bridge.v1.Error
	8,  // 9: snakepool.bridge.v1.SessionEvent.item:type_name -> snakepool.bridge.v1.ItemEnd
	11, // 10: snakepool.bridge.v1.ItemEnd.result:type_name -> snakepool.bridge.v1.Result
	12, // 11: snakepool.bridge.v1.ItemEnd.error:type_name -> snakepool.bridge.v1.Error
	10, // 12: snakepool.bridge.v1.ExecuteEvent.heartbeat:type_name -> snakepool.bridge.v1.Heartbeat
	11, // 13: snakepool.bridge.v1.ExecuteEvent.result:type_name -> snakepool.bridge.v1.Result
	12, // 14: snakepool.bridge.v1.ExecuteEvent.error:type_name -> snakepool.bridge.v1.Error
	0,  // 15: snakepool.bridge.v1.ControlRequest.describe:type_name -> snakepool.bridge.v1.DescribeRequest
	15, // 16: snakepool.bridge.v1.ControlRequest.ping:type_name -> snakepool.bridge.v1.PingRequest
	13, // 17: snakepool.bridge.v1.ControlRequest.cancel:type_name -> snakepool.bridge.v1.CancelRequest
	19, // 18: snakepool.bridge.v1.ControlRequest.stop:type_name -> snakepool.bridge.v1.StopRequest
	1,  // 19: snakepool.bridge.v1.ControlResponse.describe:type_name -> snakepool.bridge.v1.DescribeResponse
	16, // 20: snakepool.bridge.v1.ControlResponse.ping:type_name -> snakepool.bridge.v1.PingResponse
	14, // 21: snakepool.bridge.v1.ControlResponse.cancel:type_name -> snakepool.bridge.v1.CancelResponse
	20, // 22: snakepool.bridge.v1.ControlResponse.stop:type_name -> snakepool.bridge.v1.StopResponse
	12, // 23: snakepool.bridge.v1.ControlResponse.error:type_name -> snakepool.bridge.v1.Error
	0,  // 24: snakepool.bridge.v1.Bridge.Describe:input_type -> snakepool.bridge.v1.DescribeRequest
	3,  // 25: snakepool.bridge.v1.Bridge.Execute:input_type -> snakepool.bridge.v1.ExecuteRequest
	13, // 26: snakepool.bridge.v1.Bridge.Cancel:input_type -> snakepool.bridge.v1.CancelRequest
	15, // 27: snakepool.bridge.v1.Bridge.Ping:input_type -> snakepool.bridge.v1.PingRequest
	1,  // 28: snakepool.bridge.v1.Bridge.Describe:output_type -> snakepool.bridge.v1.DescribeResponse
	9,  // 29: snakepool.bridge.v1.Bridge.Execute:output_type -> snakepool.bridge.v1.ExecuteEvent
	14, // 30: snakepool.bridge.v1.Bridge.Cancel:output_type -> snakepool.bridge.v1.CancelResponse
	16, // 31: snakepool.bridge.v1.Bridge.Ping:output_type -> snakepool.bridge.v1.PingResponse
	28, // [28:32] is the sub-list for method output_type
	24, // [24:28] is the sub-list for method input_type
	24, // [24:24] is the sub-list for extension type_name
	24, // [24:24] is the sub-list for extension extendee
	0,  // [0:24] is the sub-list for field type_name
}

func init() { file_snakepool_bridge_v1_bridge_proto_init() }
func file_snakepool_bridge_v1_bridge_proto_init() {
	if File_snakepool_bridge_v1_bridge_proto != nil {
		return
	}
	file_snakepool_bridge_v1_bridge_proto_msgTypes[5].OneofWrappers = []any{
		(*SessionRequest_Start)(nil),
		(*SessionRequest_Cancel)(nil),
		(*SessionRequest_Batch)(nil),
	}
	file_snakepool_bridge_v1_bridge_proto_msgTypes[7].OneofWrappers = []any{
		(*SessionEvent_Heartbeat)(nil),
		(*SessionEvent_Result)(nil),
		(*SessionEvent_Error)(nil),
		(*SessionEvent_Item)(nil),
	}
	file_snakepool_bridge_v1_bridge_proto_msgTypes[8].OneofWrappers = []any{
		(*ItemEnd_Result)(nil),
		(*ItemEnd_Error)(nil),
	}
	file_snakepool_bridge_v1_bridge_proto_msgTypes[9].OneofWrappers = []any{
		(*ExecuteEvent_Heartbeat)(nil),
		(*ExecuteEvent_Result)(nil),
		(*ExecuteEvent_Error)(nil),
	}
	file_snakepool_bridge_v1_bridge_proto_msgTypes[17].OneofWrappers = []any{
		(*ControlRequest_Describe)(nil),
		(*ControlRequest_Ping)(nil),
		(*ControlRequest_Cancel)(nil),
		(*ControlRequest_Stop)(nil),
	}
	file_snakepool_bridge_v1_bridge_proto_msgTypes[18].OneofWrappers = []any{
		(*ControlResponse_Describe)(nil),
		(*ControlResponse_Ping)(nil),
		(*ControlResponse_Cancel)(nil),
		(*ControlResponse_Stop)(nil),
		(*ControlResponse_Error)(nil),
	}
	type x struct{}
	out := protoimpl.TypeBuilder{
		File: protoimpl.DescBuilder{
			GoPackagePath: reflect.TypeOf(x{}).PkgPath(),
			RawDescriptor: unsafe.Slice(unsafe.StringData(file_snakepool_bridge_v1_bridge_proto_rawDesc), len(file_snakepool_bridge_v1_bridge_proto_rawDesc)),
			NumEnums:      0,
			NumMessages:   21,
			NumExtensions: 0,
			NumServices:   1,
		},
		GoTypes:           file_snakepool_bridge_v1_bridge_proto_goTypes,
		DependencyIndexes: file_snakepool_bridge_v1_bridge_proto_depIdxs,
		MessageInfos:      file_snakepool_bridge_v1_bridge_proto_msgTypes,
	}.Build()
	File_snakepool_bridge_v1_bridge_proto = out.File
	file_snakepool_bridge_v1_bridge_proto_goTypes = nil
	file_snakepool_bridge_v1_bridge_proto_depIdxs = nil
}
