"""A non-thread-safe library served from a thread pool, on one dedicated thread (docs/examples.md).

``sqlite3`` connections may only be used by the thread that created them, while the thread profile
runs tools on several threads at once. Every use of the connection therefore goes through
:func:`snakepool.call_in_thread`, which runs it on the process's one dedicated thread
(``snakepool-dedicated``), one call at a time, in order: the ``call_in_thread(T, f)`` pattern of the
classic threading guides. The tools themselves run concurrently on the pool's threads; only the
database work is serialised.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

from snakepool import ThreadSafeAdapter, ToolContext, call_in_thread, thread_safe_method, tool

__all__ = ["InventoryAdapter"]


class InventoryAdapter(ThreadSafeAdapter):
    """Record stock movements in an in-memory SQLite database owned by the dedicated thread."""

    __thread_safe__ = True

    def setup(self) -> None:
        # check_same_thread=True (the default): sqlite3 itself raises ProgrammingError if any other
        # thread touches the connection, so this example would fail loudly if the pattern broke.
        self.conn: sqlite3.Connection = call_in_thread(sqlite3.connect, ":memory:")
        call_in_thread(self.conn.execute, "create table moves (item text not null, qty integer not null)")

    def teardown(self) -> None:
        call_in_thread(self.conn.close)

    def _record(self, item: str, qty: int) -> tuple[int, str]:
        self.conn.execute("insert into moves (item, qty) values (?, ?)", (item, qty))
        self.conn.commit()
        (stock,) = self.conn.execute("select sum(qty) from moves where item = ?", (item,)).fetchone()
        return int(stock), threading.current_thread().name

    @thread_safe_method
    @tool(
        description="Record a stock movement (after checking it for `work_seconds`) and return the new stock"
    )
    def record(self, item: str, qty: int, ctx: ToolContext, work_seconds: float = 0.0) -> dict[str, Any]:
        """Validate the movement on the tool's own thread, then write it on the dedicated thread.

        Args:
            item: The item's name.
            qty: Units in (positive) or out (negative).
            work_seconds: Time spent before the write, standing for work that needs no database.
        """
        ctx.sleep(work_seconds)  # runs concurrently on the pool's threads
        stock, db_thread = call_in_thread(self._record, item, qty)
        return {
            "item": item,
            "stock": stock,
            "tool_thread": threading.current_thread().name,
            "db_thread": db_thread,
        }

    @thread_safe_method
    @tool(description="The stock of every item, and the thread that read it")
    def stock(self) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            rows = self.conn.execute(
                "select item, sum(qty) from moves group by item order by item"
            ).fetchall()
            return {
                "stock": {item: int(qty) for item, qty in rows},
                "db_thread": threading.current_thread().name,
            }

        started = time.perf_counter()
        out = call_in_thread(read)
        return out | {"seconds": round(time.perf_counter() - started, 6)}
