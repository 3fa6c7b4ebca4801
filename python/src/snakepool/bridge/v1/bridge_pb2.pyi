from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DescribeResponse(_message.Message):
    __slots__ = ("adapter", "tools", "mode", "max_workers", "python_version", "gil_enabled", "pid", "protocol_version")
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MAX_WORKERS_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    GIL_ENABLED_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    adapter: str
    tools: _containers.RepeatedCompositeFieldContainer[ToolSpec]
    mode: str
    max_workers: int
    python_version: str
    gil_enabled: bool
    pid: int
    protocol_version: int
    def __init__(self, adapter: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[ToolSpec, _Mapping]]] = ..., mode: _Optional[str] = ..., max_workers: _Optional[int] = ..., python_version: _Optional[str] = ..., gil_enabled: _Optional[bool] = ..., pid: _Optional[int] = ..., protocol_version: _Optional[int] = ...) -> None: ...

class ToolSpec(_message.Message):
    __slots__ = ("name", "description", "input_schema_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    input_schema_json: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., input_schema_json: _Optional[str] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ("call_id", "tool", "args_json", "resume_json", "info")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    RESUME_JSON_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    tool: str
    args_json: bytes
    resume_json: bytes
    info: CallInfo
    def __init__(self, call_id: _Optional[str] = ..., tool: _Optional[str] = ..., args_json: _Optional[bytes] = ..., resume_json: _Optional[bytes] = ..., info: _Optional[_Union[CallInfo, _Mapping]] = ...) -> None: ...

class CallInfo(_message.Message):
    __slots__ = ("workflow_id", "run_id", "activity_id", "activity_type", "attempt", "task_queue", "namespace")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    run_id: str
    activity_id: str
    activity_type: str
    attempt: int
    task_queue: str
    namespace: str
    def __init__(self, workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., activity_id: _Optional[str] = ..., activity_type: _Optional[str] = ..., attempt: _Optional[int] = ..., task_queue: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class SessionRequest(_message.Message):
    __slots__ = ("start", "cancel", "batch")
    START_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    start: ExecuteRequest
    cancel: CancelRequest
    batch: BatchRequest
    def __init__(self, start: _Optional[_Union[ExecuteRequest, _Mapping]] = ..., cancel: _Optional[_Union[CancelRequest, _Mapping]] = ..., batch: _Optional[_Union[BatchRequest, _Mapping]] = ...) -> None: ...

class BatchRequest(_message.Message):
    __slots__ = ("call_id", "tool", "items_json", "first", "continue_on_error", "resume_json", "info")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_JSON_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_ON_ERROR_FIELD_NUMBER: _ClassVar[int]
    RESUME_JSON_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    tool: str
    items_json: _containers.RepeatedScalarFieldContainer[bytes]
    first: int
    continue_on_error: bool
    resume_json: bytes
    info: CallInfo
    def __init__(self, call_id: _Optional[str] = ..., tool: _Optional[str] = ..., items_json: _Optional[_Iterable[bytes]] = ..., first: _Optional[int] = ..., continue_on_error: _Optional[bool] = ..., resume_json: _Optional[bytes] = ..., info: _Optional[_Union[CallInfo, _Mapping]] = ...) -> None: ...

class SessionEvent(_message.Message):
    __slots__ = ("call_id", "heartbeat", "result", "error", "item")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    heartbeat: Heartbeat
    result: Result
    error: Error
    item: ItemEnd
    def __init__(self, call_id: _Optional[str] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., result: _Optional[_Union[Result, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., item: _Optional[_Union[ItemEnd, _Mapping]] = ...) -> None: ...

class ItemEnd(_message.Message):
    __slots__ = ("index", "result", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    result: Result
    error: Error
    def __init__(self, index: _Optional[int] = ..., result: _Optional[_Union[Result, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class ExecuteEvent(_message.Message):
    __slots__ = ("heartbeat", "result", "error")
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    heartbeat: Heartbeat
    result: Result
    error: Error
    def __init__(self, heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., result: _Optional[_Union[Result, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("details_json", "progress", "item")
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    details_json: bytes
    progress: float
    item: int
    def __init__(self, details_json: _Optional[bytes] = ..., progress: _Optional[float] = ..., item: _Optional[int] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("result_json",)
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    result_json: bytes
    def __init__(self, result_json: _Optional[bytes] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("type", "message", "traceback", "non_retryable")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    NON_RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    type: str
    message: str
    traceback: str
    non_retryable: bool
    def __init__(self, type: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., non_retryable: _Optional[bool] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("call_id", "reason")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    reason: str
    def __init__(self, call_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("found",)
    FOUND_FIELD_NUMBER: _ClassVar[int]
    found: bool
    def __init__(self, found: _Optional[bool] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("pid", "active_calls", "completed_calls")
    PID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_CALLS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_CALLS_FIELD_NUMBER: _ClassVar[int]
    pid: int
    active_calls: int
    completed_calls: int
    def __init__(self, pid: _Optional[int] = ..., active_calls: _Optional[int] = ..., completed_calls: _Optional[int] = ...) -> None: ...

class ControlRequest(_message.Message):
    __slots__ = ("id", "describe", "ping", "cancel", "stop")
    ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIBE_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    id: int
    describe: DescribeRequest
    ping: PingRequest
    cancel: CancelRequest
    stop: StopRequest
    def __init__(self, id: _Optional[int] = ..., describe: _Optional[_Union[DescribeRequest, _Mapping]] = ..., ping: _Optional[_Union[PingRequest, _Mapping]] = ..., cancel: _Optional[_Union[CancelRequest, _Mapping]] = ..., stop: _Optional[_Union[StopRequest, _Mapping]] = ...) -> None: ...

class ControlResponse(_message.Message):
    __slots__ = ("id", "describe", "ping", "cancel", "stop", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIBE_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: int
    describe: DescribeResponse
    ping: PingResponse
    cancel: CancelResponse
    stop: StopResponse
    error: Error
    def __init__(self, id: _Optional[int] = ..., describe: _Optional[_Union[DescribeResponse, _Mapping]] = ..., ping: _Optional[_Union[PingResponse, _Mapping]] = ..., cancel: _Optional[_Union[CancelResponse, _Mapping]] = ..., stop: _Optional[_Union[StopResponse, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class StopRequest(_message.Message):
    __slots__ = ("grace_seconds", "timeout_seconds")
    GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    grace_seconds: float
    timeout_seconds: float
    def __init__(self, grace_seconds: _Optional[float] = ..., timeout_seconds: _Optional[float] = ...) -> None: ...

class StopResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
