"""Python's own cost per call: Dispatcher.admit and Dispatcher.run of a no-op tool, in-process; and
per item of a batch of no-op items.

Usage: .venv/bin/python bench/dispatch.py [calls]   (default 50000)

No gRPC and no socket: this is the floor under the Python side of BenchmarkNoop and BenchmarkBatch
(pools/bench_test.go).
"""

from __future__ import annotations

import sys
import time

from snakepool._dispatch import Call, Dispatcher
from snakepool.bridge.v1 import bridge_pb2 as pb
from snakepool.examples.showcase import ShowcaseAdapter


class _SerialisingSink:
    """Builds and serialises each event as the call channel does, and drops it."""

    def heartbeat(self, call: Call, heartbeat: pb.Heartbeat) -> None:
        pb.SessionEvent(call_id=call.call_id, heartbeat=heartbeat).SerializeToString()

    def finish(
        self, call_id: str, result: pb.Result | None, error: pb.Error | None
    ) -> None:
        pb.SessionEvent(call_id=call_id, result=result, error=error).SerializeToString()

    def item(
        self, call: Call, index: int, result: pb.Result | None, error: pb.Error | None
    ) -> None:
        end = pb.ItemEnd(index=index, result=result, error=error)
        pb.SessionEvent(call_id=call.call_id, item=end).SerializeToString()


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    dispatcher = Dispatcher(ShowcaseAdapter(), "showcase", "process", 1, tool_threads=0)
    sink = _SerialisingSink()
    message = pb.SessionRequest(
        start=pb.ExecuteRequest(
            call_id="c", tool="noop", args_json=b"{}", info=pb.CallInfo()
        )
    ).SerializeToString()
    begin = time.perf_counter()
    for _ in range(calls):
        request = pb.SessionRequest.FromString(message)
        call = dispatcher.admit(request.start, sink)
        assert call is not None
        dispatcher.run(call)
    elapsed = time.perf_counter() - begin
    print(
        f"{calls} calls: {elapsed / calls * 1e6:.1f} µs of Python per call (parse, admit, run, result)"
    )
    batch = pb.SessionRequest(
        batch=pb.BatchRequest(call_id="b", tool="noop", items_json=[b"{}"] * calls)
    ).SerializeToString()
    begin = time.perf_counter()
    request = pb.SessionRequest.FromString(batch)
    call = dispatcher.admit_batch(request.batch, sink)
    assert call is not None
    dispatcher.run(call)
    elapsed = time.perf_counter() - begin
    print(
        f"a batch of {calls} items: {elapsed / calls * 1e6:.1f} µs of Python per item "
        "(parse, bind, run, item result)"
    )


if __name__ == "__main__":
    main()
