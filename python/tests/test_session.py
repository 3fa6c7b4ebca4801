"""The Session RPC: many calls multiplexed on one bidirectional stream, over a real socket."""

from __future__ import annotations

import collections
import json
import queue
import re
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from conftest import SHOWCASE, TEST_ADAPTER, Server, ServerFactory, until

from snakepool._dispatch import Dispatcher
from snakepool._grpc_server import serve_session
from snakepool.bridge.v1 import bridge_pb2 as pb
from snakepool.examples.showcase import ShowcaseAdapter

EVENT_TIMEOUT = 10.0
_CLOSED = object()


class SessionClient:
    """One Session stream: send Start/Cancel requests, collect the events per call id.

    A thread reads the stream; events are queued per call id (and kept in arrival order in
    ``events``), so each wait has a timeout and a test fails instead of hanging.
    """

    def __init__(self, server: Server, deadline: float = 60.0) -> None:
        self.requests: queue.SimpleQueue[pb.SessionRequest | None] = queue.SimpleQueue()
        self.stream = server.stub.Session(iter(self.requests.get, None), timeout=deadline)
        self.events: list[pb.SessionEvent] = []
        self._queues: dict[str, queue.SimpleQueue[Any]] = collections.defaultdict(queue.SimpleQueue)
        self._lock = threading.Lock()
        self.ended = threading.Event()
        self.error: grpc.RpcError | None = None
        self._ids = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for event in self.stream:
                with self._lock:
                    self.events.append(event)
                    q = self._queues[event.call_id]
                q.put(event)
        except grpc.RpcError as exc:
            self.error = exc
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

    def start(self, tool: str, args: Any = None, call_id: str | None = None) -> str:
        if call_id is None:
            self._ids += 1
            call_id = f"s{id(self)}-{self._ids}"
        args_json = b"{}" if args is None else json.dumps(args).encode()
        self.requests.put(
            pb.SessionRequest(start=pb.ExecuteRequest(call_id=call_id, tool=tool, args_json=args_json))
        )
        return call_id

    def cancel(self, call_id: str, reason: str = "") -> None:
        self.requests.put(pb.SessionRequest(cancel=pb.CancelRequest(call_id=call_id, reason=reason)))

    def next_event(self, call_id: str, timeout: float = EVENT_TIMEOUT) -> pb.SessionEvent:
        try:
            event = self._queue(call_id).get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event for call {call_id} within {timeout}s") from None
        if event is _CLOSED:
            raise AssertionError(f"the stream ended ({self.error}) before an event of call {call_id}")
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
        """Half-close: the client's side of the stream ends."""
        self.requests.put(None)

    def abort(self) -> None:
        """Cancel the RPC (the Go side went away)."""
        self.stream.cancel()

    def wait_ended(self, timeout: float = EVENT_TIMEOUT) -> None:
        assert self.ended.wait(timeout), f"the stream did not end within {timeout}s"


@pytest.fixture(params=["process", "thread"])
def server(request: pytest.FixtureRequest, servers: ServerFactory) -> Server:
    if request.param == "thread":
        return servers.start(TEST_ADAPTER, "--max-workers", "4", mode="thread")
    return servers.start(TEST_ADAPTER)


@pytest.fixture
def session(server: Server) -> Iterator[SessionClient]:
    client = SessionClient(server)
    try:
        yield client
    finally:
        client.abort()


def test_sequential_calls_on_one_stream(server: Server, session: SessionClient) -> None:
    ids = []
    for i in range(60):
        ids.append(session.start("square", {"x": i}))
        assert session.result(ids[-1]) == i * i
    ids.append(session.start("noop"))
    assert session.result(ids[-1]) is None
    assert [e.call_id for e in session.events] == ids
    ping = server.ping()
    assert ping.active_calls == 0 and ping.completed_calls == 61


def test_concurrent_calls_are_matched_by_call_id(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "4", mode="thread")
    session = SessionClient(server)
    # Four calls at once; the slow ones finish last, so results arrive out of start order.
    slow = session.start("compute", {"x": 0.3}, call_id="slow")
    blocked = session.start("wait_for_cancel", call_id="blocked")
    fast = [session.start("square", {"x": 7}, call_id="fast-1"), session.start("echo", {"v": [1]}, "fast-2")]
    assert session.next_event(blocked).heartbeat.details_json == b'"started"'
    assert session.result(fast[0]) == 49
    assert session.result(fast[1]) == {"v": [1]}
    assert session.result(slow) == pytest.approx(0.09)
    session.cancel(blocked)
    assert session.error_of(blocked).type == "Cancelled"
    order = [e.call_id for e in session.events if not e.HasField("heartbeat")]
    assert order.index("fast-1") < order.index("slow") and order.index("fast-2") < order.index("slow")
    assert sorted(order) == sorted(["slow", "blocked", "fast-1", "fast-2"])
    session.abort()


