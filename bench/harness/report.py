"""The Markdown report (docs/benchmarks.md) and the README's headline block."""

from __future__ import annotations

import re
from pathlib import Path

from .endtoend import SCALE_KEY
from .figures import (
    MIB,
    Target,
    bridge_rows,
    fmt_x,
    memory_by_profile,
    scale_figures,
    startup_by_size,
    targets,
)
from .results import Run
from .stats import Spread, paired_ratio

__all__ = ["README_BEGIN", "README_END", "headline", "render", "update_readme"]

README_BEGIN = "<!-- bench:headline:begin (written by make bench; edit bench/harness/report.py) -->"
README_END = "<!-- bench:headline:end -->"


def _spread(s: Spread, unit: str = "", digits: int = 2) -> str:
    return f"{s.median:,.{digits}f}{unit} ({s.low:,.{digits}f}-{s.high:,.{digits}f})"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return [*lines, ""]


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def headline(run: Run) -> list[str]:
    """The headline ratios, as bullet lines (the README quotes them)."""
    e2e, lines = run.end_to_end, []
    fan = e2e.fanout
    if "snakepool" in fan and "go" in fan:
        ceiling = paired_ratio(fan["go"], fan["snakepool"])
        line = (
            f"- Fan-out of a trivial tool over {e2e.fanout_items:,} items with {run.plan.slots} slots: "
            f"snakepool reaches {fmt_x(ceiling)} the items/s of a plain Go worker (the ceiling)"
        )
        if "sdk-process" in fan:
            sdk = paired_ratio(fan["sdk-process"], fan["snakepool"])
            line += f" and {fmt_x(sdk)} those of a Python SDK worker with ProcessPoolExecutor"
        lines.append(line + ".")
        if "snakepool-batched" in fan:
            batched = paired_ratio(fan["snakepool"], fan["snakepool-batched"])
            lines.append(
                f"- With `map.batch_size` {run.plan.batch_size}, the same map runs at "
                f"{fmt_x(batched)} the items/s it reaches without batching."
            )
        else:
            lines.append(
                "- Batched maps (`map.batch_size`): not available in this build."
            )
    scale = scale_figures(run)
    if scale is not None:
        rate, ratio = scale
        lines.append(
            f"- A batched map of {e2e.scale_items:,} items (`map.batch_size` {run.plan.scale_batch_size}) "
            f"runs at {rate.median:,.0f} items/s, {fmt_x(ratio)} the items/s of the unbatched map."
        )
    cpu = e2e.cpu
    if "snakepool-2" in cpu:
        parts = [
            f"vs {what} {fmt_x(paired_ratio(cpu[k], cpu['snakepool-2']))}"
            for k, what in (
                ("snakepool-1", "one"),
                ("sdk-process", "the SDK's ProcessPoolExecutor"),
                ("sdk-thread", "its ThreadPoolExecutor"),
            )
            if k in cpu
        ]
        lines.append(
            "- CPU-bound fan-out, speed of 2 snakepool process workers: "
            + "; ".join(parts)
            + "."
        )
    rows = bridge_rows(run)
    parallel = rows.get("process/parallel", {})
    if "p50-µs" in parallel and "calls/s" in parallel:
        lines.append(
            f"- The bridge's no-op round trip with 2 process workers: p50 {parallel['p50-µs'].median:.0f} µs, "
            f"{parallel['calls/s'].median:,.0f} calls/s."
        )
    startup = startup_by_size(run)
    mem = memory_by_profile(run)
    if ("process", 8) in startup and "process" in mem:
        lines.append(
            f"- 8 process workers are ready in {startup[('process', 8)].median:.2f} s and hold "
            f"{mem['process'].median:.1f} MiB resident each when idle."
        )
    return lines


def _fanout_pace(run: Run) -> str:
    """What one item costs per slot end to end, beside the bridge's own round trip."""
    e2e, slots = run.end_to_end, run.plan.slots
    per_item = {
        k: Spread.of(v).median * slots / e2e.fanout_items * 1000
        for k, v in e2e.fanout.items()
    }
    serial = bridge_rows(run).get("process/serial", {}).get("p50-µs")
    if "snakepool" not in per_item or "go" not in per_item or serial is None:
        return ""
    return (
        f"Each item held a slot for about {per_item['snakepool']:.1f} ms through snakepool and "
        f"{per_item['go']:.1f} ms through the plain Go worker, while a no-op call through the bridge "
        f"takes {serial.median / 1000:.2f} ms (below): the rest is Temporal's scheduling and matching "
        "through the server, which fewer, fuller activities (batching) avoid."
    )


