"""The bridge protocol's version, its check against the supervisor's, and the handshake line
(bridge.proto describes them).

This module imports neither grpc nor protobuf: the handshake must be written, also to report an
adapter that cannot be loaded or a supervisor of another protocol, whatever else fails.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from ._version import __version__

__all__ = [
    "PROTOCOL_ENV",
    "PROTOCOL_VERSION",
    "adapter_error_line",
    "handshake_fd_of",
    "package_version",
    "protocol_error_line",
    "serving_line",
    "supervisor_mismatch",
    "write_handshake",
]

#: The bridge protocol version (see bridge.proto). Bump it on both sides for any incompatible change.
PROTOCOL_VERSION = 4

#: The environment variable in which the Go supervisor passes the protocol version it speaks. It is
#: checked before the command line is parsed, so that a supervisor of another version gets a clear
#: answer instead of a complaint about flags this package does not know.
PROTOCOL_ENV = "SNAKEPOOL_BRIDGE_PROTOCOL"


def package_version() -> str:
    """This package's version (``snakepool.__version__``)."""
    return __version__


def supervisor_mismatch(value: str | None) -> str | None:
    """Why this package cannot serve a supervisor that passed ``value`` in :data:`PROTOCOL_ENV`, or
    None when it can (or when no supervisor passed a version: the server was started by hand)."""
    if value is None:
        return None
    try:
        theirs = int(value)
    except ValueError:
        return f"{PROTOCOL_ENV}={value!r} is not a protocol version (this package speaks {PROTOCOL_VERSION})"
    if theirs == PROTOCOL_VERSION:
        return None
    if theirs > PROTOCOL_VERSION:
        fix = "upgrade the Python package to the release of the Go worker (docs/install.md)"
    else:
        fix = "install the Python package of the Go worker's release into this interpreter (docs/install.md)"
    return (
        f"the snakepool Go worker speaks bridge protocol {theirs}, the Python package at {sys.executable} "
        f"(snakepool {package_version()}) speaks {PROTOCOL_VERSION}: {fix}"
    )


def handshake_fd_of(argv: Sequence[str]) -> int | None:
    """The ``--handshake-fd`` of a command line not parsed yet (None: absent or not a number)."""
    for i, arg in enumerate(argv):
        value: str | None = None
        if arg == "--handshake-fd" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--handshake-fd="):
            value = arg.partition("=")[2]
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def serving_line(socket_path: str | None, pid: int) -> dict[str, Any]:
    """The handshake of a worker that serves (its gRPC address when it serves gRPC on
    ``socket_path``)."""
    line: dict[str, Any] = {"protocol": PROTOCOL_VERSION, "package_version": package_version(), "pid": pid}
    if socket_path is not None:
        line["address"] = f"unix:{socket_path}"
    return line


def adapter_error_line(error_type: str, message: str, traceback: str) -> dict[str, Any]:
    """The handshake of a worker that cannot serve its adapter (it exits next)."""
    return {
        "protocol": PROTOCOL_VERSION,
        "package_version": package_version(),
        "error": {"type": error_type, "message": message, "traceback": traceback},
    }


def protocol_error_line(message: str) -> dict[str, Any]:
    """The handshake of a worker that does not speak its supervisor's protocol (it exits next)."""
    return adapter_error_line("ProtocolMismatch", message, "")


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
