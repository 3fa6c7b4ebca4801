"""Tools for the chaos suite (chaos/, `make chaos`). Put this directory on PYTHONPATH and use the
adapter "chaos_adapter:ChaosAdapter".

Every tool appends one JSON line per event to the file `record` (one write to a file opened with
O_APPEND, so lines from many processes never interleave): "start" when an execution begins and
"end" when it returns, each with the activity's workflow id, activity id and attempt, the item and
the process id. The suite reads the file to know which item runs in which process (to kill it),
to prove that a completed activity never ran again, and to find every process a tool started.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import subprocess
import time
from typing import Any

from snakepool import Adapter, ToolContext, tool

__all__ = ["ChaosAdapter", "expected"]

# Memory a leaking tool keeps, and child process objects kept so that they are not collected.
_hoard: list[bytes] = []
_children: list[object] = []

# scrubbed_setsid (a new session and an empty environment) is what docs/reliability.md lists as
# out of reach of a SIGKILL of the Go worker: the suite's own test uses it to show that its orphan
# count sees such a process.
CHILD_KINDS = ("popen", "setsid", "scrubbed", "scrubbed_setsid", "double_fork", "multiprocessing")


def expected(item: int) -> int:
    """The value every tool returns for `item` (the suite computes the same in Go)."""
    return (item * 2654435761) % 4294967296


def _result(item: int) -> dict[str, int]:
    return {"item": item, "value": expected(item)}


def _start_time(pid: int) -> int:
    """The start time of pid in clock ticks since boot (/proc/PID/stat field 22), which tells a
    process from a later one that reuses its pid; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _record(path: str, event: str, ctx: ToolContext, item: int, **extra: Any) -> None:
    line = {
        "ev": event,
        "workflow_id": ctx.info.workflow_id,
        "activity_id": ctx.info.activity_id,
        "attempt": ctx.info.attempt,
        "item": item,
        "pid": os.getpid(),
        "t": time.time(),
        **extra,
    }
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    finally:
        os.close(fd)


def _sleep_target(seconds: float) -> None:
    """The target of the multiprocessing child."""
    time.sleep(seconds)


def _spawn(kinds: list[str], seconds: float) -> list[int]:
    """Start one child per kind, each sleeping `seconds`, and return their pids."""
    pids: list[int] = []
    sleep = ["sleep", str(seconds)]
    for kind in kinds:
        if kind == "popen":
            proc = subprocess.Popen(sleep)
        elif kind == "setsid":
            proc = subprocess.Popen(sleep, start_new_session=True)
        elif kind == "scrubbed":
            proc = subprocess.Popen(sleep, env={"PATH": os.defpath})
        elif kind == "scrubbed_setsid":
            proc = subprocess.Popen(sleep, env={"PATH": os.defpath}, start_new_session=True)
        elif kind == "double_fork":
            out = subprocess.run(
                ["sh", "-c", f"sleep {seconds} >/dev/null 2>&1 & echo $!"],
                capture_output=True,
                check=True,
                text=True,
            )
            pids.append(int(out.stdout.strip()))
            continue
        elif kind == "multiprocessing":
            child = multiprocessing.get_context("spawn").Process(target=_sleep_target, args=(seconds,))
            child.start()
            _children.append(child)
            pids.append(child.pid or 0)
            continue
        else:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(CHILD_KINDS)}")
        _children.append(proc)
        pids.append(proc.pid)
    return pids


class ChaosAdapter(Adapter):
    """Tools that work, leak, crash, ignore cancellation and start children, on purpose."""

    @tool
    def work(self, ctx: ToolContext, item: int, seconds: float, record: str) -> dict[str, int]:
        """Sleep `seconds` (stopping early with Cancelled when cancelled) and return the item's
        value."""
        _record(record, "start", ctx, item)
        ctx.sleep(seconds)
        _record(record, "end", ctx, item)
        return _result(item)

    @tool
    def leak(self, ctx: ToolContext, item: int, mb: int, seconds: float, record: str) -> dict[str, int]:
        """Keep `mb` MiB more (written, so resident) for the life of the process, then work."""
        _record(record, "start", ctx, item)
        _hoard.append(b"\x01" * (mb << 20))
        ctx.sleep(seconds)
        _record(record, "end", ctx, item, hoard_mb=len(_hoard) * mb)
        return _result(item)

    @tool
    def crash_on(self, ctx: ToolContext, item: int, poison: int, record: str) -> dict[str, int]:
        """Return the item's value, but segfault (ctypes.string_at(0)) when item == poison."""
        _record(record, "start", ctx, item)
        if item == poison:
            ctypes.string_at(0)
        _record(record, "end", ctx, item)
        return _result(item)

    @tool
    def spawn_children(
        self, ctx: ToolContext, item: int, kinds: list[str], seconds: float, child_seconds: float, record: str
    ) -> dict[str, int]:
        """Start one child per kind (each sleeping `child_seconds`, left running when the tool
        returns), record their pids and start times, then work for `seconds`."""
        pids = _spawn(kinds, child_seconds)
        children = [[pid, _start_time(pid)] for pid in pids]
        _record(record, "start", ctx, item, children=children)
        ctx.sleep(seconds)
        _record(record, "end", ctx, item)
        return _result(item)

    @tool
    def ignore_cancel(self, ctx: ToolContext, item: int, seconds: float, record: str) -> dict[str, int]:
        """Start a child (`sleep`), then sleep `seconds` without ever looking at cancellation."""
        pids = _spawn(["popen"], seconds)
        _record(record, "start", ctx, item, children=[[pid, _start_time(pid)] for pid in pids])
        time.sleep(seconds)
        _record(record, "end", ctx, item)
        return _result(item)
