"""The bridge over a real socket: handshake, describe, results, errors, arguments, logs."""

from __future__ import annotations

import json
import os
import sys

import pytest
from conftest import SHOWCASE, TEST_ADAPTER, CallError, Server, ServerFactory

import snakepool
from snakepool import PROTOCOL_VERSION
from snakepool.bridge.v1 import bridge_pb2 as pb


def test_handshake_and_describe(process_server: Server) -> None:
    hs = process_server.handshake
    assert hs["protocol"] == PROTOCOL_VERSION and hs["package_version"] == snakepool.__version__
    assert hs["address"].startswith("unix:/tmp/sp-") and hs["address"].endswith("/w.sock")
    assert hs["pid"] == process_server.proc.pid
    d = process_server.stub.Describe(pb.DescribeRequest(), timeout=5)
    assert d.adapter == TEST_ADAPTER
    assert d.mode == "process" and d.max_workers == 1
    assert d.python_version == sys.version
    assert d.gil_enabled is (sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True)
    assert d.pid == process_server.proc.pid and d.protocol_version == PROTOCOL_VERSION
    tools = {t.name: t for t in d.tools}
    for name in ("square", "is_prime", "compute", "increment", "noop", "fail", "typed-tool"):
        assert name in tools
    assert "typed" not in tools  # registered under its explicit name
    assert tools["square"].description == "Return x * x"
    assert tools["racy_increment"].description.startswith("Increment a counter WITHOUT the lock")
    schema = json.loads(tools["typed-tool"].input_schema_json)
    assert schema["required"] == ["a"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["a"] == {"type": "integer"}
    assert schema["properties"]["b"] == {"type": "number", "default": 1.5}
    assert schema["properties"]["mode"] == {"enum": ["x", "y"], "default": "x"}
    assert schema["properties"]["tags"]["anyOf"] == [
        {"type": "array", "items": {"type": "string"}},
        {"type": "null"},
    ]
    compute = json.loads(tools["compute"].input_schema_json)
    assert list(compute["properties"]) == ["x"]  # ctx is not an argument


def test_handshake_on_stdout_without_fd(servers: ServerFactory) -> None:
    proc, _, hs = servers.spawn(SHOWCASE, handshake_fd=False)
    assert hs["pid"] == proc.pid and hs["address"].startswith("unix:")


def test_results(process_server: Server) -> None:
    assert process_server.call("square", {"x": 12}) == 144
    assert process_server.call("square", {"x": 1.5}) == 2.25
    assert process_server.call("is_prime", {"n": 7919}) is True
    assert process_server.call("is_prime", {"n": 7917}) is False
    assert process_server.call("compute", {"x": 0.01}) == pytest.approx(0.0001)
    assert process_server.call("noop") is None
    assert process_server.call("noop", raw_args=b"{}") is None
    assert process_server.call("echo", {"a": [1, {"b": None}]}) == {"a": [1, {"b": None}]}


def test_counter(process_server: Server) -> None:
    start = process_server.call("get_counter")
    assert process_server.call("increment") == start + 1
    assert process_server.call("increment", {"by": 5}) == start + 6


def test_unknown_tool_names_it_and_lists_tools(process_server: Server) -> None:
    err = process_server.error("sqaure", {"x": 1})
    assert err.type == "ToolNotFound"
    assert "'sqaure'" in err.message and "square" in err.message and "is_prime" in err.message
    assert err.non_retryable


def test_python_exception_becomes_error(process_server: Server) -> None:
    err = process_server.error("fail", {"message": "the disk is on fire"})
    assert err.type == "ValueError"
    assert err.message == "the disk is on fire"
    assert "Traceback" in err.traceback and "raise ValueError(message)" in err.traceback
    assert not err.non_retryable


def test_non_retryable_errors(process_server: Server) -> None:
    err = process_server.error("fail_permanently", {"message": "no"})
    assert (err.type, err.message, err.non_retryable) == ("NonRetryableError", "no", True)
    err = process_server.error("quota")
    assert (err.type, err.non_retryable) == ("QuotaExceeded", True)
    assert err.message == "quota of 3 calls exceeded"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ({}, ["missing required argument 'a' (integer)"]),
        ({"a": 1, "c": 2}, ["unknown argument 'c'"]),
        ({"a": "1"}, ["argument 'a': expected integer, got string \"1\""]),
        ({"a": True}, ["argument 'a': expected integer, got boolean"]),
        ({"a": 1.5}, ["argument 'a': expected integer, got number 1.5"]),
        ({"a": 1, "tags": ["x", 2]}, ["argument 'tags[1]'"]),
        ({"a": 1, "mode": "z"}, ['argument \'mode\': expected one of ["x", "y"]']),
        ({"a": 1, "weights": {"k": "heavy"}}, ["argument 'weights.k': expected number"]),
        ({"b": "x", "zz": 1}, ["missing required argument 'a'", "unknown argument 'zz'", "argument 'b'"]),
    ],
)
def test_invalid_arguments(process_server: Server, args: dict[str, object], fragments: list[str]) -> None:
    err = process_server.error("typed-tool", args)
    assert err.type == "InvalidArguments" and err.non_retryable
    assert "tool 'typed-tool'" in err.message
    for fragment in fragments:
        assert fragment in err.message
    assert "It accepts: a: integer, b: number (optional)" in err.message


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [(b"[1, 2]", "must be a JSON object, got array"), (b"{nope", "not valid JSON"), (b"3", "got integer")],
)
def test_arguments_must_be_a_json_object(process_server: Server, raw: bytes, fragment: str) -> None:
    err = process_server.error("typed-tool", raw_args=raw)
    assert err.type == "InvalidArguments" and err.non_retryable and fragment in err.message


