"""A supervised worker's lifecycle: the group's signals are ignored, the supervisor's Stop request on
the control channel stops it, and teardown runs only once the calls have ended."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import TEST_ADAPTER, Server, ServerFactory, kill_quietly, until, wait_pid_gone
from test_call_channel import ChannelClient

from snakepool._lifecycle import EXIT_TEARDOWN_SKIPPED
from snakepool._lifeline import EXIT_PARENT_GONE
from snakepool.bridge.v1 import bridge_pb2 as pb


def _supervised(servers: ServerFactory, mode: str, events: Path) -> Server:
    args = ("--supervised",) if mode == "process" else ("--supervised", "--max-workers", "2")
    return servers.start(TEST_ADAPTER, *args, mode=mode, env={"SP_EVENTS": str(events)})


def _running(
    servers: ServerFactory, mode: str, tool: str, args: dict[str, float]
) -> tuple[Server, ChannelClient, str, Path]:
    """A supervised server running ``tool`` (which heartbeats once it runs), its channel, the call
    id and the file of its events."""
    events = servers.workdir() / "events"
    server = _supervised(servers, mode, events)
    session = ChannelClient(server)
    call_id = session.start(tool, args)
    assert session.next_event(call_id).HasField("heartbeat")
    return server, session, call_id, events


def _send_stop(server: Server, grace: float, timeout: float) -> None:
    assert server.control is not None
    server.control.stop(grace, timeout)


def _events(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_group_signals_are_ignored_and_the_stop_command_stops(servers: ServerFactory, mode: str) -> None:
    events = servers.workdir() / "events"
    server = _supervised(servers, mode, events)
    session = ChannelClient(server)
    call_id = session.start("compute", {"x": 1.0})
    assert until(lambda: server.ping().active_calls == 1)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        server.signal(sig)
    assert session.result(call_id) == 1.0, "the running call finishes"
    assert server.ping().active_calls == 0 and server.proc.poll() is None, "the worker serves on"
    assert session.result(session.start("square", {"x": 3})) == 9
    _send_stop(server, grace=5, timeout=10)
    assert server.wait(15) == 0
    assert _events(events) == ["teardown ran"]
    messages = [line["message"] for line in server.logs()]
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        assert any(m.startswith(f"ignoring {name}: the supervisor owns") for m in messages), name
    assert any(m.startswith("the supervisor asked the worker to stop; stopping") for m in messages)
    assert messages[-1] == "stopped"


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_teardown_runs_after_the_cancelled_calls_have_ended(servers: ServerFactory, mode: str) -> None:
    server, session, call_id, events = _running(servers, mode, "slow_to_cancel", {"delay": 0.5})
    _send_stop(server, grace=5, timeout=10)
    err = session.error_of(call_id)
    assert err.type == "Cancelled" and "the supervisor asked the worker to stop" in err.message
    assert server.wait(15) == 0
    assert _events(events) == ["tool ended", "teardown ran"], "teardown waited for the tool"


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_a_tool_ignoring_its_cancel_past_the_grace_skips_teardown(servers: ServerFactory, mode: str) -> None:
    server, _, _, events = _running(servers, mode, "hold", {"seconds": 30})
    began = time.monotonic()
    _send_stop(server, grace=0.5, timeout=5)
    assert server.wait(15) == EXIT_TEARDOWN_SKIPPED
    assert time.monotonic() - began < 5, "it exits once the grace is over, within the stop timeout"
    assert _events(events) == [], "no teardown beside the running tool"
    assert any("exiting without teardown()" in line["message"] for line in server.logs())


def test_end_of_the_control_channel_exits_at_once_without_teardown(servers: ServerFactory) -> None:
    server, _, _, events = _running(servers, "process", "hold", {"seconds": 30})
    assert server.control is not None
    server.control.sock.close()  # the Go side died
    assert server.wait(15) == EXIT_PARENT_GONE
    assert _events(events) == []
    assert any(
        line["message"] == "parent process is gone (the control channel closed); exiting"
        for line in server.logs()
    )


def test_the_tools_children_keep_the_default_signal_handlers(servers: ServerFactory) -> None:
    server = _supervised(servers, "process", servers.workdir() / "events")
    session = ChannelClient(server)
    forked, execd = session.result(session.start("fork_and_exec_children"))
    # A SIGTERM in the instant after the fork, before the child's handlers are the defaults again.
    forked_at_once, execd_too = session.result(
        session.start("fork_and_exec_children", {"term_at_once": True})
    )
    try:
        for pid in (forked, execd, execd_too):
            os.kill(pid, signal.SIGTERM)
        for pid in (forked, execd, forked_at_once, execd_too):
            assert wait_pid_gone(pid, 10), f"child {pid} ignored SIGTERM"
    finally:
        for pid in (forked, execd, forked_at_once, execd_too):
            kill_quietly(pid)


def test_unknown_requests_and_noise_on_stdin_are_ignored(servers: ServerFactory) -> None:
    server = _supervised(servers, "process", servers.workdir() / "events")
    assert server.proc.stdin is not None and server.control is not None
    server.proc.stdin.write(b'not json\n{"stop": {}}\n')
    server.proc.stdin.flush()
    answer = server.control.request(pb.ControlRequest())  # a kind this worker does not know
    assert answer.error.type == "UnknownRequest"
    session = ChannelClient(server)
    assert session.result(session.start("read_stdin")) == "", "the tools read /dev/null"
    assert until(lambda: any("ignoring what arrives on stdin" in line["message"] for line in server.logs()))
    assert server.control.ping().active_calls == 0
    assert server.proc.poll() is None


def test_a_stop_request_is_acknowledged_and_a_bad_grace_is_the_default(servers: ServerFactory) -> None:
    # A negative grace is no grace the worker can use: it takes its --shutdown-grace.
    server = servers.start(TEST_ADAPTER, "--supervised", "--shutdown-grace", "0.5")
    session = ChannelClient(server)
    session.start("hold", {"seconds": 30})
    assert until(lambda: server.ping().active_calls == 1)
    began = time.monotonic()
    _send_stop(server, grace=-1, timeout=5)
    assert server.wait(15) == EXIT_TEARDOWN_SKIPPED
    assert time.monotonic() - began < 5, "the 0.5 s default grace, not a negative one"
    assert any("(1 running calls cancelled, 0.5s grace)" in line["message"] for line in server.logs())
