"""A runtime checker for thread-safety mistakes (``--thread-safety-check``)."""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import threading
from typing import Any

from ._errors import ThreadSafetyViolation
from ._tool import THREAD_SAFE_ATTR

__all__ = ["UNSAFE_LIBRARIES", "ThreadSafetyChecker"]

#: Libraries known not to be safe for concurrent use from several threads, with the usual workaround.
UNSAFE_LIBRARIES: dict[str, str] = {
    "pandas": "DataFrames are not safe to share between threads: lock around them or use the process profile",
    "matplotlib": "pyplot's global state is not thread-safe: use one Figure per call and no pyplot, "
    "or the process profile",
    "sqlite3": "a connection must stay on the thread that created it: use one connection per thread or "
    "snakepool.DedicatedThread / call_in_thread",
}

_SKIP = frozenset({"setup", "teardown"})


class ThreadSafetyChecker:
    """Reports (or, in strict mode, refuses) thread-safety mistakes while an adapter runs.

    It reports methods of the adapter that several threads enter at the same time without being
    marked :func:`~snakepool.thread_safe_method`, and imports of libraries known to be thread-unsafe
    (see :data:`UNSAFE_LIBRARIES`) when tools run on several threads. Findings are logged as warnings
    on the ``snakepool.threadsafety`` logger; in strict mode they raise
    :class:`~snakepool.ThreadSafetyViolation` in the offending call instead.

    Args:
        strict: Raise instead of only warning.
        concurrent: Whether tools run on several threads (the thread profile). Unsafe libraries are
            only a finding then.
        logger: Where findings go.
    """

    def __init__(
        self, *, strict: bool = False, concurrent: bool = True, logger: logging.Logger | None = None
    ):
        self.strict = strict
        self.concurrent = concurrent
        self.logger = logger or logging.getLogger("snakepool.threadsafety")
        self._lock = threading.Lock()
        self._inside: dict[str, dict[int, int]] = {}
        self._max_threads: dict[str, int] = {}
        self._libraries: dict[str, str] = {}
        self._violations = 0

    # --- methods ---------------------------------------------------------------------------------

    def instrument(self, adapter: object) -> list[str]:
        """Wrap the adapter's own methods not marked ``@thread_safe_method``, on the instance.

        Only methods defined by the adapter's classes (not by snakepool's base classes) are wrapped;
        ``setup``, ``teardown`` and dunder methods are left alone. Returns the wrapped names.
        """
        wrapped: list[str] = []
        seen: set[str] = set()
        for klass in type(adapter).__mro__:
            if klass.__module__.startswith("snakepool._") or klass is object:
                continue
            for name, attr in vars(klass).items():
                if name in seen:
                    continue
                seen.add(name)
                if name.startswith("__") or name in _SKIP or not inspect.isfunction(attr):
                    continue
                if getattr(attr, THREAD_SAFE_ATTR, False):
                    continue
                setattr(adapter, name, self._wrap(name, getattr(adapter, name)))
                wrapped.append(name)
        return wrapped

    def _wrap(self, name: str, method: Any) -> Any:
        @functools.wraps(method)
        def checked(*args: Any, **kwargs: Any) -> Any:
            self.enter(name)
            try:
                return method(*args, **kwargs)
            finally:
                self.exit(name)

        return checked

    def enter(self, name: str) -> None:
        """Record that the current thread enters method ``name``; report concurrent entries."""
        me = threading.get_ident()
        with self._lock:
            threads = self._inside.setdefault(name, {})
            threads[me] = threads.get(me, 0) + 1
            count = len(threads)
            report = count > 1 and count > self._max_threads.get(name, 1)
            if count > self._max_threads.get(name, 0):
                self._max_threads[name] = count
            if count > 1 and self.strict:
                self._violations += 1
                self._leave(threads, me)
        if count > 1:
            message = (
                f"THREAD SAFETY: method '{name}' entered by {count} threads at once but is not marked "
                "@thread_safe_method; protect shared state with acquire_lock() and mark it, "
                "or use the process profile"
            )
            if self.strict:
                self.logger.error(message)
                raise ThreadSafetyViolation(message)
            if report:
                self.logger.warning(message)

    def exit(self, name: str) -> None:
        """Record that the current thread leaves method ``name``."""
        with self._lock:
            threads = self._inside.get(name)
            if threads is not None:
                self._leave(threads, threading.get_ident())

    @staticmethod
    def _leave(threads: dict[int, int], me: int) -> None:
        left = threads.get(me, 0) - 1
        if left <= 0:
            threads.pop(me, None)
        else:
            threads[me] = left

    # --- libraries -------------------------------------------------------------------------------

    def check_libraries(self) -> list[str]:
        """Report unsafe libraries imported since the last check; return their names.

        Raises:
            ThreadSafetyViolation: in strict mode, when tools run on several threads.
        """
        modules = sys.modules
        found = [lib for lib in UNSAFE_LIBRARIES if lib in modules and lib not in self._libraries]
        if not found:
            return []
        with self._lock:
            found = [lib for lib in found if lib not in self._libraries]
            for lib in found:
                self._libraries[lib] = UNSAFE_LIBRARIES[lib]
        for lib in found:
            message = f"THREAD SAFETY: unsafe library '{lib}' imported: {UNSAFE_LIBRARIES[lib]}"
            if not self.concurrent:
                self.logger.info("%s (harmless here: calls run one at a time)", message)
            elif self.strict:
                self._violations += 1
                self.logger.error(message)
                raise ThreadSafetyViolation(message)
            else:
                self.logger.warning(message)
        return found

    def get_report(self) -> dict[str, Any]:
        """Findings so far: ``{"concurrent_methods": {name: max threads}, "unsafe_libraries": [...],
        "violations": int}`` (concurrent_methods lists methods entered by more than one thread)."""
        with self._lock:
            return {
                "concurrent_methods": {n: c for n, c in self._max_threads.items() if c > 1},
                "unsafe_libraries": sorted(self._libraries),
                "violations": self._violations,
            }
