"""Adapters used by the tests; the server subprocesses import this module (tests/ is on PYTHONPATH)."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Literal

from snakepool import Adapter, NonRetryableError, ToolContext, thread_safe_method, tool
from snakepool.examples.showcase import ShowcaseAdapter


class QuotaExceeded(NonRetryableError):
    """A user-defined non-retryable error."""


class TestAdapter(ShowcaseAdapter):
    """The showcase plus tools that let the tests observe the bridge from inside."""

    __thread_safe__ = True

    def setup(self) -> None:
        super().setup()
        self.racy_counter = 0
        if os.environ.get("SP_NOISY_SETUP"):
            print('{"protocol": 1, "error": "not a handshake"}', flush=True)
            print("noise on stderr", file=sys.stderr, flush=True)
        if os.environ.get("SP_FAIL_SETUP"):
            raise RuntimeError("setup failed on purpose")
        time.sleep(float(os.environ.get("SP_SETUP_SECONDS", "0")))

    def teardown(self) -> None:
        marker = os.environ.get("SP_TEARDOWN_MARKER")
        if marker:
            with open(marker, "w") as f:
                f.write("teardown ran")
        _record("teardown ran")

    @thread_safe_method
    @tool(description="compute(x), reporting when it started and ended (time.monotonic)")
    def timed_compute(self, x: float, ctx: ToolContext) -> dict[str, Any]:
        start = time.monotonic()
        value = self.compute(x=x, ctx=ctx)
        return {
            "start": start,
            "end": time.monotonic(),
            "value": value,
            "thread": threading.current_thread().name,
        }

    @thread_safe_method
    @tool
    def racy_increment(self) -> int:
        """Increment a counter WITHOUT the lock, with a pause between read and write (loses updates)."""
        value = self.racy_counter
        time.sleep(0.002)
        self.racy_counter = value + 1
        return self.racy_counter

    @thread_safe_method
    @tool
    def get_racy_counter(self) -> int:
        """The unlocked counter."""
        return self.racy_counter

    @tool(description="Not marked thread-safe: heartbeat 'started', then wait for cancellation")
    def unmarked_wait(self, ctx: ToolContext) -> None:
        ctx.heartbeat("started")
        ctx.wait_cancelled()
        ctx.check_cancelled()

    @thread_safe_method
    @tool(description="Heartbeat 'started', then spin in pure Python (holding the GIL) until cancelled")
    def spin(self, ctx: ToolContext) -> int:
        ctx.heartbeat("started")
        n = 0
        while not ctx.cancelled:
            n += 1
        return n

    @thread_safe_method
    @tool(description="Heartbeat 'started', wait for the cancel request, then return 42 anyway")
    def ignore_cancel(self, ctx: ToolContext) -> int:
        ctx.heartbeat("started")
        ctx.wait_cancelled()
        return 42

    @thread_safe_method
    @tool(description="Return what the context says about the call")
    def whoami(self, ctx: ToolContext) -> dict[str, Any]:
        return {
            "call_id": ctx.call_id,
            "tool": ctx.tool,
            "info": dataclasses.asdict(ctx.info),
            "resume": ctx.resume,
            "thread": threading.current_thread().name,
        }

    @thread_safe_method
    @tool(description="Log through ctx.logger and a module logger, and print garbage to stdout and stderr")
    def chatty(self, message: str, ctx: ToolContext) -> str:
        ctx.logger.info("ctx says %s", message)
        logging.getLogger("sp_adapters").warning("module logger says %s", message)
        try:
            raise KeyError("inner")
        except KeyError:
            ctx.logger.exception("with a traceback")
        print('{"protocol": 1, "address": "unix:/nowhere"}')
        print("\x00\x01 binary-ish junk", file=sys.stderr)
        sys.stdout.write("no newline at the end")
        sys.stdout.flush()
        return "ok"

    @thread_safe_method
    @tool(description="Return a value that is not JSON-serialisable")
    def bad_result(self, kind: Literal["set", "object", "nan"] = "set") -> Any:
        if kind == "set":
            return {1, 2}
        if kind == "nan":
            return float("nan")
        return object()

    @thread_safe_method
    @tool(description="Heartbeat details that are not JSON-serialisable")
    def bad_heartbeat(self, ctx: ToolContext) -> None:
        ctx.heartbeat({"when": object()})

    @thread_safe_method
    @tool(description="Raise QuotaExceeded, a NonRetryableError subclass")
    def quota(self) -> None:
        raise QuotaExceeded("quota of 3 calls exceeded")

    @thread_safe_method
    @tool(name="typed-tool", description="Typed parameters with defaults")
    def typed(
        self,
        a: int,
        b: float = 1.5,
        tags: list[str] | None = None,
        mode: Literal["x", "y"] = "x",
        weights: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        return {"a": a, "b": b, "tags": tags, "mode": mode, "weights": weights, "b_type": type(b).__name__}

    @thread_safe_method
    @tool(description="Return at once, leaving a thread that heartbeats every millisecond for `seconds`")
    def leave_heartbeating(self, ctx: ToolContext, seconds: float) -> None:
        def beat() -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                ctx.heartbeat("late")
                time.sleep(0.001)

        threading.Thread(target=beat, daemon=True).start()

    @thread_safe_method
    @tool(description="Start `sleep 300` in this process group and return its pid")
    def spawn_child(self) -> int:
        child = subprocess.Popen(["sleep", "300"])
        return child.pid

    @tool(description="Import sqlite3 (a library the thread-safety checker knows as unsafe)")
    def use_sqlite(self) -> str:
        import sqlite3

        return sqlite3.sqlite_version

    @thread_safe_method
    @tool(description="Heartbeat 'started', wait for the cancel, take `delay` s more, record 'tool ended'")
    def slow_to_cancel(self, ctx: ToolContext, delay: float) -> None:
        ctx.heartbeat("started")
        ctx.wait_cancelled()
        time.sleep(delay)
        _record("tool ended")
        ctx.check_cancelled()

    @thread_safe_method
    @tool(description="Heartbeat 'started', then sleep `seconds` without looking at ctx.cancelled")
    def hold(self, ctx: ToolContext, seconds: float) -> float:
        ctx.heartbeat("started")
        time.sleep(seconds)
        _record("hold ended")
        return seconds

    @thread_safe_method
    @tool(
        description="Fork a child and exec `sleep 60`; return their pids (the forked one SIGTERMed at once?)"
    )
    def fork_and_exec_children(self, term_at_once: bool = False) -> list[int]:
        forked = os.fork()
        if forked == 0:  # the child: sleep until a signal ends it
            time.sleep(60)
            os._exit(0)
        if term_at_once:  # while the child may still be coming out of the fork
            os.kill(forked, signal.SIGTERM)
        execd = subprocess.Popen(["sleep", "60"])
        return [forked, execd.pid]

    @thread_safe_method
    @tool(description="Return n, or raise ValueError if n is odd")
    def even_only(self, n: int) -> int:
        if n % 2:
            raise ValueError(f"{n} is odd")
        return n

    @thread_safe_method
    @tool(description="The value of environment variable `name`, or None")
    def getenv(self, name: str) -> str | None:
        return os.environ.get(name)

    @thread_safe_method
    @tool(description="What the tool reads on stdin")
    def read_stdin(self) -> str:
        return sys.stdin.read()

    @thread_safe_method
    @tool(description="The imported modules whose top-level package is one of `packages`")
    def loaded_modules(self, packages: list[str]) -> list[str]:
        return sorted(m for m in list(sys.modules) if m.partition(".")[0] in packages)


def _record(event: str) -> None:
    """Append ``event`` to the file named by SP_EVENTS, if set (the order of events in a worker)."""
    path = os.environ.get("SP_EVENTS")
    if path:
        with open(path, "a") as f:
            f.write(event + "\n")


class PlainAdapter(Adapter):
    """An adapter that does not declare thread safety."""

    @tool
    def hello(self, name: str = "world") -> str:
        """Say hello."""
        return f"hello {name}"


class NotAnAdapter:
    """Not derived from Adapter."""
