"""snakepool.testing: the recording environments, in process and in a real worker process."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TESTS_DIR, server_env, until, wait_pid_gone
from sp_testing_adapters import Counting, Recorded

import snakepool.testing
from snakepool import CallInfo, Cancelled, InvalidArguments, InvalidResult, ToolNotFound
from snakepool.testing import (
    Heartbeat,
    ToolEnvironment,
    ToolFailed,
    WorkerEnvironment,
    WorkerStartError,
    default_info,
)

ADAPTER = "sp_testing_adapters:Recorded"

Environment = ToolEnvironment | WorkerEnvironment


def error_type(exc: BaseException) -> str:
    """The bridge's error type of what a run raised: ToolFailed carries it, in process it is the class."""
    return exc.type if isinstance(exc, ToolFailed) else type(exc).__name__


def reset(env: Environment) -> Environment:
    env.resume = None
    env.info = None
    env.on_heartbeat = None
    env.cancel_after_heartbeats = None
    return env


@pytest.fixture(scope="module")
def worker() -> Iterator[WorkerEnvironment]:
    with WorkerEnvironment(ADAPTER, cwd=TESTS_DIR, env=server_env()) as w:
        yield w


@pytest.fixture(params=["in_process", "worker"])
def env(request: pytest.FixtureRequest) -> Iterator[Environment]:
    """Each test of the common API runs in both environments."""
    if request.param == "worker":
        yield reset(request.getfixturevalue("worker"))
    else:
        with ToolEnvironment(Recorded) as e:
            yield e


# --- the common API ------------------------------------------------------------------------------


def test_heartbeats_are_recorded_decoded_with_their_progress(env: Environment) -> None:
    assert env.run("steps", count=3) == {"started_after": 0, "count": 3}
    assert env.heartbeats == [
        Heartbeat({"step": 1}, 1 / 3, b'{"step":1}'),
        Heartbeat({"step": 2}, 2 / 3, b'{"step":2}'),
        Heartbeat({"step": 3}, 1.0, b'{"step":3}'),
    ]
    assert env.last_heartbeat == env.heartbeats[-1]
    env.run("bare_heartbeat")
    assert env.heartbeats == [Heartbeat(None, None, b"")], "each run starts a new record"


def test_on_heartbeat_sees_each_heartbeat_as_it_comes_and_can_cancel(env: Environment) -> None:
    seen: list[Any] = []

    def on_heartbeat(heartbeat: Heartbeat) -> None:
        seen.append(heartbeat.details)
        if heartbeat.details == {"step": 2}:
            env.cancel("enough")

    env.on_heartbeat = on_heartbeat
    with pytest.raises((Cancelled, ToolFailed)) as raised:
        env.run("steps", count=5, hold_at=2)
    assert error_type(raised.value) == "Cancelled"
    assert "enough" in str(raised.value)
    assert seen == [{"step": 1}, {"step": 2}], "the tool saw ctx.cancelled at its next check"


def test_cancel_after_heartbeats(env: Environment) -> None:
    env.cancel_after_heartbeats = 1
    with pytest.raises((Cancelled, ToolFailed)) as raised:
        env.run("until_cancelled")
    assert error_type(raised.value) == "Cancelled"
    assert "after 1 heartbeat(s)" in str(raised.value)
    assert [h.details for h in env.heartbeats] == ["waiting"]


def test_cancel_from_another_thread(env: Environment) -> None:
    waiting = threading.Event()
    env.on_heartbeat = lambda heartbeat: waiting.set()

    def cancel_once_waiting() -> None:
        assert waiting.wait(30)
        env.cancel("from a thread")

    canceller = threading.Thread(target=cancel_once_waiting)
    canceller.start()
    try:
        with pytest.raises((Cancelled, ToolFailed)) as raised:
            env.run("until_cancelled")
    finally:
        canceller.join(30)
    assert error_type(raised.value) == "Cancelled"
    assert "from a thread" in str(raised.value)