def render(run: Run, charts: dict[str, str], chart_dir: str) -> str:
    """The whole report as Markdown; charts are linked relative to the report."""
    e2e, plan, m, v = run.end_to_end, run.plan, run.machine, run.versions
    out: list[str] = ["# Benchmarks", ""]
    out += [
        f"Generated by `make bench` on {run.started_at} in {run.seconds / 60:.1f} minutes: do not edit by hand; "
        "re-run it on your machine before you rely on an absolute figure. Every end-to-end figure is the median "
        f"of {plan.rounds} alternating rounds on one dev server, with the spread (min-max) in brackets; ratios are "
        "ratios of medians, their spread the round-by-round ratios. Raw data: "
        f"[{chart_dir}/results.json]({chart_dir}/results.json).",
        "",
    ]
    if plan.name != "full":
        out += [
            f"**This is a {plan.name} run: tiny sizes, {plan.rounds} round; its figures mean nothing.**",
            "",
        ]

    out += ["## Targets", ""]
    tlist: list[Target] = targets(run)
    out += _table(
        ["target", "goal", "measured", "verdict"],
        [[t.name, t.goal, t.figure, t.verdict] for t in tlist],
    )
    out += ["## Headline", "", *headline(run), ""]

    out += ["## Machine and versions", ""]
    out += _table(
        ["", ""],
        [
            ["cores", str(m.cores)],
            ["CPU", m.cpu_model],
            ["memory", f"{m.memory_gib} GiB"],
            ["kernel", m.kernel],
            ["load average (1/5/15 min) at start", _load(run.load_start)],
            ["load average (1/5/15 min) at end", _load(run.load_end)],
            ["Go", v.go],
            ["Temporal Go SDK", v.go_sdk],
            ["Python", v.python],
            ["grpcio", v.grpcio],
            ["protobuf", v.protobuf],
            ["temporalio (Python SDK)", v.temporalio],
            ["Temporal CLI (dev server)", v.temporal_cli],
            ["snakepool", v.snakepool_commit],
        ],
    )

    out += ["## How it was measured", ""]
    out += [
        "```bash",
        "make bench        # installs .venv-bench (temporalio, matplotlib), builds, runs all below, writes this page",
        "make bench-smoke  # the same harness with tiny sizes into a temp dir (part of make test)",
        "```",
        "",
        "`make bench` runs `bench/run.py`, which builds `bin/snakepool-worker` and `bin/bench-driver`, then:",
        "",
        "1. starts `bin/temporal server start-dev --ip 127.0.0.1 --port <free port> --headless` and, against it, "
        "`bin/snakepool-worker` with the pools below, the plain Go worker (`bin/bench-driver goworker`) and two "
        "Temporal Python SDK workers (`bench/workers/sdk_worker.py --executor process|thread`);",
        "2. runs one warm-up workflow per contender, then the rounds: each workflow is started and awaited by "
        "`bin/bench-driver run` (a Temporal client), timed from the start request to the result, and its result is "
        "checked item by item;",
        "3. stops them all by pid, then measures the bridge and the pools without Temporal "
        "(commands in their sections).",
        "",
        "snakepool runs `Pipeline` workflows with one `map` step (`concurrency` is the window, `chunk_size` keeps "
        "the map in one history); the Go and Python SDK workers run a `BenchFanOut` workflow of their own with "
        f"the same sliding window. Every contender has {plan.slots} activity slots, and the tools are the same "
        "Python functions (`bench/workers/bench_tools.py`). Pools of `bin/snakepool-worker`:",
        "",
    ]
    out += _table(
        ["pool", "profile", "processes", "slots", "used by"],
        [
            ["fan", "process", str(plan.slots), str(plan.slots), "fan-out"],
            ["cpu1", "process", "1", "1", "CPU-bound, 1 worker"],
            [
                "cpu2",
                "process",
                str(plan.slots),
                str(plan.slots),
                "CPU-bound, 2 workers",
            ],
            ["cputhread", "thread", "1", str(plan.slots), "CPU-bound, thread pool"],
        ],
    )
    out += [
        f"Rounds (contenders in the order they ran): {'; '.join(', '.join(r) for r in e2e.order)}.",
        "",
    ]
    out += [
        "<details><summary>The exact commands of this run, and the worker's config</summary>",
        "",
        "```bash",
        *e2e.commands,
        run.bridge.command,
        f".venv/bin/python bench/workers/inprocess.py --calls {run.bridge.inprocess_calls} "
        f"--rounds {plan.rounds}",
        run.pools.command,
        "```",
        "",
        *(
            [
                "`<work>/snakepool-worker.yaml`:",
                "",
                "```json",
                e2e.worker_config,
                "```",
                "",
            ]
            if e2e.worker_config
            else []
        ),
        "</details>",
        "",
    ]

    out += [f"## Fan-out of a trivial tool over {e2e.fanout_items:,} items", ""]
    out += [
        f"`square(x)` over {e2e.fanout_items:,} items, {plan.fanout_window} in flight at once, {plan.slots} slots. "
        + _fanout_pace(run),
        "",
    ]
    if e2e.fanout:
        ceiling = e2e.fanout.get("go")
        rows = []
        for key, seconds in e2e.fanout.items():
            s = Spread.of(seconds)
            rate = s.inverse(e2e.fanout_items)
            vs = fmt_x(paired_ratio(ceiling, seconds)) if ceiling else "-"
            rows.append(
                [e2e.fanout_labels[key], _spread(s, " s"), _spread(rate, "", 0), vs]
            )
        if e2e.batched_unavailable:
            rows.append(
                [
                    f"snakepool, process pool of {plan.slots}, map.batch_size {plan.batch_size}",
                    "not available",
                    "-",
                    "-",
                ]
            )
        out += _table(["contender", "seconds", "items/s", "items/s vs plain Go"], rows)
        if e2e.batched_unavailable:
            out += [
                f"Batched: not available in this build (`Pipeline` says: {e2e.batched_unavailable}).",
                "",
            ]
    if "fanout" in charts:
        out += [f"![fan-out]({chart_dir}/{charts['fanout']})", ""]
    out += _scale_section(run)

    out += ["## CPU-bound fan-out", ""]
    nums = e2e.cpu_numbers
    out += [
        f"`is_prime(n)` by trial division for {len(nums)} primes from {nums[0]:,} to {nums[-1]:,} (each is a worst "
        "case: no divisor), all in flight at once.",
        "",
    ]
    if e2e.cpu:
        two = e2e.cpu.get("snakepool-2")
        rows = []
        for key, seconds in e2e.cpu.items():
            vs = fmt_x(paired_ratio(seconds, two)) if two else "-"
            rows.append([e2e.cpu_labels[key], _spread(Spread.of(seconds), " s"), vs])
        out += _table(
            [
                "contender",
                "seconds per round",
                "speed of snakepool's 2 workers vs this",
            ],
            rows,
        )
    if "cpu" in charts:
        out += [f"![CPU-bound]({chart_dir}/{charts['cpu']})", ""]

    out += ["## The bridge: a no-op round trip", ""]
    b = run.bridge
    out += [
        "```bash",
        b.command,
        f".venv/bin/python bench/workers/inprocess.py --calls {b.inprocess_calls} --rounds {plan.rounds}",
        "```",
        "",
        "`BenchmarkNoop` (pools/bench_test.go) calls a no-op tool through a pool of real Python processes "
        "(`process`: 2 workers; `thread`: 2 workers x 4 threads); `serial` is one caller, `parallel` fills the pool. "
        f"Each of the {plan.rounds} runs goes through every profile in turn. The in-process rows call the tool's "
        "function, and the adapter's method, in one Python process: the floor under the bridge.",
        "",
    ]
    rows = []
    for name, metrics in bridge_rows(run).items():
        cells = [name]
        for metric, digits in (("p50-µs", 0), ("p99-µs", 0), ("calls/s", 0)):
            cells.append(
                _spread(metrics[metric], "", digits) if metric in metrics else "-"
            )
        rows.append(cells)
    for name, ns in b.inprocess_ns.items():
        s = Spread.of(ns).scaled(1e-3)
        rows.append(
            [
                f"in-process call ({name.replace('_', ' ')}), mean",
                _spread(s, "", 3),
                "-",
                _spread(s.inverse(1e6), "", 0),
            ]
        )
    out += _table(["pool / caller", "p50 µs", "p99 µs", "calls/s"], rows)

    out += ["## Payloads", ""]
    out += [
        "```bash",
        run.pools.command,
        "```",
        "",
        f"An `echo(data)` tool called with a string of each size, which comes back: the payload goes both ways. "
        f"One process pool of 1 worker, {plan.payload_calls} calls per size and round, sizes alternating.",
        "",
    ]
    by_size: dict[int, dict[str, list[float]]] = {}
    for sample in run.pools.payloads:
        d = by_size.setdefault(sample["bytes"], {"p50": [], "p99": []})
        d["p50"].append(sample["p50_us"] / 1000)
        d["p99"].append(sample["p99_us"] / 1000)
    rows = [
        [
            _size(size),
            _spread(Spread.of(d["p50"]), "", 3),
            _spread(Spread.of(d["p99"]), "", 3),
        ]
        for size, d in sorted(by_size.items())
    ]
    out += _table(["payload each way", "round trip p50, ms", "p99, ms"], rows)
    if "payloads" in charts:
        out += [f"![payloads]({chart_dir}/{charts['payloads']})", ""]

    out += ["## Startup and idle memory", ""]
    out += [
        "Same command. `pools.Start` of N Python processes until every one is ready (the adapter imported, the "
        "handshake done); then, after a short idle pause, the resident memory (VmRSS) and the proportional share "
        "(Pss: shared pages divided among the processes that map them) of each process.",
        "",
    ]
    startup = startup_by_size(run)
    out += _table(
        ["profile", "workers", "seconds until ready"],
        [[p, str(n), _spread(s, " s")] for (p, n), s in startup.items()],
    )
    rss, pss = memory_by_profile(run), memory_by_profile(run, "pss_bytes")
    out += _table(
        [
            "profile",
            "resident (VmRSS) per worker, MiB",
            "proportional (Pss) per worker, MiB",
        ],
        [[p, _spread(rss[p], "", 1), _spread(pss[p], "", 1)] for p in rss],
    )
    if "startup" in charts:
        out += [f"![startup]({chart_dir}/{charts['startup']})", ""]

    if e2e.problems or run.leftovers:
        out += ["## Problems met while stopping", ""]
        out += [*(f"- {p}" for p in [*e2e.problems, *run.leftovers]), ""]
    return "\n".join(out).rstrip() + "\n"


