"""End-to-end figures on one dev server: fan-outs of a trivial tool and of a CPU-bound one.

Every contender runs in its natural form: snakepool as the Pipeline workflow of bin/snakepool-worker
(started through a Temporal client, as a user would), the plain Go worker and the Temporal Python
SDK workers as a FanOut workflow of their own with the same sliding window. All run side by side
on the same dev server, with the same number of activity slots, in alternating rounds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .layout import Layout
from .plan import Plan, primes_from
from .procs import HarnessError, Service, run_json_command

__all__ = [
    "SCALE_KEY",
    "Contender",
    "EndToEnd",
    "measure_end_to_end",
    "scale_contender",
]

WORKFLOW_QUEUE = (
    "bench.snakepool"  # the Pipeline workflow worker of bin/snakepool-worker
)
GO_QUEUE = "bench.go"
SDK_QUEUES = {"process": "bench.sdk-process", "thread": "bench.sdk-thread"}
ADAPTER = "bench_adapter:BenchAdapter"
SCALE_KEY = "snakepool-batched-scale"  # the batched map of plan.scale_items items


@dataclass(frozen=True)
class Contender:
    """One way to run a fan-out: a workflow on a task queue.

    ``pool`` set: a Pipeline map on that pool of bin/snakepool-worker (``batch_size`` > 0 makes it
    batched); otherwise the FanOut workflow of the worker on ``task_queue``.
    """

    key: str
    label: str
    task_queue: str
    pool: str = ""
    batch_size: int = 0

    @property
    def workflow(self) -> str:
        return "Pipeline" if self.pool else "BenchFanOut"

    def workflow_input(
        self, tool: str, arg: str, items: Sequence[int], window: int
    ) -> dict[str, Any]:
        """The workflow's argument for calling ``tool`` once per item (bound to ``arg``)."""
        if not self.pool:
            return {"activity": tool, "items": list(items), "window": window}
        return pipeline_spec(self.pool, tool, arg, items, window, self.batch_size)

    def results(self, raw: Any) -> list[Any]:
        """The list of per-item results in a workflow's result."""
        if self.pool:
            return list(raw["results"][0]["result"])
        return list(raw)


def pipeline_spec(
    pool: str, tool: str, arg: str, items: Sequence[int], window: int, batch_size: int
) -> dict[str, Any]:
    """A one-step Pipeline that maps tool over items on pool, in the pipeline's own history."""
    step_map: dict[str, Any] = {
        "over": list(items),
        "as": arg,
        "concurrency": window,
        "chunk_size": max(1, min(len(items), 2000)),
    }
    if batch_size:
        step_map["batch_size"] = batch_size
    return {"steps": [{"name": "map", "pool": pool, "tool": tool, "map": step_map}]}


def fanout_contenders(plan: Plan) -> list[Contender]:
    """The trivial fan-out's contenders, the batched one included (dropped later if unavailable)."""
    return [
        Contender(
            "go",
            f"plain Go activity worker ({plan.slots} slots, the ceiling)",
            GO_QUEUE,
        ),
        Contender(
            "snakepool",
            f"snakepool, process pool of {plan.slots}",
            WORKFLOW_QUEUE,
            pool="fan",
        ),
        Contender(
            "snakepool-batched",
            f"snakepool, process pool of {plan.slots}, map.batch_size {plan.batch_size}",
            WORKFLOW_QUEUE,
            pool="fan",
            batch_size=plan.batch_size,
        ),
        Contender(
            "sdk-process",
            f"Python SDK, ProcessPoolExecutor({plan.slots})",
            SDK_QUEUES["process"],
        ),
        Contender(
            "sdk-thread",
            f"Python SDK, ThreadPoolExecutor({plan.slots})",
            SDK_QUEUES["thread"],
        ),
    ]


def scale_contender(plan: Plan) -> Contender:
    """The batched map at scale: plan.scale_items items in batches of plan.scale_batch_size."""
    return Contender(
        SCALE_KEY,
        f"snakepool, process pool of {plan.slots}, {plan.scale_items:,} items, "
        f"map.batch_size {plan.scale_batch_size}",
        WORKFLOW_QUEUE,
        pool="fan",
        batch_size=plan.scale_batch_size,
    )


def cpu_contenders(plan: Plan) -> list[Contender]:
    """The CPU-bound fan-out's contenders."""
    return [
        Contender(
            "snakepool-1", "snakepool, process pool of 1", WORKFLOW_QUEUE, pool="cpu1"
        ),
        Contender(
            "snakepool-2", "snakepool, process pool of 2", WORKFLOW_QUEUE, pool="cpu2"
        ),
        Contender(
            "snakepool-thread",
            "snakepool, thread pool (1 process x 2 threads)",
            WORKFLOW_QUEUE,
            pool="cputhread",
        ),
        Contender(
            "sdk-process",
            f"Python SDK, ProcessPoolExecutor({plan.slots})",
            SDK_QUEUES["process"],
        ),
        Contender(
            "sdk-thread",
            f"Python SDK, ThreadPoolExecutor({plan.slots})",
            SDK_QUEUES["thread"],
        ),
    ]


