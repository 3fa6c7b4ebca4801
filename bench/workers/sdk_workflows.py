"""The fan-out workflow of the Temporal Python SDK contenders: the twin of the Go driver's FanOut."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

__all__ = ["FAN_OUT_NAME", "FanOut"]

FAN_OUT_NAME = "BenchFanOut"


@workflow.defn(name=FAN_OUT_NAME)
class FanOut:
    """Call an activity once per item through ``window`` lanes; results in the order of the items.

    Each lane takes the next item as soon as its previous call returned: the same sliding window as
    a Pipeline map's concurrency and the Go FanOut.
    """

    @workflow.run
    async def run(self, spec: dict[str, Any]) -> list[Any]:
        activity: str = spec["activity"]
        items: list[int] = spec["items"]
        window: int = spec["window"]
        if window < 1 or not activity:
            raise ValueError(
                f"activity must be set and window at least 1, got {activity!r} and {window}"
            )
        results: list[Any] = [None] * len(items)
        next_item = 0

        async def lane() -> None:
            nonlocal next_item
            while next_item < len(items):
                i = next_item
                next_item += 1
                results[i] = await workflow.execute_activity(
                    activity, items[i], start_to_close_timeout=timedelta(minutes=10)
                )

        await asyncio.gather(*(lane() for _ in range(min(window, len(items)))))
        return results
