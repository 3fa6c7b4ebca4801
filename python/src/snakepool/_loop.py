"""The loop server: the bridge served from grpc's completion queue by a thread of our own.

grpcio's ``grpc.server`` hands every message between its polling thread and a pool thread, and in
a process that runs Python tools each such hand-over is a GIL hand-over. The loop server drives
the same gRPC core through grpcio's Cython layer (``grpc._cython.cygrpc``, the layer
``grpc.server`` itself is written on) and keeps every message of a call on one thread, which
makes a no-op round trip about 0.6x as long (docs/performance.md has the figures and commands):

- in the process profile the queue's one poller is the tool thread (``snakepool-tool-0``): a
  Start message is read, run and answered by one thread, and Ping, Cancel and Describe are
  answered by it between calls.
- in the thread profile the poller (``snakepool-calls``) hands calls to the dispatcher's tool
  threads, which send their results themselves.

While a process-profile tool runs, its thread does not poll. Its heartbeats pump the queue (so
they leave at once), and once the call has run for 20 ms a helper thread (``snakepool-pump``)
pumps it every 20 ms: Ping and Cancel RPCs are answered, a cancel message on the Session reaches
the tool and a second call is refused with WorkerBusy. (An idle worker's helper looks only every
250 ms, so a long call that starts after a quiet spell is first pumped within 270 ms.) Events
the helper pumps never run a tool: a call admitted there (the running one just ended) goes to
the tool thread.

``grpc._cython`` is not a public API. ``--server grpcio`` (or ``SNAKEPOOL_SERVER=grpcio``)
serves the same protocol from ``grpc.server`` instead, and the test suite runs against both.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError, Message
from grpc._cython import cygrpc

from ._server import Dispatcher, _Call, _Session
from .bridge.v1 import bridge_pb2 as pb

__all__ = ["LoopServer"]

_log = logging.getLogger("snakepool.server")

_SERVICE = "/snakepool.bridge.v1.Bridge/"
#: How long an inline call runs before the helper thread pumps the queue, and how often it does.
_PUMP_INTERVAL = 0.02
#: How often the helper looks while no call has run since it last looked (an idle worker).
_PUMP_IDLE_INTERVAL = 0.25
_NO_FLAGS = 0
_OK = cygrpc.StatusCode.ok

#: A completion-queue tag: called with the event on the thread that polled it.
_Tag = Callable[[Any], None]


def _ignore(event: Any) -> None:
    """The tag of operations whose completion needs no handling."""


def _received(event: Any) -> bytes | None:
    """The message a ReceiveMessage operation got, or None at the end of the stream."""
    if not event.success:
        return None
    data: bytes | None = event.batch_operations[0].message()
    return data


class _Sender:
    """The sends of one RPC, in order. gRPC allows one send operation in flight per call, so a send
    made while another is in flight waits in a queue; the completion of each starts the next.

    Once the status is sent, or a send fails (the client is gone), further sends are dropped.
    """

    __slots__ = ("_busy", "_call", "_lock", "_metadata_sent", "_pending", "closed")

    def __init__(self, call: Any) -> None:
        self._call = call
        self._lock = threading.Lock()
        self._busy = False
        self._metadata_sent = False
        self._pending: collections.deque[tuple[bytes | None, Any]] = collections.deque()
        self.closed = False

    def message(self, data: bytes) -> None:
        """Send one message."""
        self._submit((data, None))

    def status(self, code: Any = _OK, details: str = "") -> None:
        """End the RPC with a status, after the messages queued before it."""
        self._submit((None, (code, details)))

    def _submit(self, item: tuple[bytes | None, Any]) -> None:
        with self._lock:
            if self.closed:
                return
            if self._busy:
                self._pending.append(item)
                return
            self._busy = True
            self._start(item)

    def _start(self, item: tuple[bytes | None, Any]) -> None:
        # Called with the lock held and _busy set.
        data, status = item
        ops: list[Any] = []
        if not self._metadata_sent:
            self._metadata_sent = True
            ops.append(cygrpc.SendInitialMetadataOperation((), _NO_FLAGS))
        if data is not None:
            ops.append(cygrpc.SendMessageOperation(data, _NO_FLAGS))
        else:
            code, details = status
            ops.append(cygrpc.SendStatusFromServerOperation((), code, details, _NO_FLAGS))
            self.closed = True
            self._pending.clear()
        try:
            self._call.start_server_batch(ops, self._sent)
        except Exception as exc:  # the call is over on the core side
            _log.debug("cannot send on a finished RPC: %s", exc)
            self.closed = True
            self._busy = False
            self._pending.clear()

    def _sent(self, event: Any) -> None:
        with self._lock:
            if not event.success:
                self.closed = True
                self._pending.clear()
            if self._pending:
                self._start(self._pending.popleft())
            else:
                self._busy = False


def _abort(call: Any, code: Any, details: str) -> None:
    """End an RPC that has sent nothing yet with an error status."""
    call.start_server_batch(
        (
            cygrpc.SendInitialMetadataOperation((), _NO_FLAGS),
            cygrpc.SendStatusFromServerOperation((), code, details, _NO_FLAGS),
        ),
        _ignore,
    )


class _UnaryRPC:
    """Describe, Ping or Cancel: one request, one response, answered by the thread that polls."""

    __slots__ = ("_call", "_handle", "_parse")

    def __init__(
        self, call: Any, parse: Callable[[bytes], Message], handle: Callable[[Any], Message]
    ) -> None:
        self._call = call
        self._parse = parse
        self._handle = handle
        call.start_server_batch((cygrpc.ReceiveCloseOnServerOperation(_NO_FLAGS),), _ignore)
        call.start_server_batch((cygrpc.ReceiveMessageOperation(_NO_FLAGS),), self._on_request)

    def _on_request(self, event: Any) -> None:
        data = _received(event)
        if data is None:
            if event.success:
                _abort(self._call, cygrpc.StatusCode.invalid_argument, "no request message")
            return
        try:
            request = self._parse(data)
        except DecodeError as exc:
            _abort(self._call, cygrpc.StatusCode.invalid_argument, f"cannot parse the request: {exc}")
            return
        try:
            response = self._handle(request).SerializeToString()
        except Exception as exc:
            _log.exception("internal error answering an RPC")
            _abort(self._call, cygrpc.StatusCode.internal, f"{type(exc).__name__}: {exc}")
            return
        self._call.start_server_batch(
            (
                cygrpc.SendInitialMetadataOperation((), _NO_FLAGS),
                cygrpc.SendMessageOperation(response, _NO_FLAGS),
                cygrpc.SendStatusFromServerOperation((), _OK, "", _NO_FLAGS),
            ),
            _ignore,
        )


class _SessionRPC:
    """One Session stream on the call queue: Start and Cancel messages in, SessionEvents out."""

    __slots__ = ("_call", "_loop", "_sender", "sink")

    def __init__(self, loop: LoopServer, call: Any) -> None:
        self._loop = loop
        self._call = call
        self._sender = _Sender(call)
        self.sink = _Session(self._send)
        loop.dispatcher.open_session(self.sink)
        call.start_server_batch((cygrpc.ReceiveCloseOnServerOperation(_NO_FLAGS),), self._on_close)
        self._receive()

    def _send(self, event: pb.SessionEvent | None) -> None:
        if event is None:
            self._sender.status()
        else:
            self._sender.message(event.SerializeToString())

    def _receive(self) -> None:
        self._call.start_server_batch((cygrpc.ReceiveMessageOperation(_NO_FLAGS),), self._on_message)

    def _on_message(self, event: Any) -> None:
        data = _received(event)
        dispatcher = self._loop.dispatcher
        if data is None:  # the client closed its side (or the stream broke)
            dispatcher.end_session(self.sink, "the Session stream ended")
            return
        try:
            request = pb.SessionRequest.FromString(data)
        except DecodeError as exc:
            _log.error("cannot parse a Session message (%s); ending the stream", exc)
            self._sender.status(cygrpc.StatusCode.invalid_argument, f"cannot parse a SessionRequest: {exc}")
            dispatcher.end_session(self.sink, "the Session stream failed")
            return
        # Read on before running the call, so that messages that arrive meanwhile can be pumped.
        self._receive()
        kind = request.WhichOneof("request")
        if kind == "start":
            self.sink.started += 1
            call = dispatcher.admit(request.start, self.sink)
            if call is not None:
                self._loop.run(call)
        elif kind == "cancel":
            dispatcher.cancel(request.cancel.call_id, request.cancel.reason)

    def _on_close(self, event: Any) -> None:
        if event.success and event.batch_operations[0].cancelled():
            self._sender.closed = True
            self._loop.dispatcher.end_session(self.sink, "the Session stream broke")


class _ExecuteSink:
    """The sink of an Execute RPC on the loop server: ExecuteEvents, then the status."""

    __slots__ = ("_lock", "_sender")

    def __init__(self, sender: _Sender) -> None:
        self._sender = sender
        self._lock = threading.Lock()

    def heartbeat(self, call: _Call, heartbeat: pb.Heartbeat) -> None:
        with self._lock:
            if not call.done:
                self._sender.message(pb.ExecuteEvent(heartbeat=heartbeat).SerializeToString())

    def finish(self, call_id: str, result: pb.Result | None, error: pb.Error | None) -> None:
        with self._lock:
            self._sender.message(pb.ExecuteEvent(result=result, error=error).SerializeToString())
            self._sender.status()


class _ExecuteRPC:
    """One Execute RPC on the call queue; ending the RPC early cancels its call."""

    __slots__ = ("_call", "_loop", "_running", "_sender")

    def __init__(self, loop: LoopServer, call: Any) -> None:
        self._loop = loop
        self._call = call
        self._sender = _Sender(call)
        self._running: _Call | None = None
        call.start_server_batch((cygrpc.ReceiveCloseOnServerOperation(_NO_FLAGS),), self._on_close)
        call.start_server_batch((cygrpc.ReceiveMessageOperation(_NO_FLAGS),), self._on_request)

    def _on_request(self, event: Any) -> None:
        data = _received(event)
        if data is None:
            if event.success:
                self._sender.status(cygrpc.StatusCode.invalid_argument, "no request message")
            return
        try:
            request = pb.ExecuteRequest.FromString(data)
        except DecodeError as exc:
            self._sender.status(cygrpc.StatusCode.invalid_argument, f"cannot parse the request: {exc}")
            return
        call = self._loop.dispatcher.admit(request, _ExecuteSink(self._sender))
        if call is not None:
            self._running = call
            self._loop.run(call)

    def _on_close(self, event: Any) -> None:
        call = self._running
        if event.success and event.batch_operations[0].cancelled():
            self._sender.closed = True
            if call is not None and not call.done:
                call.ctx.cancel("the Execute RPC ended")


class LoopServer:
    """Serves a :class:`Dispatcher` on a Unix socket from one grpc completion queue.

    ``inline`` (the process profile) makes the queue's poller the one tool thread, which runs each
    call as it reads it; otherwise the dispatcher's tool threads run them.
    """

    def __init__(
        self, dispatcher: Dispatcher, address: str, options: list[tuple[str, Any]], inline: bool
    ) -> None:
        self.dispatcher = dispatcher
        self._inline = inline
        self._stopping = False
        self._stopped = threading.Event()
        # Inline calls: _pump_lock is held by whoever pumps the queue while a call runs, and
        # guards _inline_since (when the running call started, 0 when none runs) and _handed_over.
        self._pump_lock = threading.Lock()
        self._inline_since = 0.0
        self._handed_over: list[_Call] = []
        self._runs = 0  # inline calls started: tells the helper whether calls come in
        self._server = cygrpc.Server(tuple(options), False)
        self._cq = cygrpc.CompletionQueue()
        self._server.register_completion_queue(self._cq)
        d = dispatcher
        self._methods: dict[str, Callable[[Any], Any]] = {
            "Session": lambda call: _SessionRPC(self, call),
            "Execute": lambda call: _ExecuteRPC(self, call),
            "Describe": lambda call: _UnaryRPC(call, pb.DescribeRequest.FromString, lambda _: d.describe()),
            "Ping": lambda call: _UnaryRPC(call, pb.PingRequest.FromString, lambda _: d.ping()),
            "Cancel": lambda call: _UnaryRPC(call, pb.CancelRequest.FromString, self._cancel),
        }
        for name in self._methods:
            self._server.register_method(_SERVICE + name)
        if self._server.add_http2_port(address.encode()) == 0:
            raise OSError(f"cannot listen on {address}")
        self._server.start()
        for name in self._methods:
            self._request(name)
        self._server.request_call(self._cq, self._cq, self._on_unknown_call)
        self._poller = threading.Thread(
            target=self._poll, name="snakepool-tool-0" if inline else "snakepool-calls", daemon=True
        )
        self._poller.start()
        if inline:
            threading.Thread(target=self._pump_while_busy, name="snakepool-pump", daemon=True).start()

    # --- serving ---------------------------------------------------------------------------------

    def _cancel(self, request: pb.CancelRequest) -> pb.CancelResponse:
        return pb.CancelResponse(found=self.dispatcher.cancel(request.call_id, request.reason))

    def _request(self, name: str) -> None:
        def on_call(event: Any) -> None:
            self._on_call(name, event)

        self._server.request_registered_call(self._cq, self._cq, _SERVICE + name, on_call)

    def _on_call(self, name: str, event: Any) -> None:
        if self._stopping or not event.success:
            return
        self._request(name)
        self._methods[name](event.call)

    def _on_unknown_call(self, event: Any) -> None:
        if self._stopping or not event.success:
            return
        self._server.request_call(self._cq, self._cq, self._on_unknown_call)
        method = event.call_details.method
        if isinstance(method, bytes):
            method = method.decode(errors="replace")
        event.call.start_server_batch((cygrpc.ReceiveCloseOnServerOperation(_NO_FLAGS),), _ignore)
        _abort(event.call, cygrpc.StatusCode.unimplemented, f"unknown method {method}")

    def _poll(self) -> None:
        cq = self._cq
        shutdown = cygrpc.CompletionType.queue_shutdown
        ready = cygrpc.CompletionType.operation_complete
        dispatch = self._dispatch
        while True:
            event = cq.poll()
            kind = event.completion_type
            if kind == ready:
                dispatch(event)
            elif kind == shutdown:
                return

    @staticmethod
    def _dispatch(event: Any) -> None:
        tag: _Tag = event.tag
        try:
            tag(event)
        except Exception:  # the loop must outlive any one RPC's trouble
            _log.exception("internal error handling a gRPC event")

    def run(self, call: _Call) -> None:
        """Run an admitted call: inline on the tool thread, else on a dispatcher tool thread."""
        d = self.dispatcher
        if not self._inline:
            d.enqueue(call)
            return
        if threading.current_thread() is not self._poller:
            # Pumped by the helper just as the running call ended: the tool thread, which waits
            # for the pump to finish, runs it next.
            self._handed_over.append(call)
            return
        while True:
            self._runs += 1
            with self._pump_lock:
                self._inline_since = time.monotonic()
            call.pump = self._pump
            try:
                d.run(call)
            finally:
                with self._pump_lock:
                    self._inline_since = 0.0
                    handed_over, self._handed_over = self._handed_over, []
            if not handed_over:
                return
            call = handed_over[0]  # one at most: the dispatcher admits one call at a time

    def _pump(self) -> None:
        """Handle the queue's ready events from a tool's heartbeat, without waiting.

        Only while a call runs inline: a heartbeat can come from a thread the tool left running
        after its call ended, when the tool thread polls the queue itself.
        """
        if self._pump_lock.acquire(blocking=False):  # else the helper is pumping
            try:
                if self._inline_since:
                    self._drain()
            finally:
                self._pump_lock.release()

    def _pump_while_busy(self) -> None:
        """The helper of the process profile: while a call has run for 20 ms or more (so its thread
        polls nothing), handle the queue every 20 ms: Ping, Cancel, WorkerBusy answers, sends.

        It polls only then: a second thread waiting on the queue would take turns at reading the
        socket with the tool thread and hand it every other message. It looks every 20 ms while
        calls come in, and every 250 ms while none has since it last looked, so that an idle
        worker costs next to no CPU.
        """
        interval = _PUMP_INTERVAL
        seen = self._runs
        while not self._stopped.wait(interval):
            since = self._inline_since
            if since and time.monotonic() - since >= _PUMP_INTERVAL:
                with self._pump_lock:
                    if self._inline_since:
                        self._drain()
            runs = self._runs
            interval = _PUMP_INTERVAL if since or runs != seen else _PUMP_IDLE_INTERVAL
            seen = runs

    def _drain(self) -> None:
        # Called with _pump_lock held.
        cq = self._cq
        ready = cygrpc.CompletionType.operation_complete
        while True:
            event = cq.poll(time.time())
            if event.completion_type != ready:
                return
            self._dispatch(event)

    # --- stopping --------------------------------------------------------------------------------

    def stop(self, grace: float) -> threading.Event:
        """Stop taking RPCs and let the running ones end; after ``grace`` seconds cancel them.

        Returns an event that is set once every RPC has ended.
        """
        if not self._stopping:
            self._stopping = True
            self._server.shutdown(self._cq, self._on_shutdown)
            threading.Thread(
                target=self._cancel_after, args=(grace,), name="snakepool-stop", daemon=True
            ).start()
        return self._stopped

    def _cancel_after(self, grace: float) -> None:
        if not self._stopped.wait(grace):
            self._server.cancel_all_calls()

    def _on_shutdown(self, event: Any) -> None:
        self._stopped.set()
