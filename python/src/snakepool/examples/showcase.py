"""The showcase adapter: small tools that exercise every feature of the bridge.

Serve it with ``python -m snakepool.server --adapter snakepool.examples.showcase:ShowcaseAdapter``;
it is thread-safe, so ``--mode thread`` works too.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from snakepool import NonRetryableError, ThreadSafeAdapter, ToolContext, thread_safe_method, tool

__all__ = ["ShowcaseAdapter"]


class ShowcaseAdapter(ThreadSafeAdapter):
    """Arithmetic, a sleeping compute, a locked counter, and tools that fail on purpose."""

    __thread_safe__ = True

    def setup(self) -> None:
        # Pattern 3 (locked shared mutable state): the counter is only touched under acquire_lock().
        self.counter = 0

    @thread_safe_method
    @tool(description="Return x * x")
    def square(self, x: float) -> float:
        """Return x squared."""
        return x * x

    @thread_safe_method
    @tool(description="Whether n is prime (plain trial division)")
    def is_prime(self, n: int) -> bool:
        if n < 2:
            return False
        if n % 2 == 0:
            return n == 2
        return all(n % d for d in range(3, math.isqrt(n) + 1, 2))

    @thread_safe_method
    @tool(description="Sleep x seconds (cancellable), then return x * x")
    def compute(self, x: float, ctx: ToolContext) -> float:
        ctx.sleep(x)
        return x * x

    @thread_safe_method
    @tool(description="Add `by` to the shared counter under the adapter lock and return the new value")
    def increment(self, by: int = 1) -> int:
        with self.acquire_lock():
            self.counter += by
            return self.counter

    @thread_safe_method
    @tool(description="Return the counter without changing it")
    def get_counter(self) -> int:
        with self.acquire_lock():
            return self.counter

    @thread_safe_method
    @tool(description="Do nothing and return null (latency benchmarks)")
    def noop(self) -> None:
        return None

    @thread_safe_method
    @tool(description="Echo the arguments back")
    def echo(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    @thread_safe_method
    @tool(description="Raise ValueError(message): an ordinary, retryable failure")
    def fail(self, message: str = "failure requested") -> None:
        raise ValueError(message)

    @thread_safe_method
    @tool(description="Raise a NonRetryableError(message)")
    def fail_permanently(self, message: str = "permanent failure requested") -> None:
        raise NonRetryableError(message)

    @thread_safe_method
    @tool(description="Heartbeat `steps` times with progress, sleeping `interval` seconds between them")
    def progress(self, steps: int = 5, interval: float = 0.0, ctx: ToolContext | None = None) -> int:
        assert ctx is not None
        start = ctx.resume["step"] if isinstance(ctx.resume, dict) else 0
        for step in range(start, steps):
            ctx.sleep(interval)
            ctx.heartbeat({"step": step + 1}, progress=(step + 1) / steps)
        return steps - start

    @thread_safe_method
    @tool(description="Heartbeat 'started', then wait until the call is cancelled")
    def wait_for_cancel(self, ctx: ToolContext) -> None:
        ctx.heartbeat("started")
        ctx.wait_cancelled()
        ctx.check_cancelled()

    @thread_safe_method
    @tool(description="Adapter statistics: total and active requests, max workers, requests per thread")
    def stats(self) -> dict[str, Any]:
        return self.get_stats()

    @thread_safe_method
    @tool(description="The name of the thread running this call")
    def thread_name(self) -> str:
        return threading.current_thread().name
