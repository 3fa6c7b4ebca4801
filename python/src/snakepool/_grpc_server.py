"""The bridge's gRPC service: ``grpc.server`` on a Unix socket, public grpcio API only.

Served only when the server is started with ``--socket`` (grpcurl, ``snakepool.testing``, the
tests): this is the only module of the package that imports grpc, and a worker the Go pool starts
never imports it (its requests travel on the control channel, ``_control``). Describe, Ping and
Cancel are answered by the server's pool threads, also while tools run. An Execute call runs on a
tool thread; its events go on a queue that the RPC's response iterator drains.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc

from ._dispatch import Call, Dispatcher
from .bridge.v1 import bridge_pb2 as pb
from .bridge.v1 import bridge_pb2_grpc as pb_grpc

__all__ = ["SERVER_OPTIONS", "serve"]

_log = logging.getLogger("snakepool.server")

#: Channel arguments of the server (documented in grpc's grpc_types.h). No message size limits
#: (the Go side bounds results); no SO_REUSEPORT (the socket is private); no BDP probe: on a local
#: socket its PING frames buy nothing and cost a wake-up of both sides per probe.
SERVER_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    ("grpc.so_reuseport", 0),
    ("grpc.http2.bdp_probe", 0),
)

#: Longest Unix socket path (sun_path holds 108 bytes with the terminating NUL).
_MAX_SOCKET_PATH = 107


class _ExecuteSink:
    """The sink of one Execute call: ExecuteEvents on a queue, then None, for the response iterator."""

    __slots__ = ("_lock", "events")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: queue.SimpleQueue[pb.ExecuteEvent | None] = queue.SimpleQueue()

    def heartbeat(self, call: Call, heartbeat: pb.Heartbeat) -> None:
        with self._lock:
            if not call.done:
                self.events.put(pb.ExecuteEvent(heartbeat=heartbeat))

    def finish(self, call_id: str, result: pb.Result | None, error: pb.Error | None) -> None:
        with self._lock:
            self.events.put(pb.ExecuteEvent(result=result, error=error))
            self.events.put(None)


def _execute(
    dispatcher: Dispatcher, request: pb.ExecuteRequest, rpc: grpc.ServicerContext
) -> Iterator[pb.ExecuteEvent]:
    """Run one call; the iterator yields its heartbeats and then its result or error. Ending the
    RPC before the call finished cancels the call."""
    sink = _ExecuteSink()
    call = dispatcher.start(request, sink)
    if call is not None:

        def rpc_ended() -> None:
            if not call.done:
                call.cancel("the Execute RPC ended")

        if not rpc.add_callback(rpc_ended):
            rpc_ended()
    return iter(sink.events.get, None)


class _Servicer:
    """The gRPC face of a :class:`Dispatcher` (method names follow bridge.proto)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._d = dispatcher

    def Describe(self, request: pb.DescribeRequest, context: grpc.ServicerContext) -> pb.DescribeResponse:
        return self._d.describe()

    def Execute(self, request: pb.ExecuteRequest, context: grpc.ServicerContext) -> Iterator[pb.ExecuteEvent]:
        return _execute(self._d, request, context)

    def Cancel(self, request: pb.CancelRequest, context: grpc.ServicerContext) -> pb.CancelResponse:
        return pb.CancelResponse(found=self._d.cancel(request.call_id, request.reason))

    def Ping(self, request: pb.PingRequest, context: grpc.ServicerContext) -> pb.PingResponse:
        return self._d.ping()


def serve(dispatcher: Dispatcher, socket_path: str) -> grpc.Server:
    """Serve ``dispatcher`` on the Unix socket ``socket_path`` (a stale socket file is removed)."""
    if len(os.fsencode(socket_path)) > _MAX_SOCKET_PATH:
        raise ValueError(
            f"socket path is too long for a Unix socket ({len(socket_path)} > {_MAX_SOCKET_PATH} bytes): "
            f"{socket_path}"
        )
    try:
        if stat.S_ISSOCK(os.lstat(socket_path).st_mode) or os.path.isfile(socket_path):
            os.unlink(socket_path)
    except FileNotFoundError:
        pass
    # Each running Execute holds a pool thread (draining its events); the rest answer Ping, Cancel
    # and Describe while tools are busy.
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=dispatcher.max_workers + 8, thread_name_prefix="snakepool-rpc"
        ),
        options=SERVER_OPTIONS,
    )
    pb_grpc.add_BridgeServicer_to_server(_Servicer(dispatcher), server)  # type: ignore[no-untyped-call]
    address = f"unix:{socket_path}"
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {address}: {exc}") from None
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    server.start()
    return server
