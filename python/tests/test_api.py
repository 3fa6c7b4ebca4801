"""The public API in-process: tools and schemas, the context, thread-safe adapters, threads, checker."""

from __future__ import annotations

import enum
import json
import logging
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal

import pytest

import snakepool
from snakepool import (
    Adapter,
    Cancelled,
    DedicatedThread,
    InvalidArguments,
    ThreadSafeAdapter,
    ThreadSafetyChecker,
    ThreadSafetyViolation,
    ToolContext,
    call_in_thread,
    collect_tools,
    thread_safe_method,
    tool,
)


def test_all_is_explicit_and_documented() -> None:
    for name in snakepool.__all__:
        obj = getattr(snakepool, name)
        if callable(obj) and name != "__version__":
            assert obj.__doc__, f"{name} has no docstring"


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Tools(Adapter):
    @tool
    def plain(self, x):  # type: ignore[no-untyped-def]
        """First paragraph
        continues here.

        Args:
            x: anything at all,
                on two lines.
        """
        return x

    @tool(name="renamed", description="explicit")
    def original(self, a: int, b: Annotated[str, "a label"] = "z", *, c: float | None = None) -> None:
        pass

    @tool
    def kinds(
        self,
        color: Color,
        pair: tuple[int, str],
        nums: tuple[int, ...],
        lit: Literal[1, 2],
        anything: Any,
        ctx: ToolContext,
        **extra: Any,
    ) -> dict[str, Any]:
        return {"color": color, "pair": pair, "nums": nums, "extra": extra, "ctx": ctx}

    def not_a_tool(self) -> None:
        pass


def test_collect_tools_and_schemas() -> None:
    tools = collect_tools(Tools)
    assert list(tools) == ["plain", "renamed", "kinds"]
    plain = tools["plain"]
    assert plain.description == "First paragraph continues here."
    assert plain.input_schema["properties"]["x"] == {"description": "anything at all, on two lines."}
    renamed = tools["renamed"]
    assert renamed.attribute == "original" and renamed.description == "explicit"
    props = renamed.input_schema["properties"]
    assert props["b"] == {"type": "string", "description": "a label", "default": "z"}
    assert props["c"] == {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None}
    kinds = tools["kinds"]
    assert kinds.wants_context == "ctx" and kinds.accepts_extra
    assert "ctx" not in kinds.input_schema["properties"]
    assert kinds.input_schema["additionalProperties"] is True
    assert kinds.input_schema["properties"]["color"] == {"enum": ["red", "blue"]}
    assert json.loads(kinds.input_schema_json) == kinds.input_schema


def test_binding_converts_and_passes_context() -> None:
    spec = collect_tools(Tools)["kinds"]
    ctx = ToolContext()
    kwargs = spec.bind(
        {"color": "blue", "pair": [1, "a"], "nums": [1, 2], "lit": 2, "anything": {"k": [1]}, "more": 1}, ctx
    )
    assert kwargs["color"] is Color.BLUE and kwargs["pair"] == (1, "a") and kwargs["nums"] == (1, 2)
    assert kwargs["ctx"] is ctx and kwargs["more"] == 1
    with pytest.raises(InvalidArguments, match=r"argument 'pair\[1\]': expected string"):
        spec.bind({"color": "red", "pair": [1, 2], "nums": [], "lit": 1, "anything": None}, ctx)
    with pytest.raises(InvalidArguments, match="argument 'color': expected one of"):
        spec.bind({"color": "green", "pair": [1, "a"], "nums": [], "lit": 1, "anything": None}, ctx)
    with pytest.raises(InvalidArguments, match="argument 'lit'"):
        spec.bind({"color": "red", "pair": [1, "a"], "nums": [], "lit": True, "anything": None}, ctx)


def test_parse_arguments() -> None:
    spec = collect_tools(Tools)["renamed"]
    assert spec.parse(b"") == {}
    assert spec.parse(b'{"a": 1}') == {"a": 1}
    with pytest.raises(InvalidArguments, match="must be a JSON object, got string"):
        spec.parse(b'"a"')


def test_bad_tool_definitions_are_refused() -> None:
    class Dup(Adapter):
        @tool(name="same")
        def one(self) -> None: ...

        @tool(name="same")
        def two(self) -> None: ...

    with pytest.raises(TypeError, match="two methods register the tool name 'same'"):
        collect_tools(Dup)

    class PosOnly(Adapter):
        @tool
        def f(self, a: int, /) -> None: ...

    with pytest.raises(TypeError, match="positional-only"):
        collect_tools(PosOnly)


def test_subclass_inherits_and_overrides_tools() -> None:
    class Base(Adapter):
        @tool
        def a(self) -> int:
            return 1

        @tool
        def b(self) -> int:
            return 2

    class Child(Base):
        def b(self) -> int:  # overriding without @tool removes the tool
            return 3

        @tool
        def c(self) -> int:
            return 4

    assert list(collect_tools(Child)) == ["a", "c"]


