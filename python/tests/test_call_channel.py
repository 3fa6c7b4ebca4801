"""The call channel: many calls multiplexed on one socket the server inherits, as the Go pool uses it."""

from __future__ import annotations

import collections
import contextlib
import json
import queue
import re
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import SHOWCASE, TEST_ADAPTER, Server, ServerFactory, until

from snakepool._call_channel import CallChannel
from snakepool._dispatch import Dispatcher
from snakepool._frames import Frames
from snakepool.bridge.v1 import bridge_pb2 as pb
from snakepool.examples.showcase import ShowcaseAdapter

EVENT_TIMEOUT = 10.0
_CLOSED = object()
_HEADER = struct.Struct(">I")


class ChannelClient:
    """The Go side of a server's call channel: send Start requests, collect the events per call id.

    A thread reads the socket; events are queued per call id (and kept in arrival order in
    ``events``), so each wait has a timeout and a test fails instead of hanging. ``cancel`` uses the
    control channel, as the Go pool does; ``cancel_on_channel`` sends a Cancel frame instead.
    """

    def __init__(self, server: Server) -> None:
        assert server.calls is not None, "the server was started without a call channel"
        self.server = server
        self.sock = server.calls
        self.events: list[pb.SessionEvent] = []
        self._queues: dict[str, queue.SimpleQueue[Any]] = collections.defaultdict(queue.SimpleQueue)
        self._lock = threading.Lock()
        self.ended = threading.Event()
        self.error: OSError | None = None
        self._ids = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        reader = self.sock.makefile("rb")
        try:
            while len(header := reader.read(_HEADER.size)) == _HEADER.size:
                event = pb.SessionEvent.FromString(reader.read(_HEADER.unpack(header)[0]))
                with self._lock:
                    self.events.append(event)
                    q = self._queues[event.call_id]
                q.put(event)
        except (OSError, ValueError) as exc:  # ValueError: read from a closed file
            self.error = exc if isinstance(exc, OSError) else OSError(str(exc))
        finally:
            self.ended.set()
            with self._lock:
                for q in self._queues.values():
                    q.put(_CLOSED)

    def _queue(self, call_id: str) -> queue.SimpleQueue[Any]:
        with self._lock:
            q = self._queues[call_id]
            if self.ended.is_set():
                q.put(_CLOSED)
            return q

    def send(self, request: pb.SessionRequest) -> None:
        data = request.SerializeToString()
        self.sock.sendall(_HEADER.pack(len(data)) + data)

    def start(self, tool: str, args: Any = None, call_id: str | None = None) -> str:
        if call_id is None:
            self._ids += 1
            call_id = f"s{id(self)}-{self._ids}"
        args_json = b"{}" if args is None else json.dumps(args).encode()
        self.send(pb.SessionRequest(start=pb.ExecuteRequest(call_id=call_id, tool=tool, args_json=args_json)))
        return call_id

    def cancel(self, call_id: str, reason: str = "") -> bool:
        """Cancel on the control channel; True when the call was running."""
        assert self.server.control is not None, "the server was started without a control channel"
        return self.server.control.cancel(call_id, reason)

    def cancel_on_channel(self, call_id: str, reason: str = "") -> None:
        self.send(pb.SessionRequest(cancel=pb.CancelRequest(call_id=call_id, reason=reason)))

    def next_event(self, call_id: str, timeout: float = EVENT_TIMEOUT) -> pb.SessionEvent:
        try:
            event = self._queue(call_id).get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event for call {call_id} within {timeout}s") from None
        if event is _CLOSED:
            raise AssertionError(f"the channel ended ({self.error}) before an event of call {call_id}")
        assert isinstance(event, pb.SessionEvent)
        return event

    def finish(self, call_id: str) -> list[pb.SessionEvent]:
        """All events of a call up to and including its result or error."""
        events = [self.next_event(call_id)]
        while events[-1].HasField("heartbeat"):
            events.append(self.next_event(call_id))
        return events

    def result(self, call_id: str) -> Any:
        last = self.finish(call_id)[-1]
        assert last.HasField("result"), f"expected a result, got {last}"
        return json.loads(last.result.result_json)

    def error_of(self, call_id: str) -> pb.Error:
        last = self.finish(call_id)[-1]
        assert last.HasField("error"), f"expected an error, got {last}"
        return last.error

    def close_send(self) -> None:
        """Half-close: our side of the channel ends; the server still writes the calls' ends."""
        self.sock.shutdown(socket.SHUT_WR)

    def abort(self) -> None:
        """Close our end altogether (the Go side went away)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def wait_ended(self, timeout: float = EVENT_TIMEOUT) -> None:
        assert self.ended.wait(timeout), f"the channel did not end within {timeout}s"


@pytest.fixture(params=["process", "thread"])
def server(request: pytest.FixtureRequest, servers: ServerFactory) -> Server:
    if request.param == "thread":
        return servers.start(TEST_ADAPTER, "--max-workers", "4", mode="thread")
    return servers.start(TEST_ADAPTER)


@pytest.fixture
def session(server: Server) -> Iterator[ChannelClient]:
    client = ChannelClient(server)
    try:
        yield client
    finally:
        client.abort()


def test_sequential_calls_on_the_channel(server: Server, session: ChannelClient) -> None:
    ids = []
    for i in range(60):
        ids.append(session.start("square", {"x": i}))
        assert session.result(ids[-1]) == i * i
    ids.append(session.start("noop"))
    assert session.result(ids[-1]) is None
    assert [e.call_id for e in session.events] == ids
    ping = server.ping()
    assert ping.active_calls == 0 and ping.completed_calls == 61


def test_large_arguments_and_results_cross_the_channel(session: ChannelClient) -> None:
    # Frames larger than one read of the socket (64 KiB) and than its buffers.
    blob = "x" * (3 << 20)
    assert session.result(session.start("echo", {"blob": blob})) == {"blob": blob}


def test_concurrent_calls_are_matched_by_call_id(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "4", mode="thread")
    session = ChannelClient(server)
    # Four calls at once; the slow ones finish last, so results arrive out of start order.
    slow = session.start("compute", {"x": 0.3}, call_id="slow")
    blocked = session.start("wait_for_cancel", call_id="blocked")
    fast = [session.start("square", {"x": 7}, call_id="fast-1"), session.start("echo", {"v": [1]}, "fast-2")]
    assert session.next_event(blocked).heartbeat.details_json == b'"started"'
    assert session.result(fast[0]) == 49
    assert session.result(fast[1]) == {"v": [1]}
    assert session.result(slow) == pytest.approx(0.09)
    assert session.cancel(blocked)
    assert session.error_of(blocked).type == "Cancelled"
    order = [e.call_id for e in session.events if not e.HasField("heartbeat")]
    assert order.index("fast-1") < order.index("slow") and order.index("fast-2") < order.index("slow")
    assert sorted(order) == sorted(["slow", "blocked", "fast-1", "fast-2"])
    session.abort()


def test_heartbeats_stream_in_order_before_the_result(session: ChannelClient) -> None:
    call_id = session.start("progress", {"steps": 25})
    events = session.finish(call_id)
    steps = [json.loads(e.heartbeat.details_json)["step"] for e in events[:-1]]
    assert steps == list(range(1, 26))
    assert [e.heartbeat.progress for e in events[:-1]] == pytest.approx([s / 25 for s in steps])
    assert json.loads(events[-1].result.result_json) == 25
    assert all(e.call_id == call_id for e in events)


def test_heartbeats_of_concurrent_calls_keep_their_order(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "4", mode="thread")
    session = ChannelClient(server)
    ids = [session.start("progress", {"steps": 30 + i}) for i in range(4)]
    for i, call_id in enumerate(ids):
        events = session.finish(call_id)
        assert [json.loads(e.heartbeat.details_json)["step"] for e in events[:-1]] == list(range(1, 31 + i))
        assert json.loads(events[-1].result.result_json) == 30 + i
    session.abort()


def test_heartbeat_is_delivered_while_the_tool_runs(session: ChannelClient) -> None:
    call_id = session.start("wait_for_cancel")
    # The tool is still blocked, so this heartbeat was written before the call ended.
    assert session.next_event(call_id).heartbeat.details_json == b'"started"'
    assert session.cancel(call_id, "done looking")
    assert session.error_of(call_id).type == "Cancelled"


def test_cancel(server: Server, session: ChannelClient) -> None:
    call_id = session.start("wait_for_cancel")
    assert session.next_event(call_id).HasField("heartbeat")
    assert server.ping().active_calls == 1
    assert session.cancel(call_id, "user asked")
    err = session.error_of(call_id)
    assert err.type == "Cancelled" and "user asked" in err.message and not err.non_retryable
    assert server.ping().active_calls == 0
    # A cancel of an unknown or finished call finds nothing; the channel goes on.
    assert not session.cancel("never-started")
    assert not session.cancel(call_id)
    assert session.result(session.start("square", {"x": 3})) == 9


def test_a_cancel_that_overtakes_its_start_stops_the_call_before_it_runs(
    server: Server, session: ChannelClient
) -> None:
    # The cancel and the Start travel on different channels, so the cancel can come first.
    before = session.result(session.start("get_counter"))
    assert not session.cancel("early", "the caller gave up")
    session.start("increment", call_id="early")
    err = session.error_of("early")
    assert err.type == "Cancelled" and "the caller gave up" in err.message
    assert session.result(session.start("get_counter")) == before, "the tool did not run"


def test_cancel_while_the_tool_holds_the_gil(server: Server, session: ChannelClient) -> None:
    call_id = session.start("spin")
    assert session.next_event(call_id).heartbeat.details_json == b'"started"'
    assert server.control is not None
    for _ in range(10):  # the control thread answers while the tool thread spins
        assert server.control.ping().active_calls == 1
        assert server.ping().active_calls == 1  # and so does gRPC's
    assert session.cancel(call_id)
    assert session.error_of(call_id).type == "Cancelled"


def test_a_cancel_frame_on_the_channel_in_the_thread_profile(servers: ServerFactory) -> None:
    # The thread profile reads the channel all the time, so a Cancel request on it works too.
    server = servers.start(TEST_ADAPTER, "--max-workers", "2", mode="thread")
    session = ChannelClient(server)
    call_id = session.start("wait_for_cancel")
    assert session.next_event(call_id).HasField("heartbeat")
    session.cancel_on_channel(call_id, "enough")
    err = session.error_of(call_id)
    assert err.type == "Cancelled" and "enough" in err.message
    session.abort()


def test_a_tool_that_returns_after_cancel_still_ends_cancelled(session: ChannelClient) -> None:
    call_id = session.start("ignore_cancel")
    session.next_event(call_id)
    assert session.cancel(call_id, "stop")
    err = session.error_of(call_id)
    assert err.type == "Cancelled" and "stop" in err.message


def test_closing_the_channel_cancels_its_running_calls(server: Server) -> None:
    session = ChannelClient(server)
    call_id = session.start("wait_for_cancel")
    assert session.next_event(call_id).HasField("heartbeat")
    completed = server.ping().completed_calls
    session.abort()
    session.wait_ended()
    # The tool saw ctx.cancelled and ended: its slot is free again.
    assert until(lambda: server.ping().active_calls == 0)
    assert server.ping().completed_calls == completed + 1
    pattern = re.compile(r"the call channel (closed|broke.*); cancelled its 1 running call\(s\)")
    assert until(lambda: any(pattern.fullmatch(line["message"]) for line in server.logs()))
    # The worker still serves Execute.
    assert server.call("square", {"x": 4}) == 16


def test_half_closing_the_channel_cancels_its_calls_and_delivers_their_end(server: Server) -> None:
    session = ChannelClient(server)
    call_id = session.start("wait_for_cancel")
    assert session.next_event(call_id).HasField("heartbeat")
    session.close_send()
    err = session.error_of(call_id)
    assert err.type == "Cancelled" and "the call channel closed" in err.message
    session.wait_ended()
    assert session.error is None  # the server shut its side once the call ended
    assert server.ping().active_calls == 0


def test_half_closing_an_idle_channel_ends_it(server: Server) -> None:
    session = ChannelClient(server)
    assert session.result(session.start("noop")) is None
    session.close_send()
    session.wait_ended()
    assert session.error is None


def test_worker_busy_in_process_mode(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER)
    session = ChannelClient(server)
    running = session.start("wait_for_cancel")
    assert session.next_event(running).HasField("heartbeat")
    # Execute is rejected at once, not queued.
    err = server.error("noop")
    assert err.type == "WorkerBusy" and not err.non_retryable
    assert "1 of 1 call slots in use (process mode)" in err.message
    # A second Start on the channel (the Go pool sends none while a call runs) is read, and runs,
    # once the running call has ended: it is not lost.
    queued = session.start("square", {"x": 2})
    assert session.cancel(running)
    assert session.error_of(running).type == "Cancelled"
    assert session.result(queued) == 4
    session.abort()


def test_worker_busy_on_the_channel_in_thread_mode(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "1", mode="thread")
    session = ChannelClient(server)
    running = session.start("wait_for_cancel")
    assert session.next_event(running).HasField("heartbeat")
    err = session.error_of(session.start("noop"))
    assert err.type == "WorkerBusy" and "1 of 1 call slots in use (thread mode)" in err.message
    assert session.cancel(running)
    assert session.error_of(running).type == "Cancelled"
    session.abort()


def test_duplicate_call_id_is_rejected(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "2", mode="thread")
    session = ChannelClient(server)
    session.start("wait_for_cancel", call_id="same")
    assert session.next_event("same").HasField("heartbeat")
    session.start("noop", call_id="same")
    err = session.next_event("same").error
    assert err.type == "WorkerBusy" and "'same' is already running" in err.message
    assert session.cancel("same")
    assert session.error_of("same").type == "Cancelled"
    session.abort()


def test_unknown_tool_and_invalid_arguments_are_error_events(session: ChannelClient) -> None:
    err = session.error_of(session.start("sqaure", {"x": 1}))
    assert err.type == "ToolNotFound" and err.non_retryable
    assert "'sqaure'" in err.message and "square" in err.message
    err = session.error_of(session.start("typed-tool", {"a": "one"}))
    assert err.type == "InvalidArguments" and err.non_retryable and "argument 'a'" in err.message
    err = session.error_of(session.start("fail", {"message": "boom"}))
    assert err.type == "ValueError" and err.message == "boom" and "Traceback" in err.traceback
    # The channel is still usable after errors.
    assert session.result(session.start("square", {"x": 5})) == 25


def test_text_that_utf8_cannot_encode_is_escaped_in_the_error(session: ChannelClient) -> None:
    # JSON carries a lone surrogate ("\\udcff"), a protobuf string cannot: once the error could not
    # be built, the call was lost (and, in the process profile, the tool thread with it).
    err = session.error_of(session.start("typed-tool", {"\udcff": 1}))
    assert err.type == "InvalidArguments" and err.non_retryable
    assert "unknown argument '\\udcff'" in err.message
    err = session.error_of(session.start("fail", {"message": "bad \udcff"}))
    assert err.type == "ValueError" and err.message == "bad \\udcff" and "Traceback" in err.traceback
    assert session.result(session.start("square", {"x": 5})) == 25, "the worker serves on"


def test_tools_run_on_one_thread_in_process_mode(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER)
    session = ChannelClient(server)
    threads = {session.result(session.start("whoami"))["thread"] for _ in range(5)}
    threads.add(server.call("whoami")["thread"])  # Execute
    threads.add(session.result(session.start("whoami"))["thread"])
    assert threads == {"snakepool-tool-0"}
    session.abort()


def test_closing_the_channel_leaves_the_execute_calls(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "4", mode="thread")
    session = ChannelClient(server)
    a = session.start("wait_for_cancel", call_id="a")
    b, execute = server.start("wait_for_cancel", call_id="b")
    assert session.next_event(a).HasField("heartbeat") and next(execute).HasField("heartbeat")
    session.abort()
    assert until(lambda: server.ping().active_calls == 1)
    assert server.stub.Cancel(pb.CancelRequest(call_id=b, reason="from elsewhere"), timeout=5).found
    last = list(execute)[-1]
    assert last.error.type == "Cancelled" and "from elsewhere" in last.error.message


def test_sigterm_ends_the_channel_without_waiting_for_the_grace(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--shutdown-grace", "60")
    session = ChannelClient(server)
    call_id = session.start("wait_for_cancel")
    assert session.next_event(call_id).HasField("heartbeat")
    began = time.monotonic()
    server.signal(signal.SIGTERM)
    err = session.error_of(call_id)
    assert err.type == "Cancelled" and "worker stopping" in err.message
    session.wait_ended()
    assert session.error is None
    assert server.wait(30) == 0
    assert time.monotonic() - began < 30  # far less than the 60 s grace
    assert [line["message"] for line in server.logs()][-1] == "stopped"


# --- the channel in-process, without a server process ---------------------------------------------


def _frame(request: pb.SessionRequest) -> bytes:
    data: bytes = request.SerializeToString()
    return _HEADER.pack(len(data)) + data


def _start(call_id: str, tool: str, args: bytes = b"{}") -> pb.SessionRequest:
    return pb.SessionRequest(start=pb.ExecuteRequest(call_id=call_id, tool=tool, args_json=args))


def test_frames_split_anywhere_are_reassembled() -> None:
    requests = [_start(f"c{i}", "noop", b'{"pad": "' + b"y" * i * 50 + b'"}') for i in range(20)]
    stream = b"".join(_frame(r) for r in requests)
    for step in (1, 3, 7, 64, len(stream)):
        frames = Frames(pb.SessionRequest.FromString)
        got = [r for i in range(0, len(stream), step) for r in frames.feed(stream[i : i + step])]
        assert got == requests, f"chunks of {step} bytes"


@contextlib.contextmanager
def _in_process_channel(mode: str, **channel_options: Any) -> Iterator[ChannelClient]:
    """A CallChannel serving a dispatcher in this process, and a client on the other end."""
    adapter = ShowcaseAdapter()
    adapter.setup()
    inline = mode == "process"
    d = Dispatcher(adapter, SHOWCASE, mode, 1 if inline else 2, tool_threads=0 if inline else None)
    ours, theirs = socket.socketpair()
    CallChannel(d, theirs, **channel_options).start()

    class _Local:
        calls = ours
        control = None

    client = ChannelClient(_Local())  # type: ignore[arg-type]
    try:
        yield client
    finally:
        client.abort()
        d.stop("test over")
        d.stop_threads()
        theirs.close()
        ours.close()


@pytest.fixture(params=["process", "thread"])
def channel(request: pytest.FixtureRequest) -> Iterator[ChannelClient]:
    with _in_process_channel(request.param) as client:
        yield client


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_an_end_over_the_frame_limit_is_sent_as_an_error(mode: str) -> None:
    # A frame over the Go side's limit would end its channel (and every call on it): the call's end
    # is an error instead, and the channel serves on.
    with _in_process_channel(mode, max_frame=1000) as client:
        err = client.error_of(client.start("echo", {"blob": "x" * 2000}))
        assert err.type == "InvalidResult" and err.non_retryable
        assert re.fullmatch(
            r"the result is \d+ bytes encoded, over the bridge's limit of 1000 bytes", err.message
        )
        big = b'{"blob": "' + b"y" * 2000 + b'"}'
        client.send(
            pb.SessionRequest(batch=pb.BatchRequest(call_id="b", tool="echo", items_json=[b"{}", big]))
        )
        events = [client.next_event("b") for _ in range(3)]
        assert [e.WhichOneof("event") for e in events] == ["item", "item", "result"]
        assert json.loads(events[0].item.result.result_json) == {}
        assert events[1].item.index == 1 and events[1].item.error.type == "InvalidResult"
        assert client.result(client.start("square", {"x": 3})) == 9


def test_the_channel_serves_calls_in_process(channel: ChannelClient) -> None:
    call_id = channel.start("progress", {"steps": 2})
    assert [e.WhichOneof("event") for e in channel.finish(call_id)] == ["heartbeat", "heartbeat", "result"]
    assert channel.result(channel.start("square", {"x": 3})) == 9


def test_a_request_of_an_unknown_kind_is_skipped(channel: ChannelClient) -> None:
    # A newer supervisor's command this worker does not know must not end the channel.
    channel.send(pb.SessionRequest())  # no field of the oneof set
    assert channel.result(channel.start("square", {"x": 3})) == 9