def test_heartbeats_stream_in_order_before_the_result(session: SessionClient) -> None:
    call_id = session.start("progress", {"steps": 25})
    events = session.finish(call_id)
    steps = [json.loads(e.heartbeat.details_json)["step"] for e in events[:-1]]
    assert steps == list(range(1, 26))
    assert [e.heartbeat.progress for e in events[:-1]] == pytest.approx([s / 25 for s in steps])
    assert json.loads(events[-1].result.result_json) == 25
    assert all(e.call_id == call_id for e in events)


def test_heartbeats_of_concurrent_calls_keep_their_order(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "4", mode="thread")
    session = SessionClient(server)
    ids = [session.start("progress", {"steps": 30 + i}) for i in range(4)]
    for i, call_id in enumerate(ids):
        events = session.finish(call_id)
        assert [json.loads(e.heartbeat.details_json)["step"] for e in events[:-1]] == list(range(1, 31 + i))
        assert json.loads(events[-1].result.result_json) == 30 + i
    session.abort()


def test_heartbeat_is_delivered_while_the_tool_runs(session: SessionClient) -> None:
    call_id = session.start("wait_for_cancel")
    # The tool is still blocked, so this heartbeat was streamed before the call ended.
    assert session.next_event(call_id).heartbeat.details_json == b'"started"'
    session.cancel(call_id, "done looking")
    assert session.error_of(call_id).type == "Cancelled"


def test_cancel_on_the_stream(server: Server, session: SessionClient) -> None:
    call_id = session.start("wait_for_cancel")
    assert session.next_event(call_id).HasField("heartbeat")
    assert server.ping().active_calls == 1
    session.cancel(call_id, "user asked")
    err = session.error_of(call_id)
    assert err.type == "Cancelled" and "user asked" in err.message and not err.non_retryable
    assert server.ping().active_calls == 0
    # A cancel of an unknown or finished call is ignored; the stream goes on.
    session.cancel("never-started")
    session.cancel(call_id)
    assert session.result(session.start("square", {"x": 3})) == 9


def test_cancel_on_the_stream_while_the_tool_holds_the_gil(server: Server, session: SessionClient) -> None:
    call_id = session.start("spin")
    assert session.next_event(call_id).heartbeat.details_json == b'"started"'
    for _ in range(10):
        assert server.ping().active_calls == 1
    session.cancel(call_id)
    assert session.error_of(call_id).type == "Cancelled"


def test_a_tool_that_returns_after_cancel_still_ends_cancelled(session: SessionClient) -> None:
    call_id = session.start("ignore_cancel")
    session.next_event(call_id)
    session.cancel(call_id, "stop")
    err = session.error_of(call_id)
    assert err.type == "Cancelled" and "stop" in err.message


def test_aborting_the_stream_cancels_its_running_calls(server: Server) -> None:
    session = SessionClient(server)
    call_id = session.start("wait_for_cancel")
    assert session.next_event(call_id).HasField("heartbeat")
    completed = server.ping().completed_calls
    session.abort()
    session.wait_ended()
    assert session.error is not None and session.error.code() == grpc.StatusCode.CANCELLED
    # The tool saw ctx.cancelled and ended: its slot is free again.
    assert until(lambda: server.ping().active_calls == 0)
    assert server.ping().completed_calls == completed + 1
    # "broke" when grpc reports the cancellation to the reader, "ended" when it just ends the requests.
    pattern = re.compile(r"the Session stream (broke|ended); cancelled its 1 running call\(s\)")
    assert until(lambda: any(pattern.fullmatch(line["message"]) for line in server.logs()))
    other = SessionClient(server)
    assert other.result(other.start("square", {"x": 4})) == 16
    other.abort()


def test_closing_the_stream_cancels_its_calls_and_delivers_their_end(server: Server) -> None:
    session = SessionClient(server)
    call_id = session.start("wait_for_cancel")
    assert session.next_event(call_id).HasField("heartbeat")
    session.close_send()
    err = session.error_of(call_id)
    assert err.type == "Cancelled" and "the Session stream ended" in err.message
    session.wait_ended()
    assert session.error is None  # the server ended the RPC with OK once the call ended
    assert server.ping().active_calls == 0


def test_closing_an_idle_stream_ends_it(server: Server) -> None:
    session = SessionClient(server)
    assert session.result(session.start("noop")) is None
    session.close_send()
    session.wait_ended()
    assert session.error is None


def test_worker_busy_in_process_mode(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER)
    session = SessionClient(server)
    running = session.start("wait_for_cancel")
    assert session.next_event(running).HasField("heartbeat")
    # On the same stream and on another one: rejected at once, not queued.
    err = session.error_of(session.start("noop"))
    assert err.type == "WorkerBusy" and not err.non_retryable
    assert "1 of 1 call slots in use (process mode)" in err.message
    other = SessionClient(server)
    assert other.error_of(other.start("noop")).type == "WorkerBusy"
    session.cancel(running)
    assert session.error_of(running).type == "Cancelled"
    assert other.result(other.start("square", {"x": 2})) == 4
    session.abort()
    other.abort()


