"""Running functions on one dedicated thread (for libraries such as sqlite3)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["DedicatedThread", "call_in_thread"]

T = TypeVar("T")


class DedicatedThread:
    """One long-lived thread that runs every function submitted to it, one at a time, in order.

    Use it for libraries whose objects must only be used from the thread that created them (an
    ``sqlite3`` connection, some GUI or driver handles), while tools run on many threads::

        db = DedicatedThread("sqlite")
        conn = db.call(sqlite3.connect, "data.db")
        rows = db.call(lambda: conn.execute("select 1").fetchall())

    Calls from the dedicated thread itself run inline, so nested calls do not deadlock.

    Args:
        name: The thread name (shown in logs).
    """

    def __init__(self, name: str = "snakepool-dedicated") -> None:
        self.name = name
        self._ident: int | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=name, initializer=self._record_thread
        )

    def _record_thread(self) -> None:
        self._ident = threading.get_ident()
        threading.current_thread().name = self.name

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Queue ``fn(*args, **kwargs)`` on the thread and return a future of its result."""
        if self._ident is not None and threading.get_ident() == self._ident:
            inline: Future[T] = Future()
            try:
                inline.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                inline.set_exception(exc)
            return inline
        return self._executor.submit(fn, *args, **kwargs)

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the thread, wait, and return its result (or raise its exception)."""
        return self.submit(fn, *args, **kwargs).result()

    def close(self, wait: bool = True) -> None:
        """Stop the thread once queued calls are done."""
        self._executor.shutdown(wait=wait)

    def __enter__(self) -> DedicatedThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: DedicatedThread | None = None
_default_lock = threading.Lock()


def call_in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on the process's default :class:`DedicatedThread` and return its result.

    Every ``call_in_thread`` of a process runs on the same thread, named ``snakepool-dedicated``, so
    objects created there may be used there from any tool: the pattern of ``call_in_thread(T, f)``
    in the classic threading guides, without managing the thread.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = DedicatedThread()
    return _default.call(fn, *args, **kwargs)
