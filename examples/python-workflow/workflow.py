"""A Temporal Python SDK workflow that calls snakepool tools by name and runs Pipeline as a child.

The pools' tools are ordinary Temporal activities: any SDK calls them by their name on the pool's task
queue (``snakepool.<pool>``) with one dict argument (the tool's arguments by name), and gets the tool's
JSON result back. ``Pipeline`` is an ordinary workflow type on the worker's workflow task queue
(``snakepool``), so it runs as a child workflow too. Needs ``temporalio`` (the ``examples`` extra) and,
running, a dev server and the worker of ``examples/snakepool.yaml`` (docs/examples.md)::

    .venv/bin/python examples/python-workflow/workflow.py [--address localhost:7233]

It runs a Python worker for its workflow on task queue ``python-workflow``, starts the workflow once,
prints its result as JSON and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

TASK_QUEUE = "python-workflow"


@workflow.defn
class SquareThenPipeline:
    """Square x on pool "math", then run a Pipeline over the square as a child workflow."""

    @workflow.run
    async def run(self, x: float) -> dict[str, Any]:
        square = await workflow.execute_activity(
            "square",  # the tool's name is the activity type
            {"x": x},  # the tool's arguments by name
            task_queue="snakepool.math",
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        spec = {
            "steps": [
                {
                    "name": "neighbours",
                    "pool": "math",
                    "tool": "square",
                    "map": {"over": [square - 1, square + 1], "as": "x"},
                },
                {"name": "prime", "pool": "math", "tool": "is_prime", "args": {"n": int(square) + 1}},
            ]
        }
        pipeline = await workflow.execute_child_workflow(
            "Pipeline", spec, id=f"{workflow.info().workflow_id}/pipeline", task_queue="snakepool"
        )
        return {"square": square, "pipeline": pipeline}


async def main(address: str, x: float) -> dict[str, Any]:
    """Serve the workflow, run it once and return its result."""
    client = await Client.connect(address)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[SquareThenPipeline]):
        result: dict[str, Any] = await client.execute_workflow(
            SquareThenPipeline.run, x, id=f"python-workflow-{uuid.uuid4()}", task_queue=TASK_QUEUE
        )
        return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default="localhost:7233", help="Temporal frontend host:port")
    parser.add_argument("--x", type=float, default=4.0, help="the number to square")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.address, args.x))))
