"""A Temporal Python SDK worker for `make bench`: the FanOut workflow and the bench activities.

Usage: python sdk_worker.py --address HOST:PORT --task-queue Q --executor process|thread [--slots 2]

The activities run in a ProcessPoolExecutor or a ThreadPoolExecutor of ``--slots`` workers, and the
worker takes at most ``--slots`` activities at once. It prints ``{"ready": true}`` once it runs, and
stops gracefully on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing.managers
import os
import signal
import sys
import threading
import time

from temporalio.client import Client
from temporalio.worker import SharedStateManager, Worker

import sdk_activities
from sdk_workflows import FanOut


def _exit_when_orphaned() -> None:
    """In each executor and manager process: exit once this worker is gone (even by SIGKILL).

    Without it, a killed worker's pool processes would outlive it; the harness stops nothing it
    did not start, and so must not leave these behind either.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


async def serve(address: str, task_queue: str, executor_kind: str, slots: int) -> None:
    """Run the worker until SIGINT or SIGTERM."""
    client = await Client.connect(address, namespace="default")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    manager = None
    executor: concurrent.futures.Executor
    if executor_kind == "process":
        executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=slots, initializer=_exit_when_orphaned
        )
        # The SDK needs a manager for the heartbeats of activities in other processes.
        manager = multiprocessing.managers.SyncManager()
        manager.start(_exit_when_orphaned)
        shared = SharedStateManager.create_from_multiprocessing(manager)
    else:
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=slots)
        shared = None
    try:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[FanOut],
            activities=sdk_activities.ACTIVITIES,
            activity_executor=executor,
            shared_state_manager=shared,
            max_concurrent_activities=slots,
        )
        async with worker:
            print(json.dumps({"ready": True}), flush=True)
            await stop.wait()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        if manager is not None:
            manager.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--executor", choices=["process", "thread"], required=True)
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args()
    if args.slots < 1:
        sys.exit("sdk_worker: --slots must be at least 1")
    asyncio.run(serve(args.address, args.task_queue, args.executor, args.slots))


if __name__ == "__main__":
    main()
