"""Cancellation, WorkerBusy, and health checks while tools are busy, in both profiles."""

from __future__ import annotations

import json
import signal
import threading

import grpc
import pytest
from conftest import TEST_ADAPTER, Server, ServerFactory, until

from snakepool.bridge.v1 import bridge_pb2 as pb


@pytest.fixture(params=["process", "thread"])
def server(request: pytest.FixtureRequest, servers: ServerFactory) -> Server:
    if request.param == "thread":
        return servers.start(TEST_ADAPTER, "--max-workers", "2", mode="thread")
    return servers.start(TEST_ADAPTER)


def test_cancel_rpc_stops_a_running_tool(server: Server) -> None:
    call_id, events = server.start("wait_for_cancel")
    assert next(events).heartbeat.details_json == b'"started"'
    assert server.ping().active_calls == 1
    assert server.stub.Cancel(pb.CancelRequest(call_id=call_id, reason="user asked"), timeout=5).found
    rest = list(events)
    assert len(rest) == 1
    err = rest[0].error
    assert err.type == "Cancelled" and "user asked" in err.message and not err.non_retryable
    assert server.ping().active_calls == 0


def test_cancel_of_unknown_call_is_not_found(server: Server) -> None:
    assert not server.stub.Cancel(pb.CancelRequest(call_id="never-started"), timeout=5).found
    server.call("noop", call_id="finished")
    assert not server.stub.Cancel(pb.CancelRequest(call_id="finished"), timeout=5).found


def test_cancelled_sleep_in_compute(server: Server) -> None:
    call_id, events = server.start("compute", {"x": 30})
    assert until(lambda: server.ping().active_calls == 1)
    assert server.stub.Cancel(pb.CancelRequest(call_id=call_id), timeout=5).found
    assert list(events)[-1].error.type == "Cancelled"


def test_returning_after_cancel_still_ends_cancelled(server: Server) -> None:
    call_id, events = server.start("ignore_cancel")
    next(events)
    server.stub.Cancel(pb.CancelRequest(call_id=call_id, reason="stop"), timeout=5)
    err = list(events)[-1].error
    assert err.type == "Cancelled" and "stop" in err.message


def test_ending_the_execute_rpc_cancels_the_call(server: Server) -> None:
    _, events = server.start("wait_for_cancel")
    next(events)
    events.cancel()  # the client abandons the stream
    with pytest.raises(grpc.RpcError) as info:
        list(events)
    assert info.value.code() == grpc.StatusCode.CANCELLED
    # The tool saw ctx.cancelled and finished: the slot is free again.
    assert until(lambda: server.ping().active_calls == 0)
    assert server.call("square", {"x": 5}) == 25


def test_ping_and_cancel_answered_while_a_tool_holds_the_gil(server: Server) -> None:
    call_id, events = server.start("spin")
    assert next(events).heartbeat.details_json == b'"started"'
    for _ in range(20):
        assert server.ping().active_calls == 1
    d = server.stub.Describe(pb.DescribeRequest(), timeout=5)
    assert d.pid == server.proc.pid
    assert server.stub.Cancel(pb.CancelRequest(call_id=call_id), timeout=5).found
    assert list(events)[-1].error.type == "Cancelled"


def test_worker_busy_instead_of_queueing(server: Server) -> None:
    slots = server.stub.Describe(pb.DescribeRequest(), timeout=5).max_workers
    assert slots == (1 if server.stub.Describe(pb.DescribeRequest(), timeout=5).mode == "process" else 2)
    started = []
    for _ in range(slots):
        call_id, events = server.start("wait_for_cancel")
        next(events)
        started.append((call_id, events))
    err = server.error("noop")
    assert err.type == "WorkerBusy" and not err.non_retryable
    assert f"{slots} of {slots} call slots in use" in err.message
    for call_id, events in started:
        server.stub.Cancel(pb.CancelRequest(call_id=call_id), timeout=5)
        assert list(events)[-1].error.type == "Cancelled"
    assert server.call("noop") is None


def test_duplicate_call_id_is_rejected(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "2", mode="thread")
    call_id, events = server.start("wait_for_cancel", call_id="same")
    next(events)
    err = server.error("noop", call_id="same")
    assert err.type == "WorkerBusy" and "'same' is already running" in err.message
    server.stub.Cancel(pb.CancelRequest(call_id=call_id), timeout=5)
    list(events)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_cancels_running_calls_runs_teardown_and_exits_zero(servers: ServerFactory, sig: int) -> None:
    marker = servers.workdir() / "teardown"
    server = servers.start(
        TEST_ADAPTER, "--max-workers", "2", mode="thread", env={"SP_TEARDOWN_MARKER": str(marker)}
    )
    _, events = server.start("wait_for_cancel")
    next(events)
    server.signal(sig)
    err = list(events)[-1].error
    assert err.type == "Cancelled" and "worker stopping" in err.message
    assert server.wait(15) == 0
    assert marker.read_text() == "teardown ran"
    messages = [line["message"] for line in server.logs()]
    assert any(m.startswith(f"received {signal.Signals(sig).name}") for m in messages)
    assert messages[-1] == "stopped"


def test_concurrent_heartbeats_reach_the_right_stream(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "4", mode="thread")
    results: dict[int, list[int]] = {}

    def run(i: int) -> None:
        events = server.execute("progress", {"steps": 20 + i})
        results[i] = [json.loads(e.heartbeat.details_json)["step"] for e in events[:-1]]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert {i: steps for i, steps in results.items()} == {i: list(range(1, 21 + i)) for i in range(4)}