def test_a_cancel_before_the_call_cancels_the_next_call_only_without_running_it(env: Environment) -> None:
    env.cancel("early")
    with pytest.raises((Cancelled, ToolFailed)) as raised:
        env.run("steps", count=2)
    assert error_type(raised.value) == "Cancelled"
    assert env.heartbeats == [], "the tool did not run"
    assert env.run("steps", count=1) == {"started_after": 0, "count": 1}, "the cancel was used up"


def test_a_tool_that_returns_after_the_cancel_ends_cancelled(env: Environment) -> None:
    env.cancel_after_heartbeats = 1
    with pytest.raises((Cancelled, ToolFailed)) as raised:
        env.run("returns_when_cancelled")
    assert error_type(raised.value) == "Cancelled"
    assert [h.details for h in env.heartbeats] == ["waiting"]


def test_resume_is_preset_through_json(env: Environment) -> None:
    env.resume = {"step": 2, "pair": (1, 2)}
    assert env.run("context")["resume"] == {"step": 2, "pair": [1, 2]}
    env.resume = {"step": 2}
    assert env.run("steps", count=3) == {"started_after": 2, "count": 3}
    assert [h.details for h in env.heartbeats] == [{"step": 3}]


def test_resuming_from_the_last_checkpoint(env: Environment) -> None:
    env.cancel_after_heartbeats = 2
    with pytest.raises((Cancelled, ToolFailed)):
        env.run("steps", count=4, hold_at=2)
    checkpoint = env.last_heartbeat
    assert checkpoint is not None
    env.cancel_after_heartbeats = None
    env.resume = checkpoint.details
    assert env.run("steps", count=4) == {"started_after": 2, "count": 4}


def test_info_defaults_to_a_first_attempt_and_can_be_set(env: Environment) -> None:
    assert env.run("context")["info"] == dataclasses.asdict(default_info("context"))
    env.info = dataclasses.replace(default_info("context"), attempt=3, workflow_id="wf-7")
    info = env.run("context")["info"]
    assert (info["attempt"], info["workflow_id"], info["activity_type"]) == (3, "wf-7", "context")
    env.info = CallInfo()
    assert env.run("context")["info"]["attempt"] == 0


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"n": "three"}, "argument 'n': expected integer, got string \"three\""),
        ({}, "missing required argument 'n' (integer)"),
        ({"n": 1, "colour": "red"}, "unknown argument 'colour'"),
        ({"n": 1, "tags": ["a", 2]}, "argument 'tags[1]': expected string, got integer 2"),
    ],
)
def test_arguments_are_bound_as_the_bridge_binds_them(
    env: Environment, args: dict[str, Any], problem: str
) -> None:
    with pytest.raises((InvalidArguments, ToolFailed)) as raised:
        env.run("typed", args)
    assert error_type(raised.value) == "InvalidArguments"
    assert problem in str(raised.value)
    assert env.run("typed", {"n": 1.0}, tags=["x"]) == {"n": 1, "tags": ["x"]}, "args and kwargs merge"


def test_an_unknown_tool(env: Environment) -> None:
    with pytest.raises((ToolNotFound, ToolFailed)) as raised:
        env.run("nope")
    assert error_type(raised.value) == "ToolNotFound"
    assert "available tools: steps, until_cancelled, returns_when_cancelled" in str(raised.value)


def test_results_travel_as_json(env: Environment) -> None:
    assert env.run("pair") == [1, 2]
    with pytest.raises((InvalidResult, ToolFailed)) as raised:
        env.run("not_json")
    assert error_type(raised.value) == "InvalidResult"


def test_the_tools_own_error(env: Environment) -> None:
    with pytest.raises((ValueError, ToolFailed)) as raised:
        env.run("fails", message="bad input")
    assert error_type(raised.value) == "ValueError"
    assert "bad input" in str(raised.value)


def test_arguments_and_resume_must_be_json(env: Environment) -> None:
    with pytest.raises(TypeError, match="not JSON"):
        env.run("typed", n=object())
    env.resume = {"when": object()}
    with pytest.raises(TypeError, match="resume is not JSON"):
        env.run("context")


# --- in process ----------------------------------------------------------------------------------


