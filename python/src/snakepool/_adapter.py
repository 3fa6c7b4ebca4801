"""Adapter base classes and the ``@thread_safe_method`` marker."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar, TypeVar, cast

from ._tool import THREAD_SAFE_ATTR

__all__ = ["Adapter", "ThreadSafeAdapter", "thread_safe_method"]

F = TypeVar("F", bound=Callable[..., Any])


class Adapter:
    """Base class of adapters: a set of ``@tool`` methods served by one Python process.

    The bridge creates exactly one instance per process (with no arguments), calls :meth:`setup`
    once before serving, runs every call of that process on that instance, and calls
    :meth:`teardown` when the process stops gracefully (SIGTERM/SIGINT).

    In the ``process`` profile calls run one at a time, so an ``Adapter`` needs no locking. To run in
    the ``thread`` profile, derive from :class:`ThreadSafeAdapter` instead.

    Example::

        class Greeter(Adapter):
            def setup(self) -> None:
                self.greeting = "hello"  # load models and other shared state here

            @tool(description="Greet someone")
            def greet(self, name: str) -> str:
                return f"{self.greeting} {name}"
    """

    #: Set it to True on a class whose tools may run on several threads at once.
    __thread_safe__: ClassVar[bool] = False

    def setup(self) -> None:
        """Prepare shared state once per process (load a model, open files). Default: nothing."""

    def teardown(self) -> None:
        """Release resources when the process stops gracefully. Default: nothing."""


class _Depth(threading.local):
    depth = 0


class ThreadSafeAdapter(Adapter):
    """Base class of adapters that can run in the ``thread`` profile (several calls at once).

    The class must also declare ``__thread_safe__ = True``: the thread profile refuses an adapter
    that does not, since several threads call its tools at the same time. Use the three safety
    patterns:

    1. **Shared read-only state**: load it in :meth:`setup` (or ``__init__``) and never change it.
    2. **Thread-local state**: :meth:`get_thread_local` / :meth:`set_thread_local` for per-thread caches.
    3. **Locked shared mutable state**: ``with self.acquire_lock(): ...`` around every read-modify-write.

    Mark methods reviewed as safe with :func:`thread_safe_method`, so that the thread-safety checker
    (``--thread-safety-check``) does not report them. :meth:`get_stats` reports request counts.
    """

    _snakepool_lock: threading.RLock
    _snakepool_local: threading.local
    _snakepool_stats_lock: threading.Lock
    _snakepool_depth: _Depth
    _snakepool_total: int
    _snakepool_active: int
    _snakepool_per_thread: dict[str, int]
    _snakepool_max_workers: int | None

    def __new__(cls, *args: Any, **kwargs: Any) -> ThreadSafeAdapter:
        # State lives in __new__ so that a subclass __init__ that forgets super().__init__() still works.
        self = super().__new__(cls)
        self._snakepool_lock = threading.RLock()
        self._snakepool_local = threading.local()
        self._snakepool_stats_lock = threading.Lock()
        self._snakepool_depth = _Depth()
        self._snakepool_total = 0
        self._snakepool_active = 0
        self._snakepool_per_thread = {}
        self._snakepool_max_workers = None
        return self

    def acquire_lock(self) -> AbstractContextManager[bool]:
        """The adapter's reentrant lock, for ``with self.acquire_lock(): ...`` around shared mutable state.

        Hold it briefly: compute first, then lock only to update shared state.
        """
        return self._snakepool_lock

    def get_thread_local(self, key: str, default: Any = None) -> Any:
        """What the current thread stored under ``key`` with :meth:`set_thread_local`, else ``default``."""
        store: dict[str, Any] | None = getattr(self._snakepool_local, "store", None)
        if store is None:
            return default
        return store.get(key, default)

    def set_thread_local(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` for the current thread only."""
        store: dict[str, Any] | None = getattr(self._snakepool_local, "store", None)
        if store is None:
            store = {}
            self._snakepool_local.store = store
        store[key] = value

    def get_stats(self) -> dict[str, Any]:
        """Request statistics of this adapter instance.

        Returns:
            ``{"total_requests": int, "active_requests": int, "max_workers": int | None,
            "requests_per_thread": {thread_name: int}}``. A request is one tool call made by the
            bridge or one outermost call of a ``@thread_safe_method``; nested calls count once.
        """
        with self._snakepool_stats_lock:
            return {
                "total_requests": self._snakepool_total,
                "active_requests": self._snakepool_active,
                "max_workers": self._snakepool_max_workers,
                "requests_per_thread": dict(self._snakepool_per_thread),
            }

    def _snakepool_enter(self) -> bool:
        depth = self._snakepool_depth
        depth.depth += 1
        if depth.depth != 1:
            return False
        name = threading.current_thread().name
        with self._snakepool_stats_lock:
            self._snakepool_total += 1
            self._snakepool_active += 1
            self._snakepool_per_thread[name] = self._snakepool_per_thread.get(name, 0) + 1
        return True

    def _snakepool_exit(self, outermost: bool) -> None:
        self._snakepool_depth.depth -= 1
        if outermost:
            with self._snakepool_stats_lock:
                self._snakepool_active -= 1


def thread_safe_method(fn: F) -> F:
    """Mark an adapter method as reviewed for concurrent use, and count its calls in ``get_stats()``.

    The thread-safety checker does not report methods marked this way. The marker is a promise you
    make, not a lock: protect shared mutable state with :meth:`ThreadSafeAdapter.acquire_lock`.
    Combine freely with ``@tool``, in either order.
    """

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        enter = getattr(self, "_snakepool_enter", None)
        if enter is None:
            return fn(self, *args, **kwargs)
        outermost = enter()
        try:
            return fn(self, *args, **kwargs)
        finally:
            self._snakepool_exit(outermost)

    setattr(wrapper, THREAD_SAFE_ATTR, True)
    return cast(F, wrapper)