@dataclass
class EndToEnd:
    """Seconds per round of each contender, in the order the rounds ran."""

    fanout_items: int
    cpu_numbers: list[int]
    fanout_labels: dict[str, str]
    cpu_labels: dict[str, str]
    fanout: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    # Why the batched contender did not run; empty when it did.
    batched_unavailable: str = ""
    # The batched map at scale (SCALE_KEY), run in the fan-out rounds: its items, label, seconds.
    scale_items: int = 0
    scale_label: str = ""
    scale: dict[str, list[float]] = field(default_factory=dict)
    # The contenders' order in each round.
    order: list[list[str]] = field(default_factory=list)
    # What stopping the services reported.
    problems: list[str] = field(default_factory=list)
    # The command lines of the services and of one workflow run per contender.
    commands: list[str] = field(default_factory=list)
    # bin/snakepool-worker's config file, as the report shows it.
    worker_config: str = ""


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def worker_config(layout: Layout, address: str, plan: Plan) -> dict[str, Any]:
    """bin/snakepool-worker's config: the fan-out pool and the three CPU pools."""

    def pool(name: str, profile: str, size: int, threads: int = 0) -> dict[str, Any]:
        p: dict[str, Any] = {
            "name": name,
            "profile": profile,
            "size": size,
            "adapter": ADAPTER,
            "python": str(layout.product_python),
            "dir": str(layout.workers_dir),
        }
        if threads:
            p["threads_per_worker"] = threads
        return p

    return {
        "temporal": {
            "address": address,
            "namespace": "default",
            "task_queue": WORKFLOW_QUEUE,
        },
        "metrics": {"address": "off"},
        "pools": [
            pool("fan", "process", plan.slots),
            pool("cpu1", "process", 1),
            pool("cpu2", "process", plan.slots),
            pool("cputhread", "thread", 1, threads=plan.slots),
        ],
    }


@contextmanager
def services(
    layout: Layout, plan: Plan, result: EndToEnd
) -> Iterator[tuple[str, list[Service]]]:
    """Start the dev server and every worker; yield the address and the workers; stop them all."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    logs = layout.work
    dev = Service(
        "temporal-dev-server",
        [
            str(layout.temporal),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--headless",
            "--log-level",
            "warn",
        ],
        logs,
        ready_marker="",
        stop_signal=signal.SIGINT,  # it does not stop promptly on SIGTERM
    )
    started: list[Service] = []
    try:
        dev.start()
        started.append(dev)
        run_json_command(
            [
                str(layout.driver),
                "wait",
                "--address",
                address,
                "--timeout",
                f"{plan.service_timeout:.0f}s",
            ],
            timeout=plan.service_timeout + 10,
            what="waiting for the Temporal dev server",
            watch=[dev],
        )
        config = layout.work / "snakepool-worker.yaml"
        config_text = json.dumps(worker_config(layout, address, plan), indent=2)
        config.write_text(config_text)  # JSON is YAML
        result.worker_config = layout.shown([config_text])
        workers = [
            Service(
                "snakepool-worker",
                [str(layout.worker), "--config", str(config)],
                logs,
                ready_marker="snakepool worker ready",
            ),
            Service(
                "go-worker",
                [
                    str(layout.driver),
                    "goworker",
                    "--address",
                    address,
                    "--task-queue",
                    GO_QUEUE,
                    "--slots",
                    str(plan.slots),
                ],
                logs,
                ready_marker='{"ready":true}',
            ),
        ]
        for kind, queue in SDK_QUEUES.items():
            workers.append(
                Service(
                    f"sdk-{kind}-worker",
                    [
                        str(layout.bench_python),
                        "sdk_worker.py",
                        "--address",
                        address,
                        "--task-queue",
                        queue,
                        "--executor",
                        kind,
                        "--slots",
                        str(plan.slots),
                    ],
                    logs,
                    ready_marker='{"ready": true}',
                    cwd=layout.workers_dir,
                )
            )
        result.commands += [
            f"(cd {layout.shown([str(s.cwd)])} && "
            f"{' '.join([os.path.relpath(s.argv[0], s.cwd), *s.argv[1:]])})"
            if s.cwd
            else layout.shown(s.argv)
            for s in (dev, *workers)
        ]
        for w in workers:
            w.start()
            started.append(w)
        for w in workers:
            w.wait_ready(plan.service_timeout)
        yield address, [dev, *workers]
    finally:
        for s in reversed(started):  # the workers first, the dev server last
            result.problems.extend(s.stop())


def run_workflow(
    layout: Layout,
    plan: Plan,
    address: str,
    watch: list[Service],
    contender: Contender,
    payload: dict[str, Any],
    commands: list[str],
) -> tuple[float, list[Any]]:
    """Run one workflow through bench-driver; return its seconds and per-item results.

    The first command line of each contender is added to ``commands``."""
    path = layout.work / f"input-{contender.key}.json"
    path.write_text(json.dumps(payload))
    argv = [
        str(layout.driver),
        "run",
        "--address",
        address,
        "--task-queue",
        contender.task_queue,
        "--workflow",
        contender.workflow,
        "--input",
        str(path),
        "--timeout",
        f"{plan.workflow_timeout:.0f}s",
    ]
    if layout.shown(argv) not in commands:
        commands.append(layout.shown(argv))
    out = run_json_command(
        argv,
        timeout=plan.workflow_timeout + 30,
        what=f"{contender.label}: {contender.workflow} on {contender.task_queue}",
        watch=watch,
    )
    answer = json.loads(out)
    return float(answer["seconds"]), contender.results(answer["result"])


def batched_available(layout: Layout, plan: Plan) -> str:
    """Empty when this build's Pipeline accepts map.batch_size; otherwise why not."""
    path = layout.work / "batched-spec.json"
    path.write_text(
        json.dumps(pipeline_spec("fan", "square", "x", [1, 2, 3], 2, plan.batch_size))
    )
    answer = json.loads(
        run_json_command(
            [str(layout.driver), "check-spec", str(path)],
            timeout=60,
            what="checking map.batch_size",
        )
    )
    return "" if answer["ok"] else str(answer["error"])