def test_an_adapter_class_is_set_up_once_and_torn_down_on_close() -> None:
    env = ToolEnvironment(Recorded)
    env.run("steps", count=1)
    env.run("steps", count=1)
    adapter = env.adapter
    assert isinstance(adapter, Recorded)
    assert adapter.setups == 1
    assert adapter.ran == ["steps", "steps"]
    env.close()
    assert adapter.torn_down


def test_an_adapter_instance_is_used_as_given() -> None:
    adapter = Recorded()
    adapter.ran = ["before"]
    with ToolEnvironment(adapter) as env:
        assert env.run("ran_tools") == ["before"]
    assert not hasattr(adapter, "torn_down"), "neither setup nor teardown ran"


def test_an_adapter_by_name() -> None:
    with ToolEnvironment(ADAPTER) as env:
        assert isinstance(env.adapter, Recorded)
        assert set(env.tools) >= {"steps", "context"}
    with pytest.raises(TypeError, match=r"not a subclass of snakepool\.Adapter"):
        ToolEnvironment(dict)  # type: ignore[arg-type]


def test_the_tool_runs_in_the_callers_thread_and_its_exception_is_the_original() -> None:
    with ToolEnvironment(Recorded) as env, pytest.raises(ValueError) as raised:
        env.run("fails", message="here")
    assert raised.value.__traceback__ is not None
    assert "fails" in str(raised.traceback[-1].name)


def test_heartbeats_of_a_thread_that_outlives_its_call_are_dropped() -> None:
    with ToolEnvironment(Recorded) as env:
        assert env.run("leaves_a_thread") == "returned"
        adapter: Any = env.adapter
        adapter.release_late_thread.set()
        assert adapter.late_thread_done.wait(10)
        assert env.heartbeats == []


def test_a_thread_safe_adapter_counts_its_requests() -> None:
    with ToolEnvironment(Counting) as env:
        env.run("stats")
        assert env.run("stats")["total_requests"] == 2


# --- in a worker process -------------------------------------------------------------------------


def test_the_worker_describes_its_tools(worker: WorkerEnvironment) -> None:
    typed = worker.tools["typed"]
    assert typed.description == "Echo typed arguments (for argument binding)."
    assert typed.input_schema["required"] == ["n"]
    assert typed.input_schema["properties"]["n"] == {"type": "integer"}


def test_the_worker_captures_logs_and_output(worker: WorkerEnvironment) -> None:
    reset(worker).run("prints", text="hello from the tool")
    # The call's end comes after its print and log line; the readers may still be on their way.
    assert until(lambda: "hello from the tool\n" in worker.output)
    assert until(lambda: any(r.get("message") == "logged hello from the tool" for r in worker.logs))
    record = next(r for r in worker.logs if r.get("message") == "logged hello from the tool")
    assert record["level"] == "WARNING"
    assert record["call_id"].startswith("test-")


def test_an_adapter_that_cannot_load_fails_the_start_with_its_traceback() -> None:
    env = WorkerEnvironment("sp_testing_adapters_missing:Nope", cwd=TESTS_DIR, env=server_env())
    with pytest.raises(WorkerStartError) as raised:
        env.start()
    assert raised.value.type == "ModuleNotFoundError"
    assert "sp_testing_adapters_missing" in raised.value.message
    assert "Traceback" in raised.value.traceback
    assert env.returncode == 1


def test_an_interpreter_that_is_not_there() -> None:
    env = WorkerEnvironment(ADAPTER, python="/nonexistent/bin/python")
    with pytest.raises(WorkerStartError) as raised:
        env.start()
    assert raised.value.type == "InterpreterNotFound"
    assert "/nonexistent/bin/python" in raised.value.message
    assert env.stop() is None, "nothing was started"


