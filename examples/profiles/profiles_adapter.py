"""The same two kinds of work, to serve from a process pool and from a thread pool (docs/examples.md).

* ``count_primes`` is pure Python: it holds the GIL all along, so two calls in two threads of one
  process take turns, while two processes run them in parallel.
* ``hash_data`` spends its time in C code that releases the GIL (``hashlib`` on large buffers, as
  NumPy, scikit-learn and I/O do), so threads of one process run it in parallel too.

Each call reports the process and thread that ran it and how long it took.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from typing import Any

from snakepool import ThreadSafeAdapter, thread_safe_method, tool

__all__ = ["ProfilesAdapter"]


def _where(started: float) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "seconds": time.perf_counter() - started,
    }


class ProfilesAdapter(ThreadSafeAdapter):
    """CPU-bound pure Python and GIL-releasing C work (no shared state: thread-safe)."""

    __thread_safe__ = True

    @thread_safe_method
    @tool(description="Count the primes below limit by trial division (pure Python: holds the GIL)")
    def count_primes(self, limit: int) -> dict[str, Any]:
        started = time.perf_counter()
        count = sum(1 for k in range(2, limit) if all(k % d for d in range(2, math.isqrt(k) + 1)))
        return {"result": count, **_where(started)}

    @thread_safe_method
    @tool(
        description="SHA-256 of a zero buffer of megabytes MiB, rounds times (C code that releases the GIL)"
    )
    def hash_data(self, megabytes: int, rounds: int) -> dict[str, Any]:
        started = time.perf_counter()
        data = bytes(megabytes << 20)
        digest = b""
        for _ in range(rounds):
            digest = hashlib.sha256(data).digest()
        return {"result": digest.hex()[:16], **_where(started)}
