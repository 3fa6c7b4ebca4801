"""The frames of the call and control channels (bridge.proto): a 4-byte big-endian length and one
serialised protobuf message, on a connected Unix stream socket that the Go side passes at spawn."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["HEADER", "MAX_FRAME", "READ_SIZE", "Frames", "send_frame"]

HEADER = struct.Struct(">I")
#: The largest frame the Go side reads (pools' maxRecvMessage): a larger one would end its channel.
MAX_FRAME = 1 << 30
#: How much one read of a channel takes at most.
READ_SIZE = 1 << 16

M = TypeVar("M")


class Frames(Generic[M]):
    """Splits the bytes read from a channel into messages, decoded with ``parse``."""

    __slots__ = ("_buf", "_parse")

    def __init__(self, parse: Callable[[bytes], M]) -> None:
        self._parse = parse
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[M]:
        """Add ``data``; return the messages it completes (the rest waits for more data)."""
        buf = self._buf
        buf += data
        messages = []
        start = 0
        while len(buf) - start >= HEADER.size:
            (size,) = HEADER.unpack_from(buf, start)
            end = start + HEADER.size + size
            if len(buf) < end:
                break
            messages.append(self._parse(bytes(buf[start + HEADER.size : end])))
            start = end
        del buf[:start]
        return messages


def send_frame(sock: socket.socket, data: bytes) -> None:
    """Write ``data`` (a serialised message) as one frame."""
    if len(data) < READ_SIZE:
        sock.sendall(HEADER.pack(len(data)) + data)
    else:  # no copy of a large payload
        sock.sendall(HEADER.pack(len(data)))
        sock.sendall(data)