def test_tool_context_heartbeat_cancel_and_sleep() -> None:
    beats: list[tuple[bytes, float]] = []
    ctx = ToolContext(
        call_id="c", tool="t", resume={"epoch": 2}, on_heartbeat=lambda d, p: beats.append((d, p))
    )
    ctx.heartbeat()
    ctx.heartbeat({"epoch": 3}, progress=0.5)
    assert beats == [(b"", -1.0), (b'{"epoch":3}', 0.5)]
    with pytest.raises(ValueError, match="progress"):
        ctx.heartbeat(progress=1.5)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        ctx.heartbeat({1, 2})
    assert ctx.resume == {"epoch": 2} and ctx.info.attempt == 0
    assert not ctx.cancelled and not ctx.wait_cancelled(0)
    ctx.check_cancelled()
    ctx.sleep(0)
    threading.Timer(0.05, ctx.cancel, args=("from a timer",)).start()
    with pytest.raises(Cancelled, match="from a timer"):
        ctx.sleep(30)
    assert ctx.cancelled and ctx.cancel_reason == "from a timer"
    with pytest.raises(Cancelled):
        ctx.check_cancelled()
    assert isinstance(ctx.logger, logging.LoggerAdapter) and ctx.logger.extra == {"call_id": "c"}


def test_tool_context_cancelled_before_anyone_waits() -> None:
    ctx = ToolContext(call_id="c", tool="t")
    ctx.cancel("early")
    ctx.cancel("late")  # the first reason stays
    began = time.monotonic()
    assert ctx.wait_cancelled(30)
    with pytest.raises(Cancelled, match="early"):
        ctx.sleep(30)
    assert time.monotonic() - began < 5


class Counter(ThreadSafeAdapter):
    __thread_safe__ = True

    def __init__(self) -> None:  # deliberately no super().__init__(): the base still works
        self.count = 0

    @thread_safe_method
    def add(self) -> int:
        with self.acquire_lock():
            self.count += 1
            return self.count

    @thread_safe_method
    def add_twice(self) -> int:
        self.add()  # nested: counted once
        return self.add()

    @thread_safe_method
    def cached(self, key: str) -> int:
        cache = self.get_thread_local("cache", {})
        cache[key] = cache.get(key, 0) + 1
        self.set_thread_local("cache", cache)
        return int(cache[key])


def test_thread_safe_adapter_patterns_and_stats() -> None:
    adapter = Counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: adapter.add_twice(), range(500)))
    assert adapter.count == 1000
    stats = adapter.get_stats()
    assert stats["total_requests"] == 500 and stats["active_requests"] == 0 and stats["max_workers"] is None
    assert sum(stats["requests_per_thread"].values()) == 500
    assert adapter.cached("k") == 1 and adapter.cached("k") == 2
    other = threading.Thread(target=lambda: results.append(adapter.cached("k")))
    results: list[int] = []
    other.start()
    other.join(5)
    assert results == [1]  # another thread has its own cache
    assert adapter.get_thread_local("missing", 7) == 7
    assert getattr(Counter.add, "__snakepool_thread_safe__", False)


def test_dedicated_thread_runs_everything_on_one_thread() -> None:
    with DedicatedThread("db-thread") as db:
        conn = db.call(sqlite3.connect, ":memory:")
        db.call(conn.execute, "create table t (x)")
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: db.call(conn.execute, "insert into t values (?)", (i,)), range(50)))
        assert db.call(lambda: conn.execute("select count(*) from t").fetchone()[0]) == 50
        assert db.call(lambda: threading.current_thread().name) == "db-thread"
        assert db.call(lambda: db.call(lambda: 5)) == 5  # nested calls run inline
        with pytest.raises(ZeroDivisionError):
            db.call(lambda: 1 / 0)
        with pytest.raises(sqlite3.ProgrammingError):  # the reason it exists
            conn.execute("select 1")
        db.call(conn.close)


def test_call_in_thread_uses_one_default_thread() -> None:
    names = {call_in_thread(lambda: threading.current_thread().name) for _ in range(5)}
    assert names == {"snakepool-dedicated"}
    assert call_in_thread(pow, 2, 10) == 1024


def test_checker_directly() -> None:
    class Unsafe(Adapter):
        def __init__(self) -> None:
            self.inside = threading.Barrier(2)

        def work(self) -> None:
            self.inside.wait(5)

        @thread_safe_method
        def safe(self) -> None:
            self.inside.wait(5)

    checker = ThreadSafetyChecker(strict=False)
    adapter = Unsafe()
    assert checker.instrument(adapter) == ["work"]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda i: adapter.work(), range(2)))
    adapter.inside = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda i: adapter.safe(), range(2)))
    report = checker.get_report()
    assert report["concurrent_methods"] == {"work": 2} and report["violations"] == 0

    strict = ThreadSafetyChecker(strict=True)
    strict.enter("m")
    errors: list[BaseException] = []

    def second() -> None:
        try:
            strict.enter("m")
        except ThreadSafetyViolation as exc:
            errors.append(exc)

    t = threading.Thread(target=second)
    t.start()
    t.join(5)
    strict.exit("m")
    assert len(errors) == 1 and strict.get_report()["violations"] == 1
    strict.enter("m")  # alone again: fine, and re-entry on one thread is not concurrency
    strict.enter("m")
    strict.exit("m")
    strict.exit("m")


def test_checker_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pandas", sys)
    assert ThreadSafetyChecker(concurrent=False).check_libraries() == ["pandas", "sqlite3"]
    with pytest.raises(ThreadSafetyViolation, match="pandas"):
        ThreadSafetyChecker(strict=True).check_libraries()
    checker = ThreadSafetyChecker()
    assert checker.check_libraries() == ["pandas", "sqlite3"]
    assert checker.check_libraries() == []  # reported once
    assert checker.get_report()["unsafe_libraries"] == ["pandas", "sqlite3"]
