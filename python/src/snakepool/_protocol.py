"""The bridge protocol's version and its handshake line (bridge.proto describes both).

This module imports neither grpc nor protobuf: the handshake must be written, also to report an
adapter that cannot be loaded, whatever else fails.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

__all__ = ["PROTOCOL_VERSION", "adapter_error_line", "serving_line", "write_handshake"]

#: The bridge protocol version (see bridge.proto). Bump it on both sides for any incompatible change.
PROTOCOL_VERSION = 3


def serving_line(socket_path: str, pid: int) -> dict[str, Any]:
    """The handshake of a worker that serves on ``socket_path``."""
    return {"protocol": PROTOCOL_VERSION, "address": f"unix:{socket_path}", "pid": pid}


def adapter_error_line(error_type: str, message: str, traceback: str) -> dict[str, Any]:
    """The handshake of a worker that cannot serve its adapter (it exits next)."""
    return {
        "protocol": PROTOCOL_VERSION,
        "error": {"type": error_type, "message": message, "traceback": traceback},
    }


def write_handshake(fd: int | None, line: dict[str, Any]) -> None:
    """Write ``line`` as one JSON line to ``fd`` and close it (to stdout when ``fd`` is None)."""
    data = (json.dumps(line) + "\n").encode()
    if fd is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
