"""The control channel: the Go side's Describe, Ping, Cancel and Stop requests, as length-prefixed
protobuf frames (``_frames``) on a connected Unix socket that the Go side passes at spawn
(``--control-fd``).

A thread of its own (``snakepool-control``) reads the requests and answers each at once, in order,
with a ControlResponse that carries the request's id (bridge.proto). So Ping, the health check, and
Cancel are answered while tools run, also while a process-profile tool holds the tool thread: the
thread needs nothing but the GIL, which a running tool hands over every few milliseconds. No grpc
is imported: a worker the Go pool starts serves no gRPC.

The channel is also the worker's lifeline: the Go side holds the other end for the worker's whole
life, so its end of file means the Go side is gone, and ``on_closed`` is called (the server then
kills what its tools started and exits, ``_lifeline.parent_gone``).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

from ._dispatch import Dispatcher, error
from ._frames import READ_SIZE, Frames, send_frame
from ._lifecycle import StopRequest
from .bridge.v1 import bridge_pb2 as pb

__all__ = ["ControlChannel"]

_log = logging.getLogger("snakepool.server")

#: Why the worker stops on the Stop request (in its logs and in the cancelled calls' errors).
STOP_REASON = "the supervisor asked the worker to stop"


class ControlChannel:
    """Answers the control requests that arrive on ``sock``.

    Started before the adapter is loaded (it is the lifeline from the first moment); Describe,
    Ping and Cancel are answered once :meth:`attach` has given it the dispatcher (until then with
    an error of type ``NotReady``; the Go side sends none before the handshake). A Stop request is
    acknowledged and handed to ``on_stop``; the end of the channel to ``on_closed``.
    """

    def __init__(
        self,
        sock: socket.socket,
        on_stop: Callable[[StopRequest], None],
        on_closed: Callable[[str], None],
    ) -> None:
        self._sock = sock
        self._on_stop = on_stop
        self._on_closed = on_closed
        self._dispatcher: Dispatcher | None = None

    def attach(self, dispatcher: Dispatcher) -> None:
        """Answer with ``dispatcher`` from now on."""
        self._dispatcher = dispatcher

    def start(self) -> None:
        """Start serving on a thread of its own."""
        threading.Thread(target=self._serve, name="snakepool-control", daemon=True).start()

    def _serve(self) -> None:
        frames = Frames(pb.ControlRequest.FromString)
        reason = "the control channel closed"
        try:
            while data := self._sock.recv(READ_SIZE):
                for request in frames.feed(data):
                    if request.WhichOneof("request") == "stop":
                        self._stop(request)
                    else:
                        send_frame(self._sock, self._answer(request).SerializeToString())
        except OSError as exc:
            reason = f"the control channel broke ({exc})"
        except Exception as exc:  # a frame that is no ControlRequest: the channel is out of step
            _log.exception("cannot read the control channel")
            reason = f"the control channel failed ({type(exc).__name__})"
        self._on_closed(reason)

    def _stop(self, request: pb.ControlRequest) -> None:
        # Acknowledged before it is acted on: a worker with nothing to wait for exits (and its end
        # of the channel closes) before an answer sent afterwards would leave.
        send_frame(self._sock, pb.ControlResponse(id=request.id, stop=pb.StopResponse()).SerializeToString())
        stop = request.stop
        self._on_stop(StopRequest(STOP_REASON, _seconds(stop.grace_seconds), _seconds(stop.timeout_seconds)))

    def _answer(self, request: pb.ControlRequest) -> pb.ControlResponse:
        kind = request.WhichOneof("request")
        rid = request.id
        if kind not in ("ping", "cancel", "describe"):
            _log.warning(
                "answering control request %d: of a kind this worker does not know (a newer supervisor?)", rid
            )
            return pb.ControlResponse(
                id=rid,
                error=error("UnknownRequest", "this worker does not know the request (a newer supervisor?)"),
            )
        d = self._dispatcher
        if d is None:
            return pb.ControlResponse(
                id=rid, error=error("NotReady", f"the worker is starting; {kind} comes later")
            )
        try:
            if kind == "ping":
                return pb.ControlResponse(id=rid, ping=d.ping())
            if kind == "cancel":
                found = d.cancel(request.cancel.call_id, request.cancel.reason)
                return pb.ControlResponse(id=rid, cancel=pb.CancelResponse(found=found))
            return pb.ControlResponse(id=rid, describe=d.describe())
        except Exception as exc:  # a bug of ours: say so rather than leave the request unanswered
            _log.exception("internal error answering a %s request", kind)
            return pb.ControlResponse(id=rid, error=error("InternalError", f"{type(exc).__name__}: {exc}"))


def _seconds(value: float) -> float | None:
    """A duration of the Stop request, or None (the worker's default) when it is no usable number."""
    return value if 0 <= value < float("inf") else None
