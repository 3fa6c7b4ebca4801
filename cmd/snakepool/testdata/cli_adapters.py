"""Adapters of the tests of the snakepool command (cmd/snakepool); the tests run it with --dir testdata."""

from __future__ import annotations

import sys
import time

from snakepool import Adapter, ToolContext, tool


class Talkative(Adapter):
    """A tool that prints and logs, and one that counts its heartbeats."""

    @tool
    def speak(self, text: str, ctx: ToolContext) -> str:
        """Print text to stdout and stderr, and log it with ctx.logger."""
        print(f"stdout says {text}", flush=True)
        print(f"stderr says {text}", file=sys.stderr, flush=True)
        ctx.logger.info("logger says %s", text)
        return text

    @tool
    def beats(self, count: int, ctx: ToolContext) -> int:
        """Heartbeat `count` times without progress or details."""
        for _ in range(count):
            ctx.heartbeat()
        return count

    @tool
    def stubborn(self, seconds: float, ctx: ToolContext) -> None:
        """Heartbeat, then sleep `seconds` without looking at ctx.cancelled."""
        ctx.heartbeat("started")
        time.sleep(seconds)


class BrokenSetup(Adapter):
    """An adapter whose setup() raises."""

    def setup(self) -> None:
        raise RuntimeError("the model file models/latest.pt is missing")

    @tool
    def noop(self) -> None:
        """Nothing."""


class NoTools(Adapter):
    """An adapter without tools."""