def _scale_section(run: Run) -> list[str]:
    """The batched map at scale beside the unbatched map of the same rounds."""
    e2e, plan = run.end_to_end, run.plan
    scale = scale_figures(run)
    if scale is None:
        return []
    rate, ratio = scale
    unbatched = Spread.of(e2e.fanout["snakepool"])
    out = [f"## A batched map of {e2e.scale_items:,} items", ""]
    out += [
        f"`square(x)` over {e2e.scale_items:,} items in batches of {plan.scale_batch_size} "
        f"(`map.batch_size`), {plan.fanout_window} batches in flight at once, on the same pool of "
        f"{plan.slots} processes: one more contender of each fan-out round above, so that each round "
        f"compares it with the unbatched map of {e2e.fanout_items:,} items by items/s.",
        "",
    ]
    out += _table(
        ["contender", "seconds", "items/s"],
        [
            [
                e2e.scale_label,
                _spread(Spread.of(e2e.scale[SCALE_KEY]), " s"),
                _spread(rate, "", 0),
            ],
            [
                e2e.fanout_labels["snakepool"],
                _spread(unbatched, " s"),
                _spread(unbatched.inverse(e2e.fanout_items), "", 0),
            ],
            ["items/s, batched vs unbatched", "-", fmt_x(ratio)],
        ],
    )
    return out


def _size(n: int) -> str:
    if n >= MIB and n % MIB == 0:
        return f"{n // MIB} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} B"


def update_readme(readme: Path, run: Run, page: str) -> bool:
    """Replace the README's headline block with this run's; False when the README has no block."""
    text = readme.read_text()
    pattern = re.compile(
        re.escape(README_BEGIN) + r".*?" + re.escape(README_END), re.DOTALL
    )
    if not pattern.search(text):
        return False
    block = "\n".join(
        [
            README_BEGIN,
            f"Measured by `make bench` on {run.started_at[:10]}, {run.machine.cores} cores, load average "
            f"{run.load_start[0]:.1f} at the start and {run.load_end[0]:.1f} at the end, in "
            f"{run.seconds / 60:.1f} minutes; medians of {run.plan.rounds} alternating rounds with "
            f"their spread. Every figure, the targets and the charts: [{page}]({page}).",
            "",
            *headline(run),
            README_END,
        ]
    )
    readme.write_text(pattern.sub(lambda _: block, text, count=1))
    return True
