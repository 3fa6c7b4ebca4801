"""Figures derived from a run: medians and spreads per contender, ratios, and the targets."""

from __future__ import annotations

from dataclasses import dataclass

from .endtoend import SCALE_KEY
from .results import Run
from .stats import Spread, paired_ratio

__all__ = [
    "Target",
    "bridge_rows",
    "memory_by_profile",
    "scale_figures",
    "startup_by_size",
    "targets",
]

MIB = 2**20


@dataclass(frozen=True)
class Target:
    """A target and whether the run met it (None: not judged by this run, and why in ``figure``)."""

    name: str
    goal: str
    figure: str
    met: bool | None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "missed", None: "not judged"}[self.met]


def fmt_x(s: Spread) -> str:
    """A ratio with its round-by-round spread."""
    return f"{s.median:.2f}x ({s.low:.2f}-{s.high:.2f}x)"


def startup_by_size(run: Run) -> dict[tuple[str, int], Spread]:
    """Seconds to start a pool, per (profile, workers)."""
    samples: dict[tuple[str, int], list[float]] = {}
    for s in run.pools.startup:
        samples.setdefault((s["profile"], s["workers"]), []).append(s["seconds"])
    return {k: Spread.of(v) for k, v in sorted(samples.items())}


def memory_by_profile(run: Run, field: str = "rss_bytes") -> dict[str, Spread]:
    """Idle memory per Python process in MiB, per profile, over every pool size and round."""
    samples: dict[str, list[float]] = {}
    for s in run.pools.startup:
        samples.setdefault(s["profile"], []).extend(b / MIB for b in s[field])
    return {k: Spread.of(v) for k, v in sorted(samples.items())}


def bridge_rows(run: Run) -> dict[str, dict[str, Spread]]:
    """Per BenchmarkNoop sub-benchmark (e.g. "process/parallel"): p50, p99 and calls/s over runs."""
    rows: dict[str, dict[str, Spread]] = {}
    for name, runs in run.bridge.noop.items():
        short = name.removeprefix("BenchmarkNoop/")
        metrics = {m for r in runs for m in r}
        rows[short] = {
            m: Spread.of([r[m] for r in runs if m in r]) for m in sorted(metrics)
        }
    return rows


def scale_figures(run: Run) -> tuple[Spread, Spread] | None:
    """The batched map at scale: its items/s, and that rate over the unbatched map's items/s,
    round by round (the rounds ran both); None when the run has no such figures."""
    e2e = run.end_to_end
    batched, unbatched = e2e.scale.get(SCALE_KEY), e2e.fanout.get("snakepool")
    if not batched or not unbatched or not e2e.scale_items:
        return None
    rate = Spread.of(batched).inverse(e2e.scale_items)
    # items/s over items/s = (unbatched seconds / batched seconds) x (scale items / fan-out items)
    ratio = paired_ratio(unbatched, batched).scaled(e2e.scale_items / e2e.fanout_items)
    return rate, ratio


def targets(run: Run) -> list[Target]:
    """The targets of issue 11, each judged on the median of the run's rounds."""
    out: list[Target] = []
    cpu = run.end_to_end.cpu
    if "snakepool-1" in cpu and "snakepool-2" in cpu:
        for name, other, goal in (
            ("CPU-bound: 2 process workers vs 1", "snakepool-1", 1.85),
            (
                "CPU-bound: 2 process workers vs the SDK's ProcessPoolExecutor(2)",
                "sdk-process",
                1.0,
            ),
            (
                "CPU-bound: 2 process workers vs the SDK's ThreadPoolExecutor(2)",
                "sdk-thread",
                1.8,
            ),
        ):
            if other in cpu:
                ratio = paired_ratio(cpu[other], cpu["snakepool-2"])
                out.append(
                    Target(name, f">= {goal:.2f}x", fmt_x(ratio), ratio.median >= goal)
                )
    startup = startup_by_size(run)
    for (profile, workers), s in startup.items():
        if workers == 8:
            out.append(
                Target(
                    f"startup: 8 {profile} workers ready",
                    "< 1 s",
                    f"{s.median:.2f} s ({s.low:.2f}-{s.high:.2f} s)",
                    s.median < 1.0,
                )
            )
    for profile, m in memory_by_profile(run).items():
        out.append(
            Target(
                f"idle resident memory per {profile} worker",
                "<= 35 MiB",
                f"{m.median:.1f} MiB ({m.low:.1f}-{m.high:.1f})",
                m.median <= 35.0,
            )
        )
    rows = bridge_rows(run)
    parallel = rows.get("process/parallel", {})
    if "p50-µs" in parallel and "calls/s" in parallel:
        p50, rate = parallel["p50-µs"], parallel["calls/s"]
        out.append(
            Target(
                "bridge, 2 process workers, 2 callers: no-op p50 and calls/s",
                "p50 <= 200 µs and >= 8,000 calls/s",
                f"p50 {p50.median:.0f} µs ({p50.low:.0f}-{p50.high:.0f}), {rate.median:,.0f} calls/s "
                f"({rate.low:,.0f}-{rate.high:,.0f})",
                p50.median <= 200 and rate.median >= 8000,
            )
        )
    scale = scale_figures(run)
    if scale is not None:
        rate, ratio = scale
        out.append(
            Target(
                f"batched map of {run.end_to_end.scale_items:,} items vs the unbatched map, items/s",
                ">= 50x and >= 5,000 items/s",
                f"{fmt_x(ratio)}, {rate.median:,.0f} items/s ({rate.low:,.0f}-{rate.high:,.0f})",
                ratio.median >= 50 and rate.median >= 5000,
            )
        )
    return out
