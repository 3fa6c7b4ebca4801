"""The tools every contender of `make bench` runs: the same Python code behind snakepool and the SDK.

Plain functions, no imports beyond the standard library: ``bench_adapter`` serves them from a
snakepool pool, ``sdk_activities`` wraps them as Temporal Python SDK activities.
"""

from __future__ import annotations

import math

__all__ = ["echo", "is_prime", "noop", "square"]


def square(x: int) -> int:
    """The trivial tool of the fan-out benchmark."""
    return x * x


def is_prime(n: int) -> bool:
    """Primality by trial division by every odd number up to the square root: CPU-bound, GIL held."""
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    return all(n % d for d in range(3, math.isqrt(n) + 1, 2))


def noop() -> None:
    """Nothing: the floor of a call."""


def echo(data: str) -> str:
    """Return the payload: it travels both ways."""
    return data