def test_duplicate_call_id_is_rejected(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "2", mode="thread")
    session = SessionClient(server)
    session.start("wait_for_cancel", call_id="same")
    assert session.next_event("same").HasField("heartbeat")
    session.start("noop", call_id="same")
    err = session.next_event("same").error
    assert err.type == "WorkerBusy" and "'same' is already running" in err.message
    session.cancel("same")
    assert session.error_of("same").type == "Cancelled"
    session.abort()


def test_unknown_tool_and_invalid_arguments_are_error_events(session: SessionClient) -> None:
    err = session.error_of(session.start("sqaure", {"x": 1}))
    assert err.type == "ToolNotFound" and err.non_retryable
    assert "'sqaure'" in err.message and "square" in err.message
    err = session.error_of(session.start("typed-tool", {"a": "one"}))
    assert err.type == "InvalidArguments" and err.non_retryable and "argument 'a'" in err.message
    err = session.error_of(session.start("fail", {"message": "boom"}))
    assert err.type == "ValueError" and err.message == "boom" and "Traceback" in err.traceback
    # The stream is still usable after errors.
    assert session.result(session.start("square", {"x": 5})) == 25


def test_tools_run_on_one_thread_in_process_mode(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER)
    session = SessionClient(server)
    threads = {session.result(session.start("whoami"))["thread"] for _ in range(5)}
    other = SessionClient(server)
    threads.add(other.result(other.start("whoami"))["thread"])
    threads.add(server.call("whoami")["thread"])  # Execute
    assert threads == {"snakepool-tool-0"}
    session.abort()
    other.abort()


def test_ending_one_stream_leaves_the_calls_of_another(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "4", mode="thread")
    first, second = SessionClient(server), SessionClient(server)
    a = first.start("wait_for_cancel", call_id="a")
    b = second.start("wait_for_cancel", call_id="b")
    assert first.next_event(a).HasField("heartbeat") and second.next_event(b).HasField("heartbeat")
    first.abort()
    assert until(lambda: server.ping().active_calls == 1)
    assert second.result(second.start("square", {"x": 6})) == 36
    # A cancel on one stream reaches the call wherever it started (as the Cancel RPC does).
    third = SessionClient(server)
    third.cancel(b, "from elsewhere")
    err = second.error_of(b)
    assert err.type == "Cancelled" and "from elsewhere" in err.message
    second.abort()
    third.abort()


def test_sigterm_ends_open_sessions_without_waiting_for_the_grace(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--shutdown-grace", "60")
    session = SessionClient(server, deadline=120)
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


# --- the dispatch core without gRPC: both ways grpc may call Session -------------------------------


@pytest.fixture
def dispatcher() -> Iterator[Dispatcher]:
    adapter = ShowcaseAdapter()
    adapter.setup()
    d = Dispatcher(adapter, SHOWCASE, "process", 1)
    try:
        yield d
    finally:
        d.stop("test over")
        d.stop_threads()


def _start(call_id: str, tool: str, args: bytes = b"{}") -> pb.SessionRequest:
    return pb.SessionRequest(start=pb.ExecuteRequest(call_id=call_id, tool=tool, args_json=args))


def test_serve_session_yields_the_events_of_its_calls(dispatcher: Dispatcher) -> None:
    requests: queue.SimpleQueue[pb.SessionRequest | None] = queue.SimpleQueue()
    events = serve_session(dispatcher, iter(requests.get, None))
    requests.put(_start("a", "progress", b'{"steps": 2}'))
    got = [next(events) for _ in range(3)]
    assert [(e.call_id, e.WhichOneof("event")) for e in got] == [
        ("a", "heartbeat"),
        ("a", "heartbeat"),
        ("a", "result"),
    ]
    requests.put(_start("b", "wait_for_cancel"))
    assert next(events).HasField("heartbeat")
    requests.put(_start("c", "noop"))
    busy = next(events)
    assert busy.call_id == "c" and busy.error.type == "WorkerBusy"
    requests.put(pb.SessionRequest(cancel=pb.CancelRequest(call_id="b", reason="enough")))
    cancelled = next(events)
    assert cancelled.call_id == "b" and cancelled.error.type == "Cancelled"
    assert "enough" in cancelled.error.message
    requests.put(_start("d", "wait_for_cancel"))
    assert next(events).HasField("heartbeat")
    requests.put(None)  # the client's side ends: d is cancelled, then the iterator ends
    last = next(events)
    assert last.call_id == "d" and last.error.type == "Cancelled"
    assert list(events) == []
    assert dispatcher.active_count() == 0


def test_a_session_request_of_an_unknown_kind_is_skipped(dispatcher: Dispatcher) -> None:
    # A newer supervisor's command this worker does not know must not end the stream.
    requests: queue.SimpleQueue[pb.SessionRequest | None] = queue.SimpleQueue()
    events = serve_session(dispatcher, iter(requests.get, None))
    requests.put(pb.SessionRequest())  # no field of the oneof set
    requests.put(_start("a", "square", b'{"x": 3}'))
    first = next(events)
    assert first.call_id == "a" and json.loads(first.result.result_json) == 9
    requests.put(None)
    assert list(events) == []
