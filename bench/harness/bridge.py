"""The bridge alone: the no-op round trip through each pool profile (pools' BenchmarkNoop), beside a
bare in-process Python call of the same tool."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

from .layout import Layout
from .plan import Plan
from .procs import run_json_command

__all__ = ["Bridge", "measure_bridge", "parse_go_bench"]

# BenchmarkNoop/process/serial-2   	   21702	    183312 ns/op	   170.2 p50-µs	   264.1 p99-µs	  5455 calls/s
_BENCH_LINE = re.compile(r"^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$")
_METRIC = re.compile(r"([0-9.eE+-]+)\s+(\S+)")


def parse_go_bench(output: str) -> dict[str, list[dict[str, float]]]:
    """The metrics of each benchmark in `go test -bench` output, one dict per run (-count)."""
    runs: dict[str, list[dict[str, float]]] = {}
    for line in output.splitlines():
        match = _BENCH_LINE.match(line.strip())
        if not match:
            continue
        metrics = {
            unit: float(value) for value, unit in _METRIC.findall(match.group(2))
        }
        runs.setdefault(match.group(1), []).append(metrics)
    return runs


@dataclass
class Bridge:
    """BenchmarkNoop's runs per sub-benchmark, and in-process nanoseconds per call per round."""

    benchtime: str
    command: str
    noop: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    inprocess_ns: dict[str, list[float]] = field(default_factory=dict)
    inprocess_calls: int = 0


def measure_bridge(layout: Layout, plan: Plan) -> Bridge:
    """Run BenchmarkNoop ``plan.rounds`` times (each run goes through every profile in turn), then
    the in-process floor."""
    argv = [
        "go",
        "test",
        "-run",
        "^$",
        "-bench",
        "BenchmarkNoop",
        "-benchtime",
        plan.noop_benchtime,
        "-count",
        str(plan.rounds),
        "./pools/",
    ]
    env = {**os.environ, "SNAKEPOOL_PYTHON": str(layout.product_python)}
    out = run_json_command(
        argv,
        timeout=900,
        what="BenchmarkNoop (go test -bench)",
        env=env,
        cwd=layout.root,
    )
    shown = " ".join(a if a != "^$" else "'^$'" for a in argv)
    result = Bridge(
        benchtime=plan.noop_benchtime,
        command=f"SNAKEPOOL_PYTHON=.venv/bin/python {shown}",
        noop=parse_go_bench(out),
    )
    floor = json.loads(
        run_json_command(
            [
                str(layout.product_python),
                "inprocess.py",
                "--calls",
                str(plan.inprocess_calls),
                "--rounds",
                str(plan.rounds),
            ],
            timeout=300,
            what="the in-process call (bench/workers/inprocess.py)",
            cwd=layout.workers_dir,
        )
    )
    result.inprocess_ns = floor["ns_per_call"]
    result.inprocess_calls = int(floor["calls"])
    return result
