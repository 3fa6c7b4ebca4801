"""The lifeline to the supervisor: its commands on stdin, and exiting when the parent dies, even
without a parent-death signal."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["EXIT_PARENT_GONE", "watch_parent"]

#: Exit status of a worker that stopped because its parent died.
EXIT_PARENT_GONE = 3

#: A command line longer than this is dropped (the supervisor's commands are a few dozen bytes).
_MAX_COMMAND = 1 << 16

_log = logging.getLogger("snakepool.lifeline")
_dying = threading.Lock()

Command = dict[str, Any]


def watch_parent(on_command: Callable[[Command], None] | None = None, poll_interval: float = 0.5) -> None:
    """Start daemon threads that read the supervisor's commands and end the process when the parent
    is gone.

    1. If stdin is a pipe or socket, it is the lifeline: a thread reads it. Each line is one command of
       the supervisor, a JSON object such as ``{"stop": {"grace_seconds": 5, "timeout_seconds": 10}}``
       (bridge.proto), handed to ``on_command``; end of file means the parent is gone (the Go
       supervisor keeps the write end open for the worker's whole life). Stdin itself is then
       replaced by /dev/null, so that neither the tools nor the processes they start can read the
       commands. A terminal or /dev/null on stdin is not watched.
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
            target=_read_lifeline, args=(lifeline, on_command), name="snakepool-stdin-watch", daemon=True
        ).start()
    threading.Thread(
        target=_poll_ppid, args=(parent, poll_interval), name="snakepool-ppid-watch", daemon=True
    ).start()


def _read_lifeline(fd: int, on_command: Callable[[Command], None] | None) -> None:
    pending = b""
    try:
        while data := os.read(fd, 65536):
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                _command(line, on_command)
            if len(pending) > _MAX_COMMAND:
                _log.warning("dropping a supervisor command of more than %d bytes", _MAX_COMMAND)
                pending = b""
    except OSError:
        pass
    parent_gone("stdin closed")


def _command(line: bytes, on_command: Callable[[Command], None] | None) -> None:
    if not line.strip():
        return
    try:
        command = json.loads(line)
    except ValueError:
        command = None
    if not isinstance(command, dict):
        _log.warning("ignoring a line on stdin that is not a supervisor command: %r", line[:200])
        return
    if on_command is None:
        _log.warning("ignoring a supervisor command (nothing handles commands yet): %r", line[:200])
        return
    try:
        on_command(command)
    except Exception:
        _log.exception("cannot handle the supervisor command %r", line[:200])


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
