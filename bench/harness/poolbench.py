"""Pools without Temporal: startup of N workers, idle memory per worker, payload round trips."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .layout import Layout
from .plan import Plan
from .procs import run_json_command

__all__ = ["PoolFigures", "measure_pools"]


@dataclass
class PoolFigures:
    """bench-driver pools' samples, and the command that produced them."""

    command: str
    startup: list[dict[str, Any]] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)


def measure_pools(layout: Layout, plan: Plan) -> PoolFigures:
    """Run `bench-driver pools` with the plan's sizes."""
    argv = [
        str(layout.driver), "pools",
        "--python", str(layout.product_python),
        "--dir", str(layout.workers_dir),
        "--adapter", "bench_adapter:BenchAdapter",
        "--rounds", str(plan.rounds),
        "--startup", ",".join(map(str, plan.startup_sizes)),
        "--threads", str(plan.slots),
        "--payload-sizes", ",".join(map(str, plan.payload_sizes)),
        "--payload-calls", str(plan.payload_calls),
    ]  # fmt: skip
    out = json.loads(
        run_json_command(
            argv,
            timeout=900,
            what="pool startup, memory and payloads (bench-driver pools)",
        )
    )
    shown = " ".join(["bin/bench-driver", *argv[1:]]).replace(
        str(layout.root) + "/", ""
    )
    return PoolFigures(command=shown, startup=out["startup"], payloads=out["payloads"])
