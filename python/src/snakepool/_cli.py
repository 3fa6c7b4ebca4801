"""The command line of ``python -m snakepool.server``: what the Go supervisor runs per worker."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
import traceback
from collections.abc import Sequence

from . import _lifeline, _logging
from ._adapter import Adapter, ThreadSafeAdapter
from ._interpreter import gil_enabled, python_version
from ._lifecycle import Stopper, flush_and_exit, shut_down, teardown
from ._loading import check_thread_safe, load_adapter
from ._protocol import (
    PROTOCOL_ENV,
    adapter_error_line,
    handshake_fd_of,
    protocol_error_line,
    serving_line,
    supervisor_mismatch,
    write_handshake,
)
from ._threadsafety import ThreadSafetyChecker

__all__ = ["main", "parser"]

_log = logging.getLogger("snakepool.server")


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m snakepool.server``."""
    p = argparse.ArgumentParser(
        prog="python -m snakepool.server",
        description="Serve a snakepool adapter: to the Go supervisor on inherited socket pairs (calls on "
        "--calls-fd; Describe, Ping, Cancel and Stop on --control-fd), and/or over gRPC on a Unix socket "
        "(--socket: Describe, Ping, Cancel and Execute, for grpcurl and tests).",
    )
    p.add_argument("--adapter", required=True, help="the adapter class, as package.module:Class")
    p.add_argument(
        "--socket",
        default=None,
        help="serve the Bridge gRPC service on this Unix socket path (a stale file is removed); "
        "grpc is imported only then",
    )
    p.add_argument(
        "--handshake-fd",
        type=int,
        default=None,
        help="file descriptor to write the one-line JSON handshake to, then close (default: stdout)",
    )
    p.add_argument(
        "--calls-fd",
        type=int,
        default=None,
        help="file descriptor of the call channel, a connected Unix stream socket (the Go side passes "
        "one end of a socket pair); without it, calls come only through the Execute RPC",
    )
    p.add_argument(
        "--control-fd",
        type=int,
        default=None,
        help="file descriptor of the control channel, a connected Unix stream socket: Describe, Ping, "
        "Cancel and Stop requests; its end means the supervisor is gone (exit at once)",
    )
    p.add_argument(
        "--mode", choices=("process", "thread"), default="process", help="worker profile (default process)"
    )
    p.add_argument(
        "--max-workers",
        type=int,
        default=4,
        help="calls run at once in thread mode (default 4; process mode: 1)",
    )
    p.add_argument("--worker-id", default=None, help="worker id put on every log line (default pid-<pid>)")
    p.add_argument(
        "--log-fd", type=int, default=None, help="file descriptor for JSON log lines (default: stderr)"
    )
    p.add_argument("--log-level", default="INFO", help="root log level (default INFO)")
    p.add_argument(
        "--thread-safety-check",
        action="store_true",
        help="report methods entered by several threads at once without @thread_safe_method, "
        "and imported thread-unsafe libraries",
    )
    p.add_argument(
        "--thread-safety-strict",
        action="store_true",
        help="make thread-safety findings errors (implies the check)",
    )
    p.add_argument(
        "--shutdown-grace",
        type=float,
        default=5.0,
        help="seconds that running calls get to finish once cancelled by a stop (default 5; the "
        "supervisor's Stop request carries its own)",
    )
    p.add_argument(
        "--supervised",
        action="store_true",
        help="the supervisor owns the lifecycle: ignore SIGTERM, SIGINT and SIGHUP and stop on the "
        "Stop request on the control channel (needs --control-fd)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m snakepool.server``; never returns."""
    args = sys.argv[1:] if argv is None else list(argv)
    # Before the flags: a supervisor of another protocol may pass flags this package does not know.
    mismatch = supervisor_mismatch(os.environ.pop(PROTOCOL_ENV, None))  # not for the tools' children
    if mismatch is not None:
        print(f"snakepool: {mismatch}", file=sys.stderr)
        try:
            write_handshake(handshake_fd_of(args), protocol_error_line(mismatch))
        except OSError as exc:
            print(f"snakepool: cannot write the handshake: {exc}", file=sys.stderr)
        flush_and_exit(1)
    opts = parser().parse_args(args)
    if opts.max_workers < 1:
        parser().error("--max-workers must be at least 1")
    if opts.socket is None and opts.control_fd is None:
        parser().error(
            "nothing to serve on: give --socket PATH (gRPC), --control-fd FD (the Go pool), or both"
        )
    if opts.supervised and opts.control_fd is None:
        parser().error("--supervised needs --control-fd: the supervisor's Stop request travels on it")
    pid = os.getpid()
    handshake_fd: int | None = opts.handshake_fd
    for fd in (handshake_fd, opts.calls_fd, opts.control_fd):
        if fd is not None:
            os.set_inheritable(fd, False)
    try:
        _logging.configure(opts.worker_id or f"pid-{pid}", opts.log_fd, opts.log_level)
    except (OSError, ValueError) as exc:
        print(f"snakepool: cannot log to fd {opts.log_fd}: {exc}", file=sys.stderr)
        flush_and_exit(2)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    stopper = Stopper()
    stopper.install_signal_handlers(supervised=opts.supervised)
    _lifeline.watch_parent()

    mode: str = opts.mode
    max_workers = 1 if mode == "process" else opts.max_workers
    adapter: Adapter | None = None
    set_up = False
    server = None
    try:
        # Imported here, not at the top: a protobuf (or grpcio) that cannot be imported is reported
        # through the handshake like any other reason the worker cannot serve.
        from ._call_channel import CallChannel
        from ._control import ControlChannel
        from ._dispatch import Dispatcher

        control = None
        if opts.control_fd is not None:
            # First: it is the lifeline, also while the adapter loads.
            control = ControlChannel(
                _channel_socket(opts.control_fd, "--control-fd"), stopper.request, _lifeline.parent_gone
            )
            control.start()
        cls = load_adapter(opts.adapter)
        if mode == "thread":
            check_thread_safe(cls)
        adapter = cls()
        if isinstance(adapter, ThreadSafeAdapter):
            adapter._snakepool_max_workers = max_workers
        checker = _checker(opts, adapter, max_workers)
        adapter.setup()
        set_up = True
        if checker is not None:
            checker.check_libraries()
        channel_socket = None if opts.calls_fd is None else _channel_socket(opts.calls_fd, "--calls-fd")
        # The process profile's call channel brings its own tool thread (it runs the calls it reads).
        own_thread = channel_socket is not None and mode == "process"
        dispatcher = Dispatcher(
            adapter, opts.adapter, mode, max_workers, checker, tool_threads=0 if own_thread else None
        )
        if not dispatcher.tools:
            _log.warning("adapter %s has no @tool methods", opts.adapter)
        if opts.socket is not None:
            from ._grpc_server import serve  # the only module that imports grpc

            server = serve(dispatcher, opts.socket)
        if control is not None:
            control.attach(dispatcher)
        if channel_socket is not None:
            CallChannel(dispatcher, channel_socket).start()
    except BaseException as exc:
        _log.error("cannot start adapter %s: %s: %s", opts.adapter, type(exc).__name__, exc, exc_info=exc)
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            write_handshake(handshake_fd, adapter_error_line(type(exc).__name__, str(exc), tb))
        except OSError as hs_exc:
            _log.error("cannot write the handshake: %s", hs_exc)
        if set_up and adapter is not None:
            teardown(adapter)
        flush_and_exit(1)

    gil = gil_enabled()
    _log.info(
        "serving %s on %s (mode=%s, max_workers=%d, pid=%d, python=%s, gil=%s)",
        opts.adapter,
        _serving_on(opts),
        mode,
        max_workers,
        pid,
        python_version(),
        "enabled" if gil else "disabled",
    )
    if mode == "thread" and gil:
        _log.warning(
            "thread profile running with the GIL enabled (Python %s): calls run in parallel only while "
            "tools release the GIL (NumPy, scikit-learn, I/O); pure-Python CPU-bound tools are better "
            "served by the process profile",
            python_version(),
        )
    try:
        write_handshake(handshake_fd, serving_line(opts.socket, pid))
    except OSError as exc:
        _log.error("cannot write the handshake to fd %s: %s", handshake_fd, exc)
        flush_and_exit(1)

    request = stopper.wait()
    flush_and_exit(shut_down(dispatcher, server, request, opts.shutdown_grace, opts.socket))


def _serving_on(opts: argparse.Namespace) -> str:
    """Where the worker serves, for its log."""
    where = [] if opts.control_fd is None else ["the supervisor's channels"]
    if opts.socket is not None:
        where.append(f"gRPC on unix:{opts.socket}")
    return " and ".join(where)


def _channel_socket(fd: int, flag: str) -> socket.socket:
    """The socket of a channel on ``fd`` (given as ``flag``), checked to be a stream socket."""
    sock = socket.socket(fileno=fd)
    if sock.type != socket.SOCK_STREAM:
        raise ValueError(f"{flag} {fd} is not a stream socket")
    sock.setblocking(True)
    return sock


def _checker(opts: argparse.Namespace, adapter: Adapter, max_workers: int) -> ThreadSafetyChecker | None:
    """The thread-safety checker the options ask for (instrumenting ``adapter``), or None."""
    if not (opts.thread_safety_check or opts.thread_safety_strict):
        return None
    checker = ThreadSafetyChecker(strict=opts.thread_safety_strict, concurrent=max_workers > 1)
    wrapped = checker.instrument(adapter)
    _log.info(
        "thread-safety check on (%s); watching methods not marked @thread_safe_method: %s",
        "strict" if checker.strict else "warnings",
        ", ".join(wrapped) or "none",
    )
    return checker