def test_defaults_and_conversions(process_server: Server) -> None:
    assert process_server.call("typed-tool", {"a": 3}) == {
        "a": 3,
        "b": 1.5,
        "tags": None,
        "mode": "x",
        "weights": None,
        "b_type": "float",
    }
    got = process_server.call(
        "typed-tool", {"a": 3.0, "b": 2, "tags": ["t"], "mode": "y", "weights": {"k": 1}}
    )
    # An integral float binds to int; an int is a valid float and stays an int (numeric tower).
    assert got == {"a": 3, "b": 2, "tags": ["t"], "mode": "y", "weights": {"k": 1}, "b_type": "int"}


@pytest.mark.parametrize("kind", ["set", "object", "nan"])
def test_non_serialisable_result_names_the_tool(process_server: Server, kind: str) -> None:
    err = process_server.error("bad_result", {"kind": kind})
    assert err.type == "InvalidResult" and err.non_retryable
    assert "tool 'bad_result' returned a value that is not JSON-serialisable" in err.message


def test_non_serialisable_heartbeat_details(process_server: Server) -> None:
    err = process_server.error("bad_heartbeat")
    assert err.type == "TypeError"
    assert "tool 'bad_heartbeat': heartbeat details must be JSON-serialisable" in err.message


def test_heartbeats_progress_and_resume(process_server: Server) -> None:
    events = process_server.execute("progress", {"steps": 4})
    beats = [e.heartbeat for e in events[:-1]]
    assert [json.loads(b.details_json) for b in beats] == [{"step": 1}, {"step": 2}, {"step": 3}, {"step": 4}]
    assert [b.progress for b in beats] == [0.25, 0.5, 0.75, 1.0]
    assert json.loads(events[-1].result.result_json) == 4
    events = process_server.execute("progress", {"steps": 4}, resume={"step": 3})
    assert [json.loads(e.heartbeat.details_json) for e in events[:-1]] == [{"step": 4}]
    assert json.loads(events[-1].result.result_json) == 1


def test_heartbeat_without_details_or_progress(process_server: Server) -> None:
    call_id, events = process_server.start("wait_for_cancel")
    first = next(events)
    assert first.heartbeat.details_json == b'"started"' and first.heartbeat.progress == -1.0
    assert process_server.stub.Cancel(pb.CancelRequest(call_id=call_id), timeout=5).found
    assert list(events)[-1].error.type == "Cancelled"


def test_context_info_and_resume(process_server: Server) -> None:
    info = pb.CallInfo(
        workflow_id="wf-1",
        run_id="run-1",
        activity_id="act-1",
        activity_type="square",
        attempt=3,
        task_queue="q",
        namespace="default",
    )
    got = process_server.call("whoami", call_id="my-call", resume={"epoch": 7}, info=info)
    assert got["call_id"] == "my-call" and got["tool"] == "whoami"
    assert got["info"] == {
        "workflow_id": "wf-1",
        "run_id": "run-1",
        "activity_id": "act-1",
        "activity_type": "square",
        "attempt": 3,
        "task_queue": "q",
        "namespace": "default",
    }
    assert got["resume"] == {"epoch": 7}
    assert got["thread"] == "snakepool-tool-0"
    got = process_server.call("whoami")
    assert got["resume"] is None and got["info"]["attempt"] == 0


