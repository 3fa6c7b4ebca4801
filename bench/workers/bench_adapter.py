"""The snakepool adapter of `make bench`: the tools of ``bench_tools``, in both profiles."""

from __future__ import annotations

from snakepool import Adapter, tool

import bench_tools

__all__ = ["BenchAdapter"]


class BenchAdapter(Adapter):
    """square, is_prime, noop and echo. Stateless, so safe for the thread profile."""

    __thread_safe__ = True

    @tool
    def square(self, x: int) -> int:
        """x * x."""
        return bench_tools.square(x)

    @tool
    def is_prime(self, n: int) -> bool:
        """Primality by trial division."""
        return bench_tools.is_prime(n)

    @tool
    def noop(self) -> None:
        """Nothing."""
        bench_tools.noop()

    @tool
    def echo(self, data: str) -> str:
        """The payload, back."""
        return bench_tools.echo(data)
