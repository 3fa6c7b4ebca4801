"""The control channel: Describe, Ping, Cancel and Stop as the Go pool sends them, answered by a
thread of the worker's own; and a worker served the Go pool's way imports no grpc."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TEST_ADAPTER, ControlClient, Server, ServerFactory, read_line, server_env
from test_call_channel import ChannelClient

from snakepool import PROTOCOL_VERSION
from snakepool._lifeline import EXIT_PARENT_GONE
from snakepool.bridge.v1 import bridge_pb2 as pb


def _pool_worker(servers: ServerFactory, mode: str = "process") -> Server:
    """A worker started as the Go pool starts it: the two channels, no --socket (so no gRPC)."""
    extra = ("--max-workers", "2") if mode == "thread" else ()
    return servers.start(TEST_ADAPTER, "--supervised", *extra, mode=mode, grpc_socket=False)


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_a_worker_served_the_pools_way_imports_no_grpc(servers: ServerFactory, mode: str) -> None:
    server = _pool_worker(servers, mode)
    assert set(server.handshake) == {"protocol", "package_version", "pid"}, "no gRPC address"
    assert server.control is not None
    described = server.control.describe()
    assert described.protocol_version == PROTOCOL_VERSION and described.mode == mode
    assert described.pid == server.handshake["pid"] == server.proc.pid
    assert "square" in {t.name for t in described.tools}
    session = ChannelClient(server)
    loaded = session.result(session.start("loaded_modules", {"packages": ["grpc", "google", "snakepool"]}))
    assert not [m for m in loaded if m.startswith("grpc")], loaded
    assert "snakepool._grpc_server" not in loaded and "snakepool.bridge.v1.bridge_pb2_grpc" not in loaded
    assert "google.protobuf" in loaded, "the check above can fail: protobuf is imported, as grpc was"
    maps = Path(f"/proc/{server.proc.pid}/maps").read_text()
    assert "grpc" not in maps, "a grpc library is mapped into the worker"
    session.abort()
    server.control.stop(1, 5)
    assert server.proc.wait(15) == 0


def test_ping_and_cancel_are_answered_while_the_tool_thread_spins(servers: ServerFactory) -> None:
    server = _pool_worker(servers)
    assert server.control is not None
    session = ChannelClient(server)
    call_id = session.start("spin")
    assert session.next_event(call_id).heartbeat.details_json == b'"started"'
    began = time.monotonic()
    for _ in range(20):
        ping = server.control.ping()
        assert ping.active_calls == 1 and ping.pid == server.proc.pid
    # Not a timing assertion of speed: 20 answers must not wait for the tool, which never ends.
    assert time.monotonic() - began < 30
    assert server.control.cancel(call_id, "enough spinning")
    err = session.error_of(call_id)
    assert err.type == "Cancelled" and "enough spinning" in err.message
    assert server.control.ping().completed_calls == 1
    session.abort()


def test_answers_carry_the_ids_of_their_requests_in_order(servers: ServerFactory) -> None:
    server = _pool_worker(servers)
    control = server.control
    assert control is not None
    # Several requests before reading any answer: each answer names its request.
    requests = [
        pb.ControlRequest(id=10, ping=pb.PingRequest()),
        pb.ControlRequest(id=11, cancel=pb.CancelRequest(call_id="nobody")),
        pb.ControlRequest(id=12),  # of a kind this worker does not know
        pb.ControlRequest(id=13, describe=pb.DescribeRequest()),
    ]
    for request in requests:
        control.send(request)
    control.sock.settimeout(10)
    reader = control.sock.makefile("rb")
    answers = []
    for _ in requests:
        (size,) = _header(reader.read(4))
        answers.append(pb.ControlResponse.FromString(reader.read(size)))
    assert [a.id for a in answers] == [10, 11, 12, 13]
    assert [a.WhichOneof("response") for a in answers] == ["ping", "cancel", "error", "describe"]
    assert not answers[1].cancel.found
    assert answers[2].error.type == "UnknownRequest"


def _header(data: bytes) -> tuple[int]:
    assert len(data) == 4, f"the channel ended ({data!r})"
    return (int.from_bytes(data, "big"),)


def test_the_control_channel_is_the_lifeline_while_the_adapter_loads(servers: ServerFactory) -> None:
    # Before the handshake (a setup that takes long), a request is answered "not ready", and the
    # end of the channel ends the worker at once.
    control, theirs = socket.socketpair()
    hs_r, hs_w = os.pipe()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "snakepool.server", "--adapter", TEST_ADAPTER, "--supervised"),
            *("--control-fd", str(theirs.fileno()), "--handshake-fd", str(hs_w)),
        ],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(theirs.fileno(), hs_w),
        env=server_env({"SP_SETUP_SECONDS": "60"}),
    )
    servers.procs.append(proc)
    theirs.close()
    os.close(hs_w)
    try:
        client = ControlClient(control)
        answer = client.request(pb.ControlRequest(ping=pb.PingRequest()), timeout=30)
        assert answer.error.type == "NotReady"
        control.close()
        assert proc.wait(15) == EXIT_PARENT_GONE
        assert read_line(hs_r, 5) == "", "no handshake: the worker never served"
    finally:
        os.close(hs_r)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "nothing to serve on: give --socket PATH (gRPC), --control-fd FD (the Go pool), or both"),
        (("--socket", "/tmp/x.sock", "--supervised"), "--supervised needs --control-fd"),
    ],
)
def test_a_command_line_without_a_way_to_serve_is_refused(args: tuple[str, ...], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "snakepool.server", "--adapter", TEST_ADAPTER, *args],
        env=server_env(),
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert message in proc.stderr.decode(), proc.stderr.decode()


def test_the_handshake_names_the_grpc_address_only_when_grpc_is_served(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER)  # the tests' servers serve gRPC too
    assert server.handshake["address"] == f"unix:{server.workdir / 'w.sock'}"
    assert json.loads(json.dumps(server.handshake))["protocol"] == PROTOCOL_VERSION
