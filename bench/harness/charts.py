"""PNG charts of a run (matplotlib, Agg backend): where a picture reads better than a table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt

from .figures import startup_by_size
from .results import Run
from .stats import Spread

__all__ = ["write_charts"]


def _bars(
    path: Path,
    title: str,
    xlabel: str,
    labels: Sequence[str],
    spreads: Sequence[Spread],
    note: str,
) -> None:
    """Horizontal bars of medians with min-max whiskers, the first label on top."""
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(labels) + 1.6), dpi=100)
    ys = range(len(labels))[::-1]
    medians = [s.median for s in spreads]
    errors = [[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]]
    ax.barh(
        list(ys), medians, xerr=errors, capsize=4, color="#4c78a8", ecolor="#333333"
    )
    ax.set_yticks(list(ys), labels)
    for y, s in zip(ys, spreads, strict=True):
        ax.text(s.high, y, f"  {s.median:,.3g}", va="center", fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    ax.set_xlim(0, max(s.high for s in spreads) * 1.2 or 1)
    fig.text(0.01, 0.01, note, fontsize=8, color="#555555")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def write_charts(run: Run, directory: Path) -> dict[str, str]:
    """Write the charts into directory; return {chart: file name}."""
    directory.mkdir(parents=True, exist_ok=True)
    charts: dict[str, str] = {}
    e2e = run.end_to_end
    note = f"median of {run.plan.rounds} alternating rounds, whiskers min-max; {run.machine.cores} cores"

    if e2e.fanout:
        keys = list(e2e.fanout)
        _bars(
            directory / "fanout.png",
            f"Fan-out of a trivial tool over {e2e.fanout_items:,} items, {run.plan.slots} slots",
            "items per second (higher is better)",
            [e2e.fanout_labels[k] for k in keys],
            [Spread.of(e2e.fanout[k]).inverse(e2e.fanout_items) for k in keys],
            note,
        )
        charts["fanout"] = "fanout.png"
    if e2e.cpu:
        keys = list(e2e.cpu)
        _bars(
            directory / "cpu.png",
            f"CPU-bound fan-out: trial division of {len(e2e.cpu_numbers)} primes near {e2e.cpu_numbers[0]:.0e}",
            "seconds per round (lower is better)",
            [e2e.cpu_labels[k] for k in keys],
            [Spread.of(e2e.cpu[k]) for k in keys],
            note,
        )
        charts["cpu"] = "cpu.png"
    if run.pools.payloads:
        by_size: dict[int, list[float]] = {}
        for s in run.pools.payloads:
            by_size.setdefault(s["bytes"], []).append(s["p50_us"] / 1000)
        sizes = sorted(by_size)
        spreads = [Spread.of(by_size[b]) for b in sizes]
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
        ax.errorbar(
            sizes,
            [s.median for s in spreads],
            yerr=[
                [s.median - s.low for s in spreads],
                [s.high - s.median for s in spreads],
            ],
            marker="o",
            capsize=4,
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("payload, bytes each way")
        ax.set_ylabel("round trip p50, ms")
        ax.set_title(
            "Payload round trip through a one-process pool (echo)", fontsize=11
        )
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(directory / "payloads.png")
        plt.close(fig)
        charts["payloads"] = "payloads.png"
    startup = startup_by_size(run)
    if startup:
        profiles = sorted({p for p, _ in startup})
        sizes_n = sorted({n for _, n in startup})
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
        width = 0.8 / len(profiles)
        for i, profile in enumerate(profiles):
            spreads = [startup[(profile, n)] for n in sizes_n]
            xs = [j + i * width for j in range(len(sizes_n))]
            ax.bar(
                xs,
                [s.median for s in spreads],
                width,
                yerr=[
                    [s.median - s.low for s in spreads],
                    [s.high - s.median for s in spreads],
                ],
                capsize=4,
                label=f"{profile} profile",
            )
        ax.axhline(
            1.0, color="#b33", linestyle="--", linewidth=1, label="target for 8: < 1 s"
        )
        ax.set_xticks(
            [j + width * (len(profiles) - 1) / 2 for j in range(len(sizes_n))],
            [str(n) for n in sizes_n],
        )
        ax.set_xlabel("Python worker processes in the pool")
        ax.set_ylabel("seconds until ready (pools.Start)")
        ax.set_title("Pool startup", fontsize=11)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(directory / "startup.png")
        plt.close(fig)
        charts["startup"] = "startup.png"
    return charts
