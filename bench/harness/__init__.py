"""The `make bench` harness: end-to-end fan-outs on one dev server, the bridge, the pools.

Entry point: ``bench/run.py`` (``make bench``, or ``make bench-smoke`` for the seconds-long run
that ``make test`` includes). It writes docs/benchmarks.md, its charts and raw results.
"""

__all__: list[str] = []
