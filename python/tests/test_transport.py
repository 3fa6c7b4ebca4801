"""The gRPC transport (``_grpc_server``): races between calls on one stream, RPCs it must refuse,
and its use of public grpcio API only."""

from __future__ import annotations

import json

import grpc
import pytest
from conftest import TEST_ADAPTER, Server, ServerFactory
from test_call_channel import ChannelClient

from snakepool._grpc_server import SERVER_OPTIONS

SERVICE = "/snakepool.bridge.v1.Bridge/"


def _raw_unary(server: Server, method: str, body: bytes) -> grpc.RpcError:
    call = server.channel.unary_unary(SERVICE + method)
    with pytest.raises(grpc.RpcError) as info:
        call(body, timeout=5)
    error: grpc.RpcError = info.value
    return error


def test_calls_that_race_a_running_call_end_once_and_run_on_the_tool_thread(servers: ServerFactory) -> None:
    # A Start sent on the call channel while a process-profile call runs is read once the running
    # call has ended, and then runs, on the tool thread. Bounded: 60 rounds of about 30 ms.
    server = servers.start(TEST_ADAPTER)
    session = ChannelClient(server)
    try:
        for i in range(60):
            running = session.start("compute", {"x": 0.02 + (i % 5) * 0.005})
            racing = session.start("thread_name")
            assert session.result(running) == pytest.approx((0.02 + (i % 5) * 0.005) ** 2)
            events = session.finish(racing)
            assert len(events) == 1 and events[0].HasField("result"), events
            assert json.loads(events[0].result.result_json) == "snakepool-tool-0"
    finally:
        session.abort()
    assert len(session.events) == 120, "one end per call, no more"
    assert server.ping().active_calls == 0


def test_a_thread_left_heartbeating_does_not_disturb_later_calls(servers: ServerFactory) -> None:
    # Its heartbeats are dropped (its call is over) and must not disturb the calls that follow.
    # Bounded: 300 no-op calls while it beats for 2 s.
    server = servers.start(TEST_ADAPTER)
    session = ChannelClient(server)
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
    assert err.code() == grpc.StatusCode.INTERNAL  # grpc.server's answer to a request it cannot parse
    assert process_server.ping().pid == process_server.handshake["pid"]


def test_the_server_options_are_public_channel_arguments() -> None:
    # Each is a GRPC_ARG_* of grpc_types.h; a misspelt one would be ignored without a word.
    assert {name for name, _ in SERVER_OPTIONS} == {
        "grpc.max_receive_message_length",
        "grpc.max_send_message_length",
        "grpc.so_reuseport",
        "grpc.http2.bdp_probe",
    }
