"""Tools the workflows tests need beyond the showcase adapter.

Served by the ``tests`` pool of the workflows integration tests and of the replay recorder
(``make replay-record``); this directory is the pool's working directory, so the module imports.
"""

from __future__ import annotations

import ctypes
import json
import os

from snakepool import Adapter, ToolContext, tool

__all__ = ["PipelineTools"]


class PipelineTools(Adapter):
    """Tools that fail, record their executions, stall or crash, for retries and batches."""

    @tool(
        description="Raise OSError on the first attempt, return `value` from the second on"
    )
    def flaky(self, value: object = None, ctx: ToolContext | None = None) -> object:
        assert ctx is not None
        if ctx.info.attempt <= 1:
            raise OSError(f"attempt {ctx.info.attempt} fails on purpose")
        return value

    @tool(
        description=(
            "Append {x, pid, attempt, resume} to the JSON-lines file `log`, heartbeat, and return"
            " x * 10; on the first attempt at x == stall_at, wait (up to 60 s) to be killed"
        )
    )
    def record(
        self, x: int, log: str, stall_at: int = -1, ctx: ToolContext | None = None
    ) -> int:
        assert ctx is not None
        line = {
            "x": x,
            "pid": os.getpid(),
            "attempt": ctx.info.attempt,
            "resume": ctx.resume,
        }
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
        ctx.heartbeat({"at": x})
        if x == stall_at and ctx.info.attempt == 1:
            ctx.wait_cancelled(60)
        return x * 10

    @tool(
        description="Return x * 2, but segfault (ctypes.string_at(0)) when x == poison"
    )
    def crash_on(self, x: int, poison: int) -> int:
        if x == poison:
            ctypes.string_at(0)
        return x * 2
