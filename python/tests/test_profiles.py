"""The two profiles: concurrency, the seeds' stress and race tests, thread-safety tooling."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import TEST_ADAPTER, CallError, Server, ServerFactory

from snakepool.bridge.v1 import bridge_pb2 as pb


def _together(n: int, fn: Any) -> list[Any]:
    """Run fn(i) for i in range(n) on n threads released at the same moment."""
    barrier = threading.Barrier(n)

    def go(i: int) -> Any:
        barrier.wait(10)
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def test_thread_mode_runs_eight_computes_at_once(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "8", mode="thread")
    runs = _together(8, lambda i: server.call("timed_compute", {"x": 0.2}))
    assert all(r["value"] == 0.2 * 0.2 for r in runs)
    # All eight were running at one common instant: the latest start precedes the earliest end.
    assert max(r["start"] for r in runs) < min(r["end"] for r in runs)
    assert len({r["thread"] for r in runs}) == 8


def test_process_mode_runs_them_one_after_another(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER)
    busy = 0
    lock = threading.Lock()

    def run(i: int) -> dict[str, Any]:
        nonlocal busy
        while True:
            try:
                return dict(server.call("timed_compute", {"x": 0.2}))
            except CallError as exc:
                assert exc.error.type == "WorkerBusy"
                with lock:
                    busy += 1
                time.sleep(0.01)  # back off, as the Go pool would route elsewhere

    runs = sorted(_together(8, run), key=lambda r: r["start"])
    for before, after in itertools.pairwise(runs):
        assert after["start"] >= before["end"]  # no overlap at all
    assert {r["thread"] for r in runs} == {"snakepool-tool-0"}
    assert busy > 0  # concurrent calls were refused, not queued


def test_stress_1000_concurrent_calls_and_locked_counter(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "16", mode="thread")
    with ThreadPoolExecutor(16) as pool:
        values = list(pool.map(lambda i: server.call("increment"), range(1000)))
    # The lock makes every read-modify-write atomic: each call saw a distinct value.
    assert sorted(values) == list(range(1, 1001))
    assert server.call("get_counter") == 1000
    stats = server.call("stats")
    assert stats["total_requests"] == 1002  # 1000 increments, get_counter, stats
    assert stats["active_requests"] == 1
    assert stats["max_workers"] == 16
    assert sum(stats["requests_per_thread"].values()) == 1002
    assert len(stats["requests_per_thread"]) > 1
    assert all(name.startswith("snakepool-tool-") for name in stats["requests_per_thread"])
    ping = server.ping()
    assert ping.active_calls == 0 and ping.completed_calls == 1002


def test_race_condition_detected_without_the_lock(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "8", mode="thread")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: server.call("racy_increment"), range(200)))
    # The same race the seed's test catches: updates were lost.
    assert server.call("get_racy_counter") < 200


def test_thread_mode_refuses_an_adapter_without_declaration(servers: ServerFactory) -> None:
    proc, _, hs = servers.spawn("sp_adapters:PlainAdapter", mode="thread")
    assert hs["error"]["type"] == "ThreadSafetyError"
    message = hs["error"]["message"]
    assert "sp_adapters:PlainAdapter does not declare thread safety" in message
    assert (
        "__thread_safe__ = True" in message and "ThreadSafeAdapter" in message and "--mode process" in message
    )
    assert proc.wait(10) == 1
    # The same adapter is fine in the process profile.
    server = servers.start("sp_adapters:PlainAdapter")
    assert server.call("hello") == "hello world"


def test_gil_warning_in_thread_mode_only(thread_server: Server, process_server: Server) -> None:
    d = thread_server.stub.Describe(pb.DescribeRequest(), timeout=5)
    assert d.mode == "thread" and d.max_workers == 8
    warned = [
        line
        for line in thread_server.logs()
        if line["level"] == "WARNING" and "thread profile running with the GIL enabled" in line["message"]
    ]
    assert len(warned) == (1 if d.gil_enabled else 0)
    assert not any("GIL enabled" in line["message"] for line in process_server.logs())


def _checker_findings(server: Server) -> list[str]:
    return [line["message"] for line in server.logs() if line["logger"] == "snakepool.threadsafety"]


def test_checker_reports_concurrent_unmarked_method(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "4", "--thread-safety-check", mode="thread")
    calls = [server.start("unmarked_wait") for _ in range(2)]
    for _, events in calls:
        assert next(events).heartbeat.details_json == b'"started"'  # both are inside the method now
    for call_id, events in calls:
        server.stub.Cancel(pb.CancelRequest(call_id=call_id), timeout=5)
        assert list(events)[-1].error.type == "Cancelled"
    findings = _checker_findings(server)
    assert any("method 'unmarked_wait' entered by 2 threads at once" in m for m in findings)
    # Marked methods run concurrently without findings.
    calls = [server.start("wait_for_cancel") for _ in range(2)]
    for _, events in calls:
        next(events)
    for call_id, events in calls:
        server.stub.Cancel(pb.CancelRequest(call_id=call_id), timeout=5)
        list(events)
    assert not any("wait_for_cancel" in m for m in _checker_findings(server))


def test_checker_reports_unsafe_library(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "2", "--thread-safety-check", mode="thread")
    assert isinstance(server.call("use_sqlite"), str)
    findings = _checker_findings(server)
    assert any("unsafe library 'sqlite3' imported" in m for m in findings)


def test_strict_checker_raises(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, "--max-workers", "4", "--thread-safety-strict", mode="thread")
    first_id, first = server.start("unmarked_wait")
    next(first)
    err = server.error("unmarked_wait")
    assert err.type == "ThreadSafetyViolation" and err.non_retryable
    assert "method 'unmarked_wait' entered by 2 threads at once" in err.message
    server.stub.Cancel(pb.CancelRequest(call_id=first_id), timeout=5)
    assert list(first)[-1].error.type == "Cancelled"
    err = server.error("use_sqlite")
    assert err.type == "ThreadSafetyViolation" and "sqlite3" in err.message


def test_checker_off_by_default(thread_server: Server) -> None:
    assert not _checker_findings(thread_server)
    assert not any("thread-safety check on" in line["message"] for line in thread_server.logs())


def test_dedicated_thread_keeps_sqlite_on_one_thread(servers: ServerFactory) -> None:
    server = servers.start("snakepool.examples.notes:NotesAdapter", "--max-workers", "8", mode="thread")
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: server.call("add_note", {"text": f"note {i}"}), range(100)))
    assert sorted(ids) == list(range(1, 101))
    assert server.call("count_notes") == 100
    assert [n["id"] for n in server.call("list_notes", {"limit": 3})] == [100, 99, 98]
