"""The worker's life after the handshake: waiting for a stop request, then stopping in order.

Who may stop the worker depends on who runs it:

- **Supervised** (``--supervised``, as the Go pool runs every worker): the supervisor owns the
  lifecycle. SIGTERM, SIGINT and SIGHUP are logged and ignored, so that a service manager signalling
  every process of the service at once (systemd's ``KillMode=control-group``) cannot cut the running
  calls short: the Go side finishes them and then sends the Stop request on the control channel
  (``_control``), with the grace its stop timeout leaves.
- **By hand**: SIGTERM and SIGINT stop the worker (a second one exits at once).

Either way the stop goes in the same order: refuse new calls, cancel the running ones, wait up to
the grace for them to end, then stop the tool threads and run ``teardown()``. ``teardown()`` never
runs beside a tool: if a call is still running after the grace (its tool ignores ``ctx.cancelled``),
teardown is skipped with a warning and the process exits with :data:`EXIT_TEARDOWN_SKIPPED`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from typing import NamedTuple, NoReturn, Protocol

from ._adapter import Adapter

__all__ = [
    "EXIT_TEARDOWN_SKIPPED",
    "StopRequest",
    "Stopper",
    "flush_and_exit",
    "shut_down",
    "teardown",
]

#: Exit status of a worker that stopped without running teardown, because calls were still running
#: when their grace ran out.
EXIT_TEARDOWN_SKIPPED = 4

#: The signals a supervised worker ignores.
_GROUP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_log = logging.getLogger("snakepool.server")


class _Server(Protocol):
    def stop(self, grace: float | None) -> threading.Event: ...


class _Dispatcher(Protocol):
    adapter: Adapter

    def stop(self, reason: str) -> int: ...

    def wait_idle(self, timeout: float) -> bool: ...

    def active_count(self) -> int: ...

    def stop_threads(self) -> None: ...


class StopRequest(NamedTuple):
    """Why and how to stop."""

    #: Why, for the logs (e.g. "received SIGTERM").
    reason: str
    #: Seconds the running calls get to end once cancelled; None: the server's ``--shutdown-grace``.
    grace: float | None = None
    #: Seconds until the supervisor kills the process; None when unknown.
    timeout: float | None = None


class Stopper:
    """Collects the requests to stop: the supervisor's Stop request (``_control``), SIGTERM and
    SIGINT when not supervised, or :meth:`request`. The first request is the one acted on."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._requests: list[StopRequest] = []

    def install_signal_handlers(self, supervised: bool) -> None:
        """Stop on SIGTERM and SIGINT; or, ``supervised``, ignore SIGTERM, SIGINT and SIGHUP (call
        from the main thread).

        The signals are caught, not set to SIG_IGN, so that the processes the tools start do not
        inherit ignoring them (a caught signal is reset by exec); a child forked without exec (a
        ``multiprocessing`` fork) gets the default handlers back at once (the signals are blocked
        around the fork, so none is lost in between).
        """
        if not supervised:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
            return
        for sig in _GROUP_SIGNALS:
            signal.signal(sig, _ignore_signal)
        os.register_at_fork(
            before=_block_group_signals,
            after_in_parent=_unblock_group_signals,
            after_in_child=_restore_default_handlers,
        )

    def _on_signal(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self._requests:
            _log.warning("second signal %s during shutdown; exiting now", name)
            flush_and_exit(1)
        self.request(StopRequest(f"received {name}"))

    def request(self, request: StopRequest) -> None:
        """Ask the worker to stop (the first request is kept)."""
        self._requests.append(request)
        self._event.set()

    def wait(self) -> StopRequest:
        """Block until a stop is requested; return the first request."""
        while not self._event.wait(1.0):  # wakes now and then so that signal handlers run
            pass
        return self._requests[0]


def _ignore_signal(signum: int, frame: object) -> None:
    _log.warning(
        "ignoring %s: the supervisor owns this worker's lifecycle (it finishes the running calls, "
        "then asks the worker to stop)",
        signal.Signals(signum).name,
    )


#: The forking thread's signal mask from before the fork (see _block_group_signals).
_fork_mask = threading.local()


def _block_group_signals() -> None:
    """Before a fork: block the group's signals on the forking thread, so that the child cannot get
    one before its handlers are back to the defaults (the interpreter would drop it)."""
    _fork_mask.previous = signal.pthread_sigmask(signal.SIG_BLOCK, _GROUP_SIGNALS)


def _unblock_group_signals() -> None:
    previous = getattr(_fork_mask, "previous", None)
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _restore_default_handlers() -> None:
    """In a forked child: the default handlers, then the signals that arrived meanwhile."""
    for sig in _GROUP_SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, signal.SIG_DFL)
    _unblock_group_signals()


def shut_down(
    dispatcher: _Dispatcher,
    server: _Server | None,
    request: StopRequest,
    default_grace: float,
    socket_path: str | None,
) -> int:
    """Stop serving and return the exit status: cancel the running calls and give them the grace to
    end; then stop the gRPC server (if any) and the tool threads and run the adapter's teardown
    (0), or, if calls are still running, skip teardown (:data:`EXIT_TEARDOWN_SKIPPED`). Remove the
    gRPC socket."""
    began = time.monotonic()
    grace = default_grace if request.grace is None else request.grace
    running = dispatcher.stop(f"worker stopping ({request.reason})")
    _log.info("%s; stopping (%d running calls cancelled, %.1fs grace)", request.reason, running, grace)
    try:
        if not dispatcher.wait_idle(grace):
            _log.warning(
                "%d call(s) still running %.1fs after they were cancelled (a tool ignores ctx.cancelled); "
                "exiting without teardown(), which must not run beside a tool",
                dispatcher.active_count(),
                grace,
            )
            return EXIT_TEARDOWN_SKIPPED
        if server is not None:
            server.stop(1.0).wait(2.0)  # the calls are over: what is left are their RPCs' last messages
        dispatcher.stop_threads()
        if request.timeout is not None:
            _log.info(
                "running teardown (%.1fs left before the supervisor kills the process)",
                max(0.0, request.timeout - (time.monotonic() - began)),
            )
        teardown(dispatcher.adapter)
    finally:
        if socket_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(socket_path)
    _log.info("stopped")
    return 0


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
