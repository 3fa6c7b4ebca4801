"""The Python peer of bench/transports: one no-op "tool" served over one transport design.

Run by bench/transports (the Go driver), never by hand. Every design does the same work per call
(parse a BytesValue, run a no-op, build a BytesValue) and uses only public grpcio APIs.

    python peer.py DESIGN ADDRESS

DESIGN is one of:
  server-iter   grpc.server serves a bidi Session; a reader thread runs each call and puts its
                event on a queue that the handler's response iterator drains (today's grpcio
                server without its undocumented non-blocking handler).
  server-iter-bdp  as server-iter, with grpcio's default channel arguments (BDP probe on).
  server-hop    as server-iter, but the reader hands each call to a tool thread (so that it can
                read a Cancel message while a tool runs).
  server-gen    grpc.server, the handler's generator reads the next request and runs it inline:
                a lower bound for grpc.server (it cannot send a heartbeat while a tool runs).
  client-stream Python dials the Go side and is the client of one bidi stream: the tool thread
                reads Starts from the response iterator and queues results for grpcio's request
                iterator thread.
  client-pull   Python dials the Go side; the tool thread makes one blocking unary Next RPC per
                call, carrying the previous result and returning the next Start (a blocking unary
                call is polled by the calling thread itself). An idle server stream stands for the
                control channel.
  socket-frames no gRPC: Python dials a plain Unix socket of the Go side; each message is a
                length-prefixed protobuf, read and answered by the tool thread (the design the
                bridge's call channel ships, without its dispatch: design "bridge" in main.go).
  client-aio    grpc.aio client of one bidi stream; the loop hands each call to a tool thread.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
from google.protobuf.wrappers_pb2 import BytesValue

SERVICE = "bench.Transport"
#: Public channel arguments (grpc_types.h), as the bridge sets them: no BDP probe PINGs on a local
#: socket, no size limits.
OPTIONS = [
    ("grpc.http2.bdp_probe", 0),
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
]
_ser = BytesValue.SerializeToString
_de = BytesValue.FromString


def tool(start: BytesValue) -> BytesValue:
    return BytesValue(value=b"null")


def server_iter(
    request_iterator: Iterator[BytesValue], context: Any
) -> Iterator[BytesValue]:
    events: queue.SimpleQueue[BytesValue | None] = queue.SimpleQueue()

    def read() -> None:
        for request in request_iterator:
            events.put(tool(request))
        events.put(None)

    threading.Thread(target=read, daemon=True).start()
    return iter(events.get, None)


def server_hop(
    request_iterator: Iterator[BytesValue], context: Any
) -> Iterator[BytesValue]:
    events: queue.SimpleQueue[BytesValue | None] = queue.SimpleQueue()
    jobs: queue.SimpleQueue[BytesValue | None] = queue.SimpleQueue()

    def work() -> None:
        for request in iter(jobs.get, None):
            events.put(tool(request))

    def read() -> None:
        for request in request_iterator:
            jobs.put(request)
        jobs.put(None)
        events.put(None)

    threading.Thread(target=work, daemon=True).start()
    threading.Thread(target=read, daemon=True).start()
    return iter(events.get, None)


def server_gen(
    request_iterator: Iterator[BytesValue], context: Any
) -> Iterator[BytesValue]:
    for request in request_iterator:
        yield tool(request)


def serve(handler: Any, address: str, options: list[tuple[str, Any]] = OPTIONS) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10), options=options)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                SERVICE,
                {"Session": grpc.stream_stream_rpc_method_handler(handler, _de, _ser)},
            ),
        )
    )
    server.add_insecure_port(address)
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


def client_stream(address: str) -> None:
    with grpc.insecure_channel(address, options=OPTIONS) as channel:
        sends: queue.SimpleQueue[BytesValue | None] = queue.SimpleQueue()
        responses = channel.stream_stream(f"/{SERVICE}/Session", _ser, _de)(
            iter(sends.get, None)
        )
        for start in responses:
            sends.put(tool(start))


def client_pull(address: str) -> None:
    with grpc.insecure_channel(address, options=OPTIONS) as channel:
        control = channel.unary_stream(f"/{SERVICE}/Control", _ser, _de)(BytesValue())
        threading.Thread(target=lambda: [None for _ in control], daemon=True).start()
        pull = channel.unary_unary(f"/{SERVICE}/Next", _ser, _de)
        result = BytesValue()
        while True:
            result = tool(pull(result))


def socket_frames(address: str) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(address.removeprefix("unix:"))
    reader = sock.makefile("rb")
    while True:
        header = reader.read(4)
        if len(header) < 4:
            return
        start = BytesValue.FromString(reader.read(int.from_bytes(header, "big")))
        out = tool(start).SerializeToString()
        sock.sendall(len(out).to_bytes(4, "big") + out)


async def _client_aio(address: str) -> None:
    async with grpc.aio.insecure_channel(address, options=OPTIONS) as channel:
        call = channel.stream_stream(f"/{SERVICE}/Session", _ser, _de)()
        loop = asyncio.get_running_loop()
        pool = futures.ThreadPoolExecutor(1)
        while True:
            start = await call.read()
            if start is grpc.aio.EOF:
                return
            await call.write(await loop.run_in_executor(pool, tool, start))


def main() -> None:
    design, address = sys.argv[1], sys.argv[2]
    if design == "server-iter":
        serve(server_iter, address)
    elif design == "server-iter-bdp":
        serve(server_iter, address, [])
    elif design == "server-hop":
        serve(server_hop, address)
    elif design == "server-gen":
        serve(server_gen, address)
    elif design == "client-stream":
        client_stream(address)
    elif design == "client-pull":
        client_pull(address)
    elif design == "socket-frames":
        socket_frames(address)
    elif design == "client-aio":
        asyncio.run(_client_aio(address))
    else:
        raise SystemExit(f"unknown design {design!r}")


if __name__ == "__main__":
    main()
