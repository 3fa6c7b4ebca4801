"""Adapters of the tests of snakepool.testing; worker processes import this module (cwd is tests/)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any

from snakepool import Adapter, ThreadSafeAdapter, ToolContext, thread_safe_method, tool


class Recorded(Adapter):
    """Tools whose behaviour a test can observe from the outside (through their results)."""

    def setup(self) -> None:
        self.setups = getattr(self, "setups", 0) + 1
        self.ran: list[str] = []
        self.torn_down = False

    def teardown(self) -> None:
        self.torn_down = True

    @tool
    def steps(self, count: int, ctx: ToolContext, hold_at: int = 0) -> dict[str, Any]:
        """Heartbeat {"step": i} with progress for each step, resuming after ctx.resume's step; after
        the heartbeat of step `hold_at`, wait (up to 30 s) for the call to be cancelled."""
        self.ran.append("steps")
        start = ctx.resume["step"] if ctx.resume else 0
        for step in range(start + 1, count + 1):
            ctx.check_cancelled()
            ctx.heartbeat({"step": step}, progress=step / count)
            if step == hold_at:
                ctx.wait_cancelled(30)
        return {"started_after": start, "count": count}

    @tool
    def until_cancelled(self, ctx: ToolContext) -> None:
        """Heartbeat, then block until cancelled; raises Cancelled."""
        self.ran.append("until_cancelled")
        ctx.heartbeat("waiting")
        ctx.wait_cancelled(30)
        ctx.check_cancelled()

    @tool
    def returns_when_cancelled(self, ctx: ToolContext) -> str:
        """Heartbeat, wait (up to 30 s) for the cancel, and return a result all the same."""
        ctx.heartbeat("waiting")
        ctx.wait_cancelled(30)
        return "returned anyway"

    @tool
    def context(self, ctx: ToolContext) -> dict[str, Any]:
        """What the tool sees of its context."""
        return {
            "resume": ctx.resume,
            "info": {
                "workflow_id": ctx.info.workflow_id,
                "run_id": ctx.info.run_id,
                "activity_id": ctx.info.activity_id,
                "activity_type": ctx.info.activity_type,
                "attempt": ctx.info.attempt,
                "task_queue": ctx.info.task_queue,
                "namespace": ctx.info.namespace,
            },
            "tool": ctx.tool,
        }

    @tool
    def bare_heartbeat(self, ctx: ToolContext) -> None:
        """One heartbeat without details or progress."""
        ctx.heartbeat()

    @tool
    def typed(self, n: int, tags: list[str] | None = None) -> dict[str, Any]:
        """Echo typed arguments (for argument binding)."""
        return {"n": n, "tags": tags}

    @tool
    def pair(self) -> tuple[int, int]:
        """A tuple, which travels as a JSON list."""
        return (1, 2)

    @tool
    def not_json(self) -> Any:
        """A set, which is not JSON."""
        return {1, 2}

    @tool
    def fails(self, message: str) -> None:
        """Raise ValueError(message)."""
        raise ValueError(message)

    @tool
    def ran_tools(self) -> list[str]:
        """The tools this instance ran, in order."""
        return list(self.ran)

    @tool
    def leaves_a_thread(self, ctx: ToolContext) -> str:
        """Return while a thread it started heartbeats later (those heartbeats are dropped)."""
        started = threading.Event()
        release = threading.Event()
        self.late_thread_done = threading.Event()

        def late() -> None:
            started.set()
            release.wait(10)
            ctx.heartbeat("late")
            self.late_thread_done.set()

        threading.Thread(target=late, daemon=True).start()
        started.wait(10)
        self.release_late_thread = release
        return "returned"

    @tool
    def prints(self, text: str) -> None:
        """Print to stdout and log a line."""
        print(text, flush=True)
        import logging

        logging.getLogger("sp_testing").warning("logged %s", text)

    @tool
    def crash(self) -> None:
        """Kill this worker process."""
        os._exit(7)

    @tool
    def child(self) -> int:
        """Start a child process that would run for a minute; return its pid."""
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        return proc.pid

    @tool
    def sleeps(self, seconds: float, ctx: ToolContext) -> None:
        """Sleep (cancellably)."""
        ctx.sleep(seconds)

    @tool
    def stops_slowly(self, seconds: float, cleanup_seconds: float, ctx: ToolContext) -> None:
        """Sleep (cancellably); once cancelled, take ``cleanup_seconds`` to clean up, then end."""
        if ctx.wait_cancelled(seconds):
            time.sleep(cleanup_seconds)  # the cleanup a cancelled tool does before it returns
            ctx.check_cancelled()


class Counting(ThreadSafeAdapter):
    """A thread-safe adapter, for get_stats() and the thread profile."""

    __thread_safe__ = True

    @thread_safe_method
    @tool
    def stats(self) -> dict[str, Any]:
        """The adapter's request statistics."""
        return self.get_stats()