def rotate(xs: Sequence[Contender], k: int) -> list[Contender]:
    """xs rotated left by k: each round starts with another contender."""
    k %= len(xs)
    return [*xs[k:], *xs[:k]]


def measure_end_to_end(
    layout: Layout, plan: Plan, say: Callable[[str], None]
) -> EndToEnd:
    """Run the fan-out and CPU-bound rounds on one dev server."""
    fan = fanout_contenders(plan)
    cpu = cpu_contenders(plan)
    numbers = primes_from(plan.cpu_from, plan.cpu_count)
    result = EndToEnd(
        fanout_items=plan.fanout_items,
        cpu_numbers=numbers,
        fanout_labels={c.key: c.label for c in fan},
        cpu_labels={c.key: c.label for c in cpu},
    )
    result.batched_unavailable = batched_available(layout, plan)
    scale = scale_contender(plan)
    if result.batched_unavailable:
        say(f"snakepool batched: not available ({result.batched_unavailable})")
        fan = [c for c in fan if c.batch_size == 0]
    rounds_of = list(fan)
    if plan.scale_items and not result.batched_unavailable:
        # One more contender of each fan-out round, so that its items/s pair with the unbatched
        # map's of the same round; the batched contender's warm-up warms its path.
        rounds_of.append(scale)
        result.scale_items, result.scale_label = plan.scale_items, scale.label

    items = list(range(plan.fanout_items))
    squares = [x * x for x in items]
    scale_items = list(range(plan.scale_items))
    scale_squares = [x * x for x in scale_items]
    warm_items = list(range(plan.warmup_items))
    warm_numbers = primes_from(plan.cpu_from // 1000 + 1, plan.slots)
    with services(layout, plan, result) as (address, watch):
        say(f"dev server on {address}; workers ready")

        def timed(
            contender: Contender,
            tool: str,
            arg: str,
            xs: list[int],
            window: int,
            want: list[Any],
        ) -> float:
            seconds, got = run_workflow(
                layout,
                plan,
                address,
                watch,
                contender,
                contender.workflow_input(tool, arg, xs, window),
                result.commands,
            )
            if got != want:
                raise HarnessError(
                    f"{contender.label}: wrong results for {tool} over {len(xs)} items: {got[:5]}..."
                )
            return seconds

        begin = time.monotonic()
        for (
            c
        ) in fan:  # warm-up: every worker has polled, imported and run its tool once
            timed(
                c,
                "square",
                "x",
                warm_items,
                plan.fanout_window,
                [x * x for x in warm_items],
            )
        for c in cpu:
            timed(
                c,
                "is_prime",
                "n",
                warm_numbers,
                len(warm_numbers),
                [True] * len(warm_numbers),
            )
        say(f"warm-up done in {time.monotonic() - begin:.1f} s")

        for r in range(plan.rounds):
            order = rotate(rounds_of, r)
            result.order.append([c.key for c in order])
            for c in order:
                if c.key == SCALE_KEY:
                    seconds = timed(
                        c, "square", "x", scale_items, plan.fanout_window, scale_squares
                    )
                    result.scale.setdefault(c.key, []).append(seconds)
                else:
                    seconds = timed(
                        c, "square", "x", items, plan.fanout_window, squares
                    )
                    result.fanout.setdefault(c.key, []).append(seconds)
                say(f"fan-out round {r + 1}/{plan.rounds}: {c.key} {seconds:.2f} s")
        for r in range(plan.rounds):
            order = rotate(cpu, r)
            result.order.append([c.key for c in order])
            for c in order:
                seconds = timed(
                    c, "is_prime", "n", numbers, len(numbers), [True] * len(numbers)
                )
                result.cpu.setdefault(c.key, []).append(seconds)
                say(f"CPU-bound round {r + 1}/{plan.rounds}: {c.key} {seconds:.2f} s")
    for problem in result.problems:
        say(f"problem: {problem}")
    return result
