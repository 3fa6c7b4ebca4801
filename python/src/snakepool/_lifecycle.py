"""The worker's life after the handshake: waiting for a stop request, then stopping in order."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from typing import NoReturn, Protocol

from ._adapter import Adapter

__all__ = ["Stopper", "flush_and_exit", "shut_down", "teardown"]

_log = logging.getLogger("snakepool.server")


class _Server(Protocol):
    def stop(self, grace: float | None) -> threading.Event: ...


class _Dispatcher(Protocol):
    adapter: Adapter

    def stop(self, reason: str) -> int: ...

    def stop_threads(self) -> None: ...


class Stopper:
    """Collects the requests to stop: SIGTERM and SIGINT, or :meth:`request` (e.g. from a command of
    the supervisor). A second signal during the shutdown exits at once."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reasons: list[str] = []

    def install_signal_handlers(self) -> None:
        """Stop on SIGTERM and SIGINT (call from the main thread)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self._reasons:
            _log.warning("second signal %s during shutdown; exiting now", name)
            flush_and_exit(1)
        self.request(name)

    def request(self, reason: str) -> None:
        """Ask the worker to stop, saying why (the first reason given is kept)."""
        self._reasons.append(reason)
        self._event.set()

    def wait(self) -> str:
        """Block until a stop is requested; return its reason."""
        while not self._event.wait(1.0):  # wakes now and then so that signal handlers run
            pass
        return self._reasons[0]


def shut_down(dispatcher: _Dispatcher, server: _Server, reason: str, grace: float, socket_path: str) -> None:
    """Stop serving: cancel the running calls, give them ``grace`` seconds to end, stop the tool
    threads, run the adapter's teardown and remove the socket."""
    running = dispatcher.stop(f"worker stopping ({reason})")
    _log.info("received %s; stopping (%d running calls cancelled, %.1fs grace)", reason, running, grace)
    server.stop(grace).wait(grace + 1)
    dispatcher.stop_threads()
    teardown(dispatcher.adapter)
    with contextlib.suppress(OSError):
        os.unlink(socket_path)
    _log.info("stopped")


def teardown(adapter: Adapter) -> None:
    """Run the adapter's teardown; a failure is logged, not raised."""
    try:
        adapter.teardown()
    except Exception:
        _log.exception("teardown of the adapter failed")


def flush_and_exit(code: int) -> NoReturn:
    """Flush the logs and the standard streams, then leave at once with ``code``."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
