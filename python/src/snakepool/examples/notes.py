"""A thread-mode adapter that keeps notes in SQLite, which must stay on one thread.

``sqlite3`` connections may only be used on the thread that created them, while thread-mode tools
run on many threads. The adapter therefore opens the connection on a :class:`~snakepool.DedicatedThread`
and runs every query there with ``self.db.call(...)``: the pattern of ``call_in_thread`` from the
classic threading guides.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from snakepool import DedicatedThread, ThreadSafeAdapter, thread_safe_method, tool

__all__ = ["NotesAdapter"]


class NotesAdapter(ThreadSafeAdapter):
    """Add, count and list notes in an in-memory SQLite database owned by one dedicated thread."""

    __thread_safe__ = True

    def setup(self) -> None:
        self.db = DedicatedThread("snakepool-sqlite")
        self.conn: sqlite3.Connection = self.db.call(sqlite3.connect, ":memory:")
        self.db.call(self.conn.execute, "create table notes (id integer primary key, text text not null)")

    def teardown(self) -> None:
        self.db.call(self.conn.close)
        self.db.close()

    def _add(self, text: str) -> int:
        cur = self.conn.execute("insert into notes (text) values (?)", (text,))
        self.conn.commit()
        return int(cur.lastrowid or 0)

    @thread_safe_method
    @tool(description="Store a note and return its id")
    def add_note(self, text: str) -> int:
        return self.db.call(self._add, text)

    @thread_safe_method
    @tool(description="Number of notes stored")
    def count_notes(self) -> int:
        return int(self.db.call(lambda: self.conn.execute("select count(*) from notes").fetchone()[0]))

    @thread_safe_method
    @tool(description="The last `limit` notes, newest first")
    def list_notes(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.db.call(
            lambda: self.conn.execute(
                "select id, text from notes order by id desc limit ?", (limit,)
            ).fetchall()
        )
        return [{"id": r[0], "text": r[1]} for r in rows]
