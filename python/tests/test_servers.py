"""What the two servers (--server loop, the default, and --server grpcio) must agree on, and what
is particular to each. The rest of the suite runs against SNAKEPOOL_SERVER (default loop);
`make test` runs it once more with SNAKEPOOL_SERVER=grpcio."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import SHOWCASE, TEST_ADAPTER, Server, ServerFactory, server_env
from test_session import SessionClient

import snakepool._loop
from snakepool._server import Dispatcher, _start_server
from snakepool.bridge.v1 import bridge_pb2 as pb
from snakepool.bridge.v1 import bridge_pb2_grpc as pb_grpc
from snakepool.examples.showcase import ShowcaseAdapter

SERVER = os.environ.get("SNAKEPOOL_SERVER") or "loop"
SERVICE = "/snakepool.bridge.v1.Bridge/"


def _raw_unary(server: Server, method: str, body: bytes) -> grpc.RpcError:
    call = server.channel.unary_unary(SERVICE + method)
    with pytest.raises(grpc.RpcError) as info:
        call(body, timeout=5)
    error: grpc.RpcError = info.value
    return error


def test_calls_that_race_a_running_call_end_once_and_run_on_the_tool_thread(servers: ServerFactory) -> None:
    # A Start sent while a process-profile call runs is answered WorkerBusy (when the worker reads
    # it during the call) or runs after it (when read after), on the tool thread either way; it can
    # also be read by the loop server's pump helper just as the running call ends, and must then be
    # handed to the tool thread. Bounded: 60 rounds of about 30 ms.
    server = servers.start(TEST_ADAPTER)
    session = SessionClient(server)
    outcomes: collections.Counter[str] = collections.Counter()
    try:
        for i in range(60):
            running = session.start("compute", {"x": 0.02 + (i % 5) * 0.005})
            racing = session.start("thread_name")
            assert session.result(running) == pytest.approx((0.02 + (i % 5) * 0.005) ** 2)
            events = session.finish(racing)
            assert len(events) == 1
            if events[0].HasField("error"):
                assert events[0].error.type == "WorkerBusy"
                outcomes["busy"] += 1
            else:
                assert json.loads(events[0].result.result_json) == "snakepool-tool-0"
                outcomes["ran"] += 1
    finally:
        session.abort()
    assert sum(outcomes.values()) == 60
    assert len(session.events) == 120, "one end per call, no more"
    assert server.ping().active_calls == 0


def test_a_thread_left_heartbeating_does_not_disturb_later_calls(servers: ServerFactory) -> None:
    # Its heartbeats are dropped (its call is over), and must not make it serve the socket: a call
    # it read would never run. Bounded: 300 no-op calls while it beats for 2 s.
    server = servers.start(TEST_ADAPTER)
    session = SessionClient(server)
    try:
        leaver = session.start("leave_heartbeating", {"seconds": 2})
        assert session.result(leaver) is None
        for _ in range(300):
            assert session.result(session.start("noop")) is None
    finally:
        session.abort()
    leaver_events = [e for e in session.events if e.call_id == leaver]
    assert leaver_events[-1].HasField("result"), "no heartbeat after the call's end"


def test_an_unknown_method_is_unimplemented(process_server: Server) -> None:
    err = _raw_unary(process_server, "NoSuchMethod", b"")
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED


def test_a_malformed_request_fails_only_its_rpc(process_server: Server) -> None:
    err = _raw_unary(process_server, "Ping", b"\xff\xff\xff")
    expected = grpc.StatusCode.INVALID_ARGUMENT if SERVER == "loop" else grpc.StatusCode.INTERNAL
    assert err.code() == expected
    assert process_server.ping().pid == process_server.handshake["pid"]


def test_a_bad_server_choice_is_named(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "snakepool.server", "--adapter", SHOWCASE, "--socket", str(tmp_path / "s")],
        env=server_env({"SNAKEPOOL_SERVER": "uvloop"}),
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert b"SNAKEPOOL_SERVER" in proc.stderr and b"'uvloop'" in proc.stderr


def test_the_log_names_the_server(process_server: Server) -> None:
    serving = [line["message"] for line in process_server.logs() if line["message"].startswith("serving")]
    assert serving and f"server={SERVER}" in serving[0]


@pytest.fixture
def inline_dispatcher() -> Iterator[Dispatcher]:
    """A process-profile dispatcher without tool threads, as the loop server makes it."""
    adapter = ShowcaseAdapter()
    adapter.setup()
    d = Dispatcher(adapter, SHOWCASE, "process", 1, tool_threads=0)
    try:
        yield d
    finally:
        d.stop("test over")
        d.stop_threads()


def test_without_the_loop_server_api_grpc_server_serves(
    inline_dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # As if a grpcio release had changed grpc._cython: the worker must still serve, more slowly.
    monkeypatch.setattr(snakepool._loop, "cygrpc", object())
    sock = f"/tmp/sp-fallback-{os.getpid()}.sock"
    server, served_by = _start_server(inline_dispatcher, sock, 1, "loop", inline=True)
    try:
        assert served_by == "grpcio"
        assert any("serving with grpc.server" in r.getMessage() for r in caplog.records)
        with grpc.insecure_channel(f"unix:{sock}") as channel:
            stub: Any = pb_grpc.BridgeStub(channel)  # type: ignore[no-untyped-call]
            request = pb.ExecuteRequest(call_id="f1", tool="square", args_json=b'{"x": 3}')
            events = list(stub.Execute(request, timeout=10))
        assert events[-1].result.result_json == b"9"
    finally:
        server.stop(0).wait(5)
        if os.path.exists(sock):
            os.unlink(sock)
