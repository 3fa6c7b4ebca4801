"""The command line of the harness: run the plan, write the report."""

from __future__ import annotations

import argparse
import datetime
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .bridge import measure_bridge
from .charts import write_charts
from .endtoend import measure_end_to_end
from .layout import Layout
from .machine import collect_versions, describe_machine, load_average
from .plan import FULL, SMOKE, Plan
from .poolbench import measure_pools
from .procs import HarnessError, reap_leftovers, started_sessions
from .report import render, update_readme
from .results import Run

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[2]


def say(message: str) -> None:
    """Progress on stderr, with the time."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Run snakepool's benchmarks and write docs/benchmarks.md.",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, one round: checks the harness, not speed",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="the report to write",
    )
    parser.add_argument(
        "--readme",
        type=Path,
        default=None,
        help="README whose headline block to update (default: README.md for a full run into docs/; none otherwise)",
    )
    parser.add_argument(
        "--rounds", type=int, default=0, help="override the plan's rounds (at least 1)"
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="measure nothing: write the report (and README block) again from a results.json",
    )
    parser.add_argument(
        "--keep-work",
        action="store_true",
        help="keep the work dir (configs, inputs, logs)",
    )
    return parser.parse_args(argv)


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    # SystemExit unwinds through the harness's finally blocks, which stop every process it started.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    plan = SMOKE if args.smoke else FULL
    if args.rounds:
        if args.rounds < 1:
            say("--rounds must be at least 1")
            return 2
        plan = replace(plan, rounds=args.rounds)
    out: Path = args.out.resolve()
    readme: Path | None = args.readme
    if readme is None and not args.smoke and out == (ROOT / "docs" / "benchmarks.md"):
        readme = ROOT / "README.md"
    layout = Layout(root=ROOT, work=Path(tempfile.mkdtemp(prefix="snakepool-bench-")))
    try:
        run = Run.read_json(args.render) if args.render else measure(layout, plan)
    except HarnessError as exc:
        say(f"FAILED: {exc}")
        say(f"logs, configs and inputs kept in {layout.work}")
        return 1
    except KeyboardInterrupt:
        say(
            f"interrupted; every process it started is stopped; logs kept in {layout.work}"
        )
        return 130
    except SystemExit:
        say(
            f"stopped by SIGTERM; every process it started is stopped; logs kept in {layout.work}"
        )
        raise
    charts_dir = out.with_suffix("")
    charts = write_charts(run, charts_dir)
    if not args.render or args.render.resolve() != (charts_dir / "results.json"):
        run.write_json(charts_dir / "results.json")
    out.write_text(render(run, charts, charts_dir.name))
    say(
        f"wrote {out} and {charts_dir}/ ({', '.join([*charts.values(), 'results.json'])})"
    )
    if readme is not None:
        page = (
            str(out.relative_to(readme.resolve().parent))
            if out.is_relative_to(readme.resolve().parent)
            else str(out)
        )
        if update_readme(readme, run, page):
            say(f"updated the headline block of {readme}")
        else:
            say(f"{readme} has no headline block: not updated")
    if args.keep_work:
        say(f"work dir kept: {layout.work}")
    else:
        shutil.rmtree(layout.work, ignore_errors=True)
    return 0


def measure(layout: Layout, plan: Plan) -> Run:
    """Build, then run every measurement of the plan in turn."""
    layout.check()
    started_at = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC"
    )
    begin = time.monotonic()
    say(f"{plan.name} run; work dir {layout.work}")
    layout.build()
    machine = describe_machine()
    versions = collect_versions(
        layout.root, layout.product_python, layout.bench_python, layout.temporal
    )
    load_start = load_average()
    say(f"{machine.cores} cores, {machine.cpu_model}; load average {load_start[0]:.2f}")
    e2e = measure_end_to_end(layout, plan, say)
    say("bridge: BenchmarkNoop and the in-process floor")
    bridge = measure_bridge(layout, plan)
    say("pools: startup, idle memory, payloads")
    pools = measure_pools(layout, plan)
    return Run(
        plan=plan,
        machine=machine,
        versions=versions,
        started_at=started_at,
        load_start=load_start,
        load_end=load_average(),
        seconds=time.monotonic() - begin,
        end_to_end=e2e,
        bridge=bridge,
        pools=pools,
        sessions=started_sessions(),
        leftovers=reap_leftovers(),
    )
