"""Tools the workflows tests need beyond the showcase adapter.

Served by the ``tests`` pool of the workflows integration tests and of the replay recorder
(``make replay-record``); this directory is the pool's working directory, so the module imports.
"""

from __future__ import annotations

from snakepool import Adapter, ToolContext, tool

__all__ = ["PipelineTools"]


class PipelineTools(Adapter):
    """A tool that fails its first attempt, so that a Temporal retry is part of the run."""

    @tool(
        description="Raise OSError on the first attempt, return `value` from the second on"
    )
    def flaky(self, value: object = None, ctx: ToolContext | None = None) -> object:
        assert ctx is not None
        if ctx.info.attempt <= 1:
            raise OSError(f"attempt {ctx.info.attempt} fails on purpose")
        return value
