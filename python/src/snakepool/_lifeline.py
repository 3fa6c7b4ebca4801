"""Exit when the parent process dies, even without a parent-death signal."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
import sys
import threading
import time

__all__ = ["EXIT_PARENT_GONE", "watch_parent"]

#: Exit status of a worker that stopped because its parent died.
EXIT_PARENT_GONE = 3

_log = logging.getLogger("snakepool.lifeline")
_dying = threading.Lock()


def watch_parent(poll_interval: float = 0.5) -> None:
    """Start daemon threads that end the process when the parent is gone.

    1. If stdin is a pipe or socket, a thread reads it; end of file means the parent is gone (the Go
       supervisor keeps the write end open for the worker's whole life). A terminal or /dev/null on
       stdin is not watched.
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
        threading.Thread(target=_read_stdin, name="snakepool-stdin-watch", daemon=True).start()
    threading.Thread(
        target=_poll_ppid, args=(parent, poll_interval), name="snakepool-ppid-watch", daemon=True
    ).start()


def _read_stdin() -> None:
    try:
        while os.read(0, 65536):
            pass
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
