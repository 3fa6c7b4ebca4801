"""What one run of the harness measures, and how much of it: the full run and the smoke run."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FULL", "SMOKE", "Plan", "primes_from"]


@dataclass(frozen=True)
class Plan:
    """The sizes of one run. Every end-to-end figure is the median of ``rounds`` alternating rounds."""

    name: str
    rounds: int
    slots: int  # activity slots of every fan-out contender
    fanout_items: int
    fanout_window: int  # items in flight at once (a Pipeline map's concurrency)
    batch_size: int  # map.batch_size of the batched snakepool contender
    cpu_count: int  # numbers tested for primality per round
    cpu_from: int  # the numbers: the first cpu_count primes from here (worst cases)
    warmup_items: int
    noop_benchtime: str  # go test -benchtime of BenchmarkNoop
    inprocess_calls: int
    payload_sizes: tuple[int, ...]
    payload_calls: int
    startup_sizes: tuple[int, ...]
    workflow_timeout: float  # seconds one workflow may take before the run fails
    service_timeout: float  # seconds a worker or the dev server may take to be ready
    # The batched map at scale (issue 11's target: 10,000 items), one more contender of each
    # fan-out round, compared by items/s with the unbatched snakepool map of that round. 0: none
    # (results written before it existed).
    scale_items: int = 0
    scale_batch_size: int = 0  # its map.batch_size


FULL = Plan(
    name="full",
    rounds=3,
    slots=2,
    fanout_items=1000,
    fanout_window=10,
    batch_size=100,
    cpu_count=20,
    cpu_from=10**15,
    warmup_items=20,
    noop_benchtime="2s",
    inprocess_calls=1_000_000,
    payload_sizes=(1024, 10 * 1024, 100 * 1024, 1024 * 1024),
    payload_calls=50,
    startup_sizes=(1, 4, 8),
    workflow_timeout=300,
    service_timeout=120,
    scale_items=10_000,
    scale_batch_size=500,
)

SMOKE = Plan(
    name="smoke",
    rounds=1,
    slots=2,
    fanout_items=10,
    fanout_window=4,
    batch_size=5,
    cpu_count=4,
    cpu_from=10**6,
    warmup_items=2,
    noop_benchtime="50x",
    inprocess_calls=10_000,
    payload_sizes=(1024, 10 * 1024),
    payload_calls=3,
    startup_sizes=(
        1,
        8,
    ),  # 8: the startup target's size, so that the smoke report judges it too
    workflow_timeout=60,
    service_timeout=60,
    scale_items=40,
    scale_batch_size=10,
)


def _is_probable_prime(n: int) -> bool:
    """Miller-Rabin with the first 12 primes as bases: exact for n below 3.3e24."""
    bases = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
    if n < 2:
        return False
    for p in bases:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def primes_from(start: int, count: int) -> list[int]:
    """The first ``count`` primes at or above ``start`` (trial division's worst case: no factor)."""
    found: list[int] = []
    n = start
    while len(found) < count:
        if _is_probable_prime(n):
            found.append(n)
        n += 1
    return found
