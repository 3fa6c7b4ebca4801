"""The floor under the bridge: a bare in-process Python call of the no-op tool, no socket.

Usage: python inprocess.py [--calls N] [--rounds R]   (prints one JSON object)

``function`` calls bench_tools.noop; ``adapter_method`` calls the adapter's @tool method on an
instance, as a tool author would in a unit test. Each round times N calls; the figures are the
nanoseconds per call of each round.
"""

from __future__ import annotations

import argparse
import json
import timeit

import bench_tools
from bench_adapter import BenchAdapter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    adapter = BenchAdapter()
    targets = {"function": bench_tools.noop, "adapter_method": adapter.noop}
    result: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, fn in targets.items():
            seconds = timeit.timeit(fn, number=args.calls)
            result[name].append(seconds / args.calls * 1e9)
    print(json.dumps({"ns_per_call": result, "calls": args.calls}))


if __name__ == "__main__":
    main()
