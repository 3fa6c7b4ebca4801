"""The harness end to end with tiny sizes: a real dev server, real workers, a well-formed report.

No timing is asserted: the smoke run's figures mean nothing. What is checked is that every section,
table row, target and chart is there, that the results were checked by the harness, and that no
process the run started outlives it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.procs import session_members
from harness.report import README_BEGIN, README_END

BENCH = Path(__file__).resolve().parents[1]
ROOT = BENCH.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def smoke(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """Run bench/run.py --smoke into a temp dir, with a copy of the README; check nothing outlives it."""
    out = tmp_path_factory.mktemp("smoke")
    readme = out / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    proc = subprocess.Popen(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--smoke",
            "--out",
            str(out / "benchmarks.md"),
            "--readme",
            str(readme),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = session_members(proc.pid)  # the harness's own session: go build, ...
    assert not left, f"processes of the smoke run outlived it: {left}"
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert done.returncode == 0, f"bench/run.py --smoke failed:\n{stderr[-5000:]}"
    return out, readme, done


def test_no_process_outlives_the_run(
    smoke: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    # Every process the harness starts leads a session of its own, which its children share.
    sessions = json.loads((smoke[0] / "benchmarks" / "results.json").read_text())[
        "sessions"
    ]
    assert len(sessions) >= 10  # dev server, 4 workers, one driver per workflow, ...
    left = {sid: session_members(sid) for sid in sessions if session_members(sid)}
    assert not left, f"processes of the smoke run outlived it (session: pids): {left}"


def test_report_has_every_section(
    smoke: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    report = (smoke[0] / "benchmarks.md").read_text()
    headings = re.findall(r"^## (.+)$", report, re.MULTILINE)
    assert headings[:5] == [
        "Targets",
        "Headline",
        "Machine and versions",
        "How it was measured",
        "Fan-out of a trivial tool over 10 items",
    ]
    assert headings[5:] == ["A batched map of 40 items", "CPU-bound fan-out", "The bridge: a no-op round trip", "Payloads",
                            "Startup and idle memory"]  # fmt: skip
    assert "This is a smoke run" in report
    assert "Problems met while stopping" not in report


def test_every_target_is_judged(
    smoke: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    report = (smoke[0] / "benchmarks.md").read_text()
    rows = dict(
        re.findall(
            r"^\| ([^|]+?) \| [^|]+ \| [^|]+ \| (met|missed|not judged) \|$",
            report,
            re.MULTILINE,
        )
    )
    assert {
        "CPU-bound: 2 process workers vs 1",
        "CPU-bound: 2 process workers vs the SDK's ProcessPoolExecutor(2)",
        "CPU-bound: 2 process workers vs the SDK's ThreadPoolExecutor(2)",
        "startup: 8 process workers ready",
        "startup: 8 thread workers ready",
        "idle resident memory per process worker",
        "idle resident memory per thread worker",
        "bridge, 2 process workers, 2 callers: no-op p50 and calls/s",
        "batched map of 40 items vs the unbatched map, items/s",
    } <= set(rows)
    assert all(v in ("met", "missed") for v in rows.values())


def test_every_contender_has_a_row(
    smoke: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    report = (smoke[0] / "benchmarks.md").read_text()
    for label in (
        "plain Go activity worker (2 slots, the ceiling)",
        "snakepool, process pool of 2",
        "Python SDK, ProcessPoolExecutor(2)",
        "Python SDK, ThreadPoolExecutor(2)",
        "snakepool, process pool of 1",
        "snakepool, thread pool (1 process x 2 threads)",
        "process/serial",
        "process/parallel",
        "thread/serial",
        "thread/parallel",
        "in-process call (function), mean",
        "1 KiB",
        "10 KiB",
    ):
        assert re.search(rf"^\| {re.escape(label)} \| [0-9]", report, re.MULTILINE), (
            f"no figures for {label!r}"
        )
    for label in (
        "snakepool, process pool of 2, map.batch_size 5",
        "snakepool, process pool of 2, 40 items, map.batch_size 10",
    ):
        assert re.search(rf"^\| {re.escape(label)} \| [0-9]", report, re.MULTILINE), (
            f"no figures for the batched contender {label!r}"
        )
    assert re.search(
        r"^\| items/s, batched vs unbatched \| - \| [0-9.]+x \(", report, re.MULTILINE
    )


def test_machine_and_versions_are_filled_in(
    smoke: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    report = (smoke[0] / "benchmarks.md").read_text()
    table = dict(re.findall(r"^\| ([^|]+) \| ([^|]+) \|$", report, re.MULTILINE))
    for key in ("cores", "CPU", "load average (1/5/15 min) at start", "load average (1/5/15 min) at end", "Go",
                "Python", "grpcio", "temporalio (Python SDK)", "Temporal CLI (dev server)"):  # fmt: skip
        assert key in table and table[key].strip() and "unknown" not in table[key], key
    assert re.fullmatch(
        r"[0-9.]+ / [0-9.]+ / [0-9.]+", table["load average (1/5/15 min) at start"]
    )


def test_charts_are_pngs_and_linked(
    smoke: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    out = smoke[0]
    report = (out / "benchmarks.md").read_text()
    links = re.findall(r"!\[[^]]*\]\((benchmarks/[^)]+\.png)\)", report)
    assert sorted(links) == sorted(
        f"benchmarks/{n}.png" for n in ("fanout", "cpu", "payloads", "startup")
    )
    for link in links:
        data = (out / link).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, link


def test_raw_results_hold_one_checked_sample_per_contender(
    smoke: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    results = json.loads((smoke[0] / "benchmarks" / "results.json").read_text())
    e2e = results["end_to_end"]
    assert set(e2e["fanout"]) >= {"go", "snakepool", "sdk-process", "sdk-thread"}
    assert e2e["batched_unavailable"] == ""
    assert "snakepool-batched" in e2e["fanout"]
    assert set(e2e["scale"]) == {"snakepool-batched-scale"}
    assert set(e2e["cpu"]) == {
        "snakepool-1",
        "snakepool-2",
        "snakepool-thread",
        "sdk-process",
        "sdk-thread",
    }
    assert all(
        len(v) == 1
        for v in [*e2e["fanout"].values(), *e2e["cpu"].values(), *e2e["scale"].values()]
    )
    assert e2e["problems"] == []
    assert results["leftovers"] == []
    assert {(s["profile"], s["workers"]) for s in results["pools"]["startup"]} == {
        ("process", 1), ("process", 8), ("thread", 1), ("thread", 8)
    }  # fmt: skip


def test_readme_headline_block_is_replaced(
    smoke: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    text = smoke[1].read_text()
    block = text[text.index(README_BEGIN) : text.index(README_END)]
    assert "CPU-bound fan-out, speed of 2 snakepool process workers:" in block
    assert "benchmarks.md" in block
    original = (ROOT / "README.md").read_text()
    outside = (
        original[: original.index(README_BEGIN)]
        + original[original.index(README_END) :]
    )
    assert text[: text.index(README_BEGIN)] + text[text.index(README_END) :] == outside
