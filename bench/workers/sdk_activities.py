"""The tools of ``bench_tools`` as Temporal Python SDK activities (synchronous: they run in the
worker's activity executor, a ProcessPoolExecutor or a ThreadPoolExecutor)."""

from __future__ import annotations

from temporalio import activity

import bench_tools

__all__ = ["ACTIVITIES", "is_prime", "square"]


@activity.defn(name="square")
def square(x: int) -> int:
    """x * x."""
    return bench_tools.square(x)


@activity.defn(name="is_prime")
def is_prime(n: int) -> bool:
    """Primality by trial division."""
    return bench_tools.is_prime(n)


ACTIVITIES = [square, is_prime]
