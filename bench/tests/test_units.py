"""Unit tests of the harness's pieces that do not need a server: parsing, statistics, the plan."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

import bench_tools
from harness.bridge import parse_go_bench
from harness.endtoend import SCALE_KEY, Contender, EndToEnd, pipeline_spec
from harness.figures import scale_figures
from harness.plan import primes_from
from harness.procs import HarnessError, run_json_command
from harness.report import README_BEGIN, README_END
from harness.results import Run
from harness.stats import Spread, paired_ratio

GO_BENCH_OUTPUT = """goos: linux
goarch: amd64
pkg: github.com/snakepool/snakepool/pools
cpu: Intel(R) Xeon(R) Processor
BenchmarkNoop/process/serial-2   	   21702	    183312 ns/op	 170.2 p50-µs	 264.1 p99-µs	  5455 calls/s
BenchmarkNoop/process/parallel-2 	   40000	     95000 ns/op	 181.0 p50-µs	 490.0 p99-µs	 10500 calls/s
BenchmarkNoop/process/serial-2   	   20000	    190000 ns/op	 175.0 p50-µs	 270.0 p99-µs	  5300 calls/s
PASS
ok  	github.com/snakepool/snakepool/pools	12.345s
"""


def test_parse_go_bench_groups_runs_by_benchmark_without_the_gomaxprocs_suffix() -> (
    None
):
    runs = parse_go_bench(GO_BENCH_OUTPUT)
    assert set(runs) == {
        "BenchmarkNoop/process/serial",
        "BenchmarkNoop/process/parallel",
    }
    assert [r["p50-µs"] for r in runs["BenchmarkNoop/process/serial"]] == [170.2, 175.0]
    assert runs["BenchmarkNoop/process/parallel"][0] == {
        "ns/op": 95000.0,
        "p50-µs": 181.0,
        "p99-µs": 490.0,
        "calls/s": 10500.0,
    }


def test_parse_go_bench_ignores_everything_else() -> None:
    assert parse_go_bench("PASS\nok  \tpkg\t1.0s\n--- FAIL: BenchmarkX\n") == {}


@pytest.mark.parametrize(
    ("samples", "want"),
    [
        ([3.0], Spread(3.0, 3.0, 3.0, 1)),
        ([5.0, 1.0, 3.0], Spread(3.0, 1.0, 5.0, 3)),
        ([1.0, 2.0], Spread(1.5, 1.0, 2.0, 2)),
    ],
)
def test_spread_is_the_median_with_min_and_max(
    samples: list[float], want: Spread
) -> None:
    assert Spread.of(samples) == want


def test_spread_inverse_swaps_low_and_high() -> None:
    assert Spread.of([1.0, 2.0, 4.0]).inverse(100) == Spread(50.0, 25.0, 100.0, 3)


def test_paired_ratio_is_the_ratio_of_medians_with_the_per_round_spread() -> None:
    ratio = paired_ratio([10.0, 12.0, 30.0], [5.0, 4.0, 10.0])
    assert ratio.median == pytest.approx(12.0 / 5.0)
    assert (ratio.low, ratio.high) == (2.0, 3.0)


def test_paired_ratio_refuses_unpaired_samples() -> None:
    with pytest.raises(ValueError, match="as many"):
        paired_ratio([1.0, 2.0], [1.0])


def test_primes_from_finds_primes_only_and_agrees_with_trial_division() -> None:
    primes = primes_from(10**6, 5)
    assert primes == [1000003, 1000033, 1000037, 1000039, 1000081]
    assert all(bench_tools.is_prime(p) for p in primes)
    assert not any(bench_tools.is_prime(n) for n in range(primes[0] + 1, primes[1]))


def test_pipeline_spec_adds_batch_size_only_when_batched() -> None:
    plain = pipeline_spec("fan", "square", "x", [1, 2, 3], 2, 0)
    assert plain == {
        "steps": [
            {
                "name": "map",
                "pool": "fan",
                "tool": "square",
                "map": {
                    "over": [1, 2, 3],
                    "as": "x",
                    "concurrency": 2,
                    "chunk_size": 3,
                },
            }
        ]
    }
    assert (
        pipeline_spec("fan", "square", "x", [1, 2, 3], 2, 50)["steps"][0]["map"][
            "batch_size"
        ]
        == 50
    )


def test_scale_figures_compare_items_per_second_round_by_round() -> None:
    e2e = EndToEnd(
        fanout_items=1000,
        cpu_numbers=[],
        fanout_labels={},
        cpu_labels={},
        fanout={"snakepool": [20.0, 10.0, 40.0]},  # 50, 100, 25 items/s
        scale_items=10_000,
        scale={SCALE_KEY: [2.0, 1.0, 4.0]},  # 5,000, 10,000, 2,500 items/s
    )
    figures = scale_figures(cast(Run, SimpleNamespace(end_to_end=e2e)))
    assert figures is not None
    rate, ratio = figures
    assert rate == Spread(5000.0, 2500.0, 10000.0, 3)
    assert ratio == Spread(100.0, 100.0, 100.0, 3)
    e2e.scale = {}
    assert scale_figures(cast(Run, SimpleNamespace(end_to_end=e2e))) is None


def test_contender_reads_results_of_its_workflow() -> None:
    pipeline = Contender("s", "snakepool", "q", pool="fan")
    fanout = Contender("g", "go", "q")
    assert pipeline.workflow == "Pipeline" and fanout.workflow == "BenchFanOut"
    assert pipeline.results({"results": [{"step": 0, "result": [1, 4]}]}) == [1, 4]
    assert fanout.results([1, 4]) == [1, 4]
    assert fanout.workflow_input("square", "x", [1, 2], 5) == {
        "activity": "square",
        "items": [1, 2],
        "window": 5,
    }


def test_run_json_command_names_the_step_and_shows_stderr_when_it_fails() -> None:
    with pytest.raises(
        HarnessError, match=r"(?s)the step failed with exit code 3.*boom"
    ):
        run_json_command(
            ["sh", "-c", "echo boom >&2; exit 3"], timeout=10, what="the step"
        )


def test_run_json_command_kills_a_command_that_overruns() -> None:
    with pytest.raises(HarnessError, match="no answer within 1 s"):
        run_json_command(["sleep", "30"], timeout=1, what="sleeping")


def test_the_readme_has_one_headline_block() -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert text.count(README_BEGIN) == 1 and text.count(README_END) == 1
    assert text.index(README_BEGIN) < text.index(README_END)
