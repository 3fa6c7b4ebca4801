"""The call channel: the Go side's Start messages and the calls' events, as length-prefixed
protobuf frames (``_frames``) on a connected Unix socket that the Go side passes at spawn
(``--calls-fd``).

Each frame is a 4-byte big-endian length and a serialised message: SessionRequest from Go,
SessionEvent to Go (bridge.proto). No gRPC runs on this socket, which is why a call costs one read
and one write on the thread that runs it:

- process profile: the one tool thread (``snakepool-tool-0``) reads the socket, runs each call as it
  reads it and writes its heartbeats and result itself. Between calls it also runs the calls that
  Execute RPCs queued, so that every tool runs on that one thread.
- thread profile: a reader thread (``snakepool-calls``) hands the calls to the tool threads, which
  write their events themselves.

Batches (``BatchRequest``) travel the same way and run on the same threads, one batch per tool
thread, its items one after the other; each item's end is a frame of its own, written as it ends.
Events are written under one lock, so the events of a call keep their order and end with its
result or error; an end that cannot be sent as it is (a frame over the Go side's limit) is sent as
an error, so no call is left without an end. Cancel, Ping, Describe and Stop travel on the control
channel (``_control``): they are answered while a tool runs, also in the process profile, where
the tool thread reads this socket only between calls. The channel ends when the Go side closes its
end (the calls started on it are then cancelled; in the process profile a helper thread,
``snakepool-calls-watch``, waits for that moment) or when the worker stops (once those calls have
written their end, this side is shut).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import selectors
import socket
import threading

from ._dispatch import Call, Dispatcher, error
from ._frames import HEADER, MAX_FRAME, READ_SIZE, Frames, send_frame
from .bridge.v1 import bridge_pb2 as pb

__all__ = ["CallChannel"]

_log = logging.getLogger("snakepool.server")

#: poll() events of a peer that closed or shut down its end (Linux; elsewhere a call that runs when
#: the Go side closes the channel is not cancelled by it).
_HANGUP = getattr(select, "POLLRDHUP", 0)


class _ChannelSink:
    """The sink of the calls started on the channel: each event is one frame, written at once.

    ``started`` is counted by the reader, ``finished`` here. Once the channel is closing, this side
    is shut down as soon as every call started on it has written its last event. ``max_frame``
    bounds a frame (the Go side's limit): a call's end that does not fit is sent as an error.
    """

    __slots__ = ("_lock", "_max_frame", "_sock", "closing", "ended", "finished", "started")

    def __init__(self, sock: socket.socket, max_frame: int = MAX_FRAME) -> None:
        self._sock = sock
        self._max_frame = max_frame
        self._lock = threading.Lock()
        self.started = 0
        self.finished = 0
        self.closing = False
        self.ended = False

    def heartbeat(self, call: Call, heartbeat: pb.Heartbeat) -> None:
        with self._lock:
            if not call.done and not self.ended:
                problem = self._write(pb.SessionEvent(call_id=call.call_id, heartbeat=heartbeat))
                if problem is not None:
                    _log.warning("dropped a heartbeat of call %s: %s", call.call_id, problem.message)

    def item(self, call: Call, index: int, result: pb.Result | None, error: pb.Error | None) -> None:
        with self._lock:
            if not self.ended:
                end = pb.ItemEnd(index=index, result=result, error=error)
                problem = self._write(pb.SessionEvent(call_id=call.call_id, item=end))
                if problem is not None:
                    self._write(
                        pb.SessionEvent(call_id=call.call_id, item=pb.ItemEnd(index=index, error=problem))
                    )

    def finish(self, call_id: str, result: pb.Result | None, error: pb.Error | None) -> None:
        with self._lock:
            self.finished += 1
            if not self.ended:
                problem = self._write(pb.SessionEvent(call_id=call_id, result=result, error=error))
                if problem is not None:
                    self._write(pb.SessionEvent(call_id=call_id, error=problem))
            if self.closing and self.finished == self.started:
                self._end()

    def close(self) -> None:
        with self._lock:
            self.closing = True
            if self.finished == self.started:
                self._end()

    def _write(self, event: pb.SessionEvent) -> pb.Error | None:
        """Write ``event`` (with the lock held); return why it cannot be sent, as the error to send
        instead, or None (sent, or the Go side is gone)."""
        try:
            data = event.SerializeToString()
        except Exception as exc:  # not expected of a message built from valid parts
            _log.exception("cannot encode an event of call %s", event.call_id)
            return error(
                "InternalError", f"the bridge could not encode the event: {type(exc).__name__}: {exc}"
            )
        if len(data) > self._max_frame:
            return error(
                "InvalidResult",
                f"the {event.WhichOneof('event')} is {len(data)} bytes encoded, over the bridge's limit "
                f"of {self._max_frame} bytes",
                non_retryable=True,
            )
        try:
            if len(data) < READ_SIZE:  # the hot path, inline (send_frame for large payloads)
                self._sock.sendall(HEADER.pack(len(data)) + data)
            else:
                send_frame(self._sock, data)
        except OSError as exc:  # the Go side is gone: nothing more can be delivered
            _log.debug("cannot write to the call channel: %s", exc)
            self.ended = True
        return None

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_WR)


class CallChannel:
    """Serves the calls that arrive on ``sock`` through ``dispatcher``.

    In the process profile the dispatcher must have no tool thread of its own (``tool_threads=0``):
    the channel's thread becomes its tool thread.
    """

    def __init__(self, dispatcher: Dispatcher, sock: socket.socket, max_frame: int = MAX_FRAME) -> None:
        self._d = dispatcher
        self._sock = sock
        self.sink = _ChannelSink(sock, max_frame)
        self._inline = dispatcher.mode == "process"

    def start(self) -> None:
        """Start serving on a thread of its own."""
        d = self._d
        d.open_stream(self.sink)
        if self._inline:
            wake_r, wake_w = os.pipe()
            os.set_blocking(wake_r, False)
            os.set_blocking(wake_w, False)

            def wake() -> None:
                with contextlib.suppress(BlockingIOError):  # a wake-up is pending already
                    os.write(wake_w, b"\0")

            thread = threading.Thread(
                target=self._serve_inline, args=(wake_r,), name="snakepool-tool-0", daemon=True
            )
            d.adopt_tool_thread(thread, wake)
            if _HANGUP:
                threading.Thread(target=self._watch_hangup, name="snakepool-calls-watch", daemon=True).start()
        else:
            thread = threading.Thread(target=self._serve_reader, name="snakepool-calls", daemon=True)
        thread.start()

    def _handle(self, request: pb.SessionRequest) -> None:
        kind = request.WhichOneof("request")
        if kind == "start" or kind == "batch":
            self.sink.started += 1
            d = self._d
            if self._inline:
                call = (
                    d.admit(request.start, self.sink)
                    if kind == "start"
                    else d.admit_batch(request.batch, self.sink)
                )
                if call is not None:
                    d.run(call)
            elif kind == "start":
                d.start(request.start, self.sink)
            else:
                d.start_batch(request.batch, self.sink)
        elif kind == "cancel":
            self._d.cancel(request.cancel.call_id, request.cancel.reason)
        else:
            _log.warning("ignoring a call-channel request of unknown kind (a newer supervisor?): %s", request)

    def _serve_reader(self) -> None:
        frames = Frames(pb.SessionRequest.FromString)
        reason = "the call channel closed"
        try:
            while data := self._sock.recv(READ_SIZE):
                for request in frames.feed(data):
                    self._handle(request)
        except OSError as exc:
            reason = f"the call channel broke ({exc})"
        except Exception:
            _log.exception("internal error serving the call channel; ending it")
            reason = "the call channel failed"
        finally:
            self._d.end_stream(self.sink, reason)

    def _watch_hangup(self) -> None:
        """The process profile's tool thread reads the socket only between calls: this thread sees
        the Go side close its end during a call, and cancels the call (it reads nothing)."""
        poller = select.poll()
        poller.register(self._sock, _HANGUP)
        while not poller.poll():
            pass
        self._d.end_stream(self.sink, "the call channel closed")

    def _serve_inline(self, wake_r: int) -> None:
        """The process profile's tool thread: calls from the socket and queued Execute calls, one
        at a time, until the dispatcher stops its tool threads."""
        d = self._d
        frames = Frames(pb.SessionRequest.FromString)
        selector = selectors.DefaultSelector()
        selector.register(self._sock, selectors.EVENT_READ, "calls")
        selector.register(wake_r, selectors.EVENT_READ, "jobs")
        open_ = True
        try:
            while True:
                if not d.run_queued():
                    return
                for key, _ in selector.select():
                    if key.data == "jobs":
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake_r, 4096)
                        continue
                    try:
                        data = self._sock.recv(READ_SIZE)
                    except OSError as exc:
                        data, reason = b"", f"the call channel broke ({exc})"
                    else:
                        reason = "the call channel closed"
                    if not data:
                        selector.unregister(self._sock)
                        open_ = False
                        d.end_stream(self.sink, reason)
                        continue
                    for request in frames.feed(data):
                        self._handle(request)
        except Exception:
            _log.exception("internal error on the tool thread; it stops")
        finally:
            selector.close()
            os.close(wake_r)
            if open_:
                d.end_stream(self.sink, "the worker stopped")