def test_a_worker_that_exits_before_its_handshake(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'no server here' >&2\nexit 4\n")
    fake.chmod(0o755)
    with pytest.raises(WorkerStartError) as raised:
        WorkerEnvironment(ADAPTER, python=fake).start()
    assert raised.value.type == "WorkerExited"
    assert "exited with status 4 before its handshake" in raised.value.message
    assert "no server here" in raised.value.output


def test_the_thread_profile_refuses_an_adapter_not_declared_thread_safe() -> None:
    with pytest.raises(WorkerStartError) as raised:
        WorkerEnvironment(ADAPTER, mode="thread", cwd=TESTS_DIR, env=server_env()).start()
    assert raised.value.type == "ThreadSafetyError"


def test_the_thread_profile_runs_calls_at_once() -> None:
    with WorkerEnvironment(
        "sp_testing_adapters:Counting", mode="thread", max_workers=3, cwd=TESTS_DIR, env=server_env()
    ) as env:
        assert env.run("stats")["max_workers"] == 3


def test_a_worker_that_dies_during_a_call_is_a_worker_crash() -> None:
    with WorkerEnvironment(ADAPTER, cwd=TESTS_DIR, env=server_env()) as env:
        with pytest.raises(ToolFailed) as raised:
            env.run("crash")
        assert raised.value.type == "WorkerCrashed"
        assert "exited with status 7" in raised.value.message
    assert env.returncode == 7


def test_stopping_the_worker_ends_the_processes_its_tools_started() -> None:
    with WorkerEnvironment(ADAPTER, cwd=TESTS_DIR, env=server_env()) as env:
        pid = env.pid
        child = env.run("child")
    assert env.returncode == 0, "stopped by SIGTERM, gracefully"
    assert wait_pid_gone(pid, 10)
    assert wait_pid_gone(child, 10), "the tool's child went with the worker's process group"


def test_a_call_that_takes_longer_than_call_timeout() -> None:
    with WorkerEnvironment(ADAPTER, cwd=TESTS_DIR, env=server_env(), call_timeout=0.5) as env:
        with pytest.raises(TimeoutError, match="call_timeout"):
            env.run("sleeps", seconds=30)
        env.call_timeout = 30
        assert env.run("pair") == [1, 2], "the worker is free again: the timed-out call was cancelled"


def test_a_timed_out_call_has_ended_when_run_raises() -> None:
    # The tool takes a second to clean up once cancelled: its slot is held until then, and a call
    # made at once after an abandoned RPC would be refused (WorkerBusy).
    with WorkerEnvironment(ADAPTER, cwd=TESTS_DIR, env=server_env(), call_timeout=0.3) as env:
        with pytest.raises(TimeoutError, match="call_timeout"):
            env.run("stops_slowly", seconds=30, cleanup_seconds=1)
        env.call_timeout = 30
        assert env.run("pair") == [1, 2]


def test_stop_is_idempotent_and_a_never_started_worker_stops_at_once() -> None:
    assert WorkerEnvironment(ADAPTER).stop() is None
    env = WorkerEnvironment(ADAPTER, cwd=TESTS_DIR, env=server_env()).start()
    assert env.stop() == 0
    assert env.stop() == 0


# --- the package ---------------------------------------------------------------------------------


def _imported_after(code: str) -> list[str]:
    probe = (
        "import json, sys\n"
        f"{code}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'google'))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=server_env(), cwd=TESTS_DIR, capture_output=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr.decode()
    imported: list[str] = json.loads(proc.stdout)
    return imported


def test_import_snakepool_testing_imports_neither_grpc_nor_protobuf() -> None:
    code = (
        "from snakepool.testing import ToolEnvironment\n"
        "from sp_testing_adapters import Recorded\n"
        "ToolEnvironment(Recorded).run('steps', count=1)"
    )
    assert _imported_after(code) == []


def test_a_worker_environment_imports_grpc_when_it_starts() -> None:
    # The check above can fail: the real-process mode brings grpc in.
    code = f"from snakepool.testing import WorkerEnvironment\nWorkerEnvironment({ADAPTER!r}).start().stop()"
    assert "grpc" in _imported_after(code)


def test_the_public_names_are_exported_and_documented() -> None:
    for name in snakepool.testing.__all__:
        obj = getattr(snakepool.testing, name)
        if callable(obj):
            assert obj.__doc__, f"snakepool.testing.{name} has no docstring"