def test_invalid_resume_json(process_server: Server) -> None:
    req = process_server.request("whoami")
    req.resume_json = b"{not json"
    events = list(process_server.stub.Execute(req, timeout=10))
    assert events[-1].error.type == "InvalidArguments" and "resume" in events[-1].error.message


def test_ping_counts_calls(process_server: Server) -> None:
    before = process_server.ping()
    assert before.pid == process_server.proc.pid and before.active_calls == 0
    process_server.call("noop")
    assert process_server.ping().completed_calls == before.completed_calls + 1


def test_logs_are_json_lines_with_worker_thread_and_call(process_server: Server) -> None:
    assert process_server.call("chatty", {"message": "hi"}, call_id="chatty-1") == "ok"
    assert process_server.call("square", {"x": 2}) == 4  # the protocol survived the prints
    logs = process_server.logs()
    for line in logs:
        assert set(line) >= {"time", "level", "logger", "message", "thread", "worker_id"}
        assert isinstance(line["time"], float) and line["worker_id"] == "test-worker"
    by_msg = {line["message"]: line for line in logs}
    ctx_line = by_msg["ctx says hi"]
    assert ctx_line["level"] == "INFO" and ctx_line["logger"] == "snakepool.tool.chatty"
    assert ctx_line["call_id"] == "chatty-1" and ctx_line["thread"] == "snakepool-tool-0"
    module_line = by_msg["module logger says hi"]
    assert module_line["level"] == "WARNING" and module_line["call_id"] == "chatty-1"
    exc_line = by_msg["with a traceback"]
    assert exc_line["level"] == "ERROR" and "KeyError: 'inner'" in exc_line["exc"]
    started = [line for line in logs if line["message"].startswith("serving sp_adapters:TestAdapter")]
    assert started and started[0]["thread"] == "MainThread" and "call_id" not in started[0]


def test_noisy_setup_does_not_break_the_handshake(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, env={"SP_NOISY_SETUP": "1"})
    assert server.call("square", {"x": 3}) == 9
    assert "not a handshake" in server.stdout()


def test_missing_adapter_module(servers: ServerFactory) -> None:
    proc, _, hs = servers.spawn("no_such_module_xyz:Thing")
    assert hs["protocol"] == PROTOCOL_VERSION and "address" not in hs
    assert hs["error"]["type"] == "ModuleNotFoundError"
    assert "no_such_module_xyz" in hs["error"]["message"]
    assert "Traceback" in hs["error"]["traceback"]
    assert proc.wait(10) == 1


@pytest.mark.parametrize(
    ("ref", "type_", "fragment"),
    [
        ("sp_adapters:Missing", "AttributeError", "has no attribute 'Missing' (adapter classes in it:"),
        ("sp_adapters:NotAnAdapter", "TypeError", "is not a subclass of snakepool.Adapter"),
        ("no-colon", "ValueError", "--adapter must look like"),
    ],
)
def test_bad_adapter_reference(servers: ServerFactory, ref: str, type_: str, fragment: str) -> None:
    proc, _, hs = servers.spawn(ref)
    assert hs["error"]["type"] == type_ and fragment in hs["error"]["message"]
    assert proc.wait(10) == 1


def test_setup_failure_is_a_handshake_error(servers: ServerFactory) -> None:
    proc, workdir, hs = servers.spawn(TEST_ADAPTER, env={"SP_FAIL_SETUP": "1"})
    assert hs["error"]["type"] == "RuntimeError" and hs["error"]["message"] == "setup failed on purpose"
    assert proc.wait(10) == 1
    logs = [json.loads(x) for x in (workdir / "log.jsonl").read_text().splitlines()]
    assert any(line["level"] == "ERROR" and "setup failed on purpose" in line.get("exc", "") for line in logs)


def test_stale_socket_file_is_replaced(servers: ServerFactory) -> None:
    first = servers.start(SHOWCASE)
    path = first.address.removeprefix("unix:")
    first.proc.kill()
    first.proc.wait(10)
    assert os.path.exists(path)  # SIGKILL leaves the socket file behind
    proc, workdir, hs = servers.spawn(SHOWCASE, "--socket", path)
    assert hs["address"] == first.address
    s = Server(proc, workdir, hs)
    try:
        assert s.call("square", {"x": 4}) == 16
    finally:
        s.close()


def test_call_error_helper_raises(process_server: Server) -> None:
    with pytest.raises(CallError, match="ValueError: x"):
        process_server.call("fail", {"message": "x"})
