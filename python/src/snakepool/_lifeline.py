"""The lifeline to the parent: exiting when it dies, even without a parent-death signal.

A worker the Go pool starts has its control channel as its lifeline (``_control``: its end of file
calls :func:`parent_gone`); a server started by hand may have its stdin, when it is a pipe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
import sys
import threading
import time

__all__ = ["EXIT_PARENT_GONE", "parent_gone", "watch_parent"]

#: Exit status of a worker that stopped because its parent died.
EXIT_PARENT_GONE = 3

_log = logging.getLogger("snakepool.lifeline")
_dying = threading.Lock()


def watch_parent(poll_interval: float = 0.5) -> None:
    """Start daemon threads that end the process when the parent is gone.

    1. If stdin is a pipe or socket, it is a lifeline: a thread reads it, and its end of file means
       the parent is gone (a parent that holds the write end open for the worker's whole life, as
       ``snakepool.testing`` does). What arrives on it is discarded: the Go pool's commands travel
       on the control channel. Stdin itself is replaced by /dev/null, so that neither the tools nor
       the processes they start read it. A terminal or /dev/null on stdin (the Go pool's workers)
       is not watched.
    2. A thread polls ``os.getppid()``; a change means the parent died and the process was reparented.

    On parent death the process kills the other members of its process group (when it leads one)
    and its direct children, then leaves with ``os._exit(EXIT_PARENT_GONE)``, skipping teardown.
    """
    parent = os.getppid()
    try:
        mode = os.fstat(0).st_mode
        watch_stdin = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
    except OSError:
        watch_stdin = False
    if watch_stdin:
        lifeline = os.dup(0)  # not inherited by the processes the tools start (PEP 446)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        threading.Thread(
            target=_read_lifeline, args=(lifeline,), name="snakepool-stdin-watch", daemon=True
        ).start()
    threading.Thread(
        target=_poll_ppid, args=(parent, poll_interval), name="snakepool-ppid-watch", daemon=True
    ).start()


def _read_lifeline(fd: int) -> None:
    warned = False
    try:
        while os.read(fd, 65536):
            if not warned:
                _log.warning(
                    "ignoring what arrives on stdin (the supervisor's commands travel on the control channel)"
                )
                warned = True
    except OSError:
        pass
    parent_gone("stdin closed")


def _poll_ppid(parent: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        now = os.getppid()
        if now != parent:
            parent_gone(f"parent {parent} exited (now reparented to {now})")


def parent_gone(reason: str) -> None:
    """Kill our process group members and children, then exit at once."""
    if not _dying.acquire(blocking=False):
        return
    try:
        _log.error("parent process is gone (%s); exiting", reason)
        for handler in logging.getLogger().handlers:
            handler.flush()
        _kill_descendants()
    finally:
        try:
            sys.stderr.flush()
        finally:
            os._exit(EXIT_PARENT_GONE)


def _kill_descendants() -> None:
    me = os.getpid()
    leader = os.getpgrp() == me
    targets: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = []
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ppid, pgrp = int(fields[1]), int(fields[2])
        if ppid == me or (leader and pgrp == me):
            targets.add(int(entry))
    for pid in targets:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if not entries and leader:
        # No /proc: signal the group; our own SIGTERM handler only sets a flag, and we exit next.
        with contextlib.suppress(OSError):
            os.killpg(me, signal.SIGTERM)
