"""Tools for the reliability tests (pools, worker, cmd/worker): tools that leave child processes
behind, crash on a poison input, get stuck without heartbeats, or send oversized heartbeats. Put
this directory on PYTHONPATH and use the adapter "reliability_adapter:ReliabilityAdapter"."""

import ctypes
import multiprocessing
import os
import subprocess
import time

from snakepool import ThreadSafeAdapter, ToolContext, tool

# The children started, kept so that their Popen objects are not collected.
_children: list[object] = []

KINDS = ("popen", "setsid", "scrubbed", "scrubbed_setsid", "double_fork", "multiprocessing")


def sleep_forever() -> None:
    """The target of the multiprocessing child."""
    time.sleep(300)


def _descendants(root: int) -> list[int]:
    """The pids of the live descendants of root, read from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in (b"Z", b"X"):
            parents[int(entry)] = int(fields[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        kids = [child for child, parent in parents.items() if parent == pid]
        found.extend(kids)
        frontier.extend(kids)
    return found


class ReliabilityAdapter(ThreadSafeAdapter):
    """Misbehaving tools for the reliability tests (usable in both profiles)."""

    __thread_safe__ = True

    @tool
    def spawn(self, kinds: list[str]) -> dict[str, object]:
        """Start one child process per kind, each sleeping 300 s, and return their pids by kind
        with "tree": every live descendant of this worker afterwards.

        popen: subprocess.Popen(["sleep", "300"]); setsid: the same in a new session;
        scrubbed: with an empty environment; scrubbed_setsid: both; double_fork: a shell that
        starts sleep in the background and exits (the sleep is orphaned at once);
        multiprocessing: a spawn-context child (which also starts the resource_tracker).
        """
        pids: dict[str, object] = {}
        clean_env = {"PATH": os.defpath}
        for kind in kinds:
            if kind == "popen":
                proc = subprocess.Popen(["sleep", "300"])
            elif kind == "setsid":
                proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
            elif kind == "scrubbed":
                proc = subprocess.Popen(["sleep", "300"], env=clean_env)
            elif kind == "scrubbed_setsid":
                proc = subprocess.Popen(["sleep", "300"], env=clean_env, start_new_session=True)
            elif kind == "double_fork":
                out = subprocess.run(
                    ["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"],
                    capture_output=True,
                    check=True,
                    text=True,
                )
                pids[kind] = int(out.stdout.strip())
                continue
            elif kind == "multiprocessing":
                child = multiprocessing.get_context("spawn").Process(target=sleep_forever, daemon=False)
                child.start()
                _children.append(child)
                pids[kind] = child.pid
                continue
            else:
                raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
            _children.append(proc)
            pids[kind] = proc.pid
        pids["tree"] = _descendants(os.getpid())
        pids["worker"] = os.getpid()
        return pids

    @tool
    def spawn_and_hang(self, ctx: ToolContext, kinds: list[str], seconds: float) -> None:
        """spawn(kinds), heartbeat its result, then sleep `seconds` ignoring cancellation."""
        ctx.heartbeat(self.spawn(kinds))
        time.sleep(seconds)

    @tool
    def crash_on(self, x: int, poison: int) -> int:
        """Return x * 2, but segfault (ctypes.string_at(0)) when x == poison."""
        if x == poison:
            ctypes.string_at(0)
        return x * 2

    @tool
    def stuck(self, ctx: ToolContext, seconds: float, beats: int = 0) -> dict:
        """Heartbeat `beats` times, then sleep `seconds` without heartbeats, stopping early when
        cancelled."""
        for i in range(beats):
            ctx.heartbeat({"beat": i})
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ctx.cancelled:
                return {"cancelled": True}
            time.sleep(0.02)
        return {"cancelled": False}

    @tool
    def big_heartbeat(self, ctx: ToolContext, size: int, seconds: float = 30) -> None:
        """Heartbeat details of about `size` bytes, then wait up to `seconds` for cancellation."""
        ctx.heartbeat({"blob": "x" * size})
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not ctx.cancelled:
            time.sleep(0.02)

    @tool
    def exit_process(self, code: int) -> None:
        """End the process at once with exit code `code`."""
        os._exit(code)

    @tool
    def pid(self) -> int:
        """The worker's process id."""
        return os.getpid()
