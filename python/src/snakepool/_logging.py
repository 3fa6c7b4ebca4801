"""JSON-lines logging for the Go side, with worker id, thread name and current call id."""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any, TextIO

__all__ = ["JsonFormatter", "configure", "current_call_id", "set_current_call"]

_local = threading.local()


def set_current_call(call_id: str | None) -> None:
    """Record the call the current thread is running (None when it runs none)."""
    _local.call_id = call_id


def current_call_id() -> str | None:
    """The id of the call the current thread is running, if any."""
    return getattr(_local, "call_id", None)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line.

    Fields: ``time`` (unix seconds, float), ``level``, ``logger``, ``message``, ``thread`` (thread
    name), ``worker_id``, ``call_id`` (when logged inside a call), ``exc`` (formatted traceback, when
    the record carries an exception) and ``stack`` (when it carries stack info).
    """

    def __init__(self, worker_id: str) -> None:
        super().__init__()
        self.worker_id = worker_id

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": record.created,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
            "worker_id": self.worker_id,
        }
        call_id = getattr(record, "call_id", None) or getattr(_local, "call_id", None)
        if call_id:
            line["call_id"] = call_id
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(worker_id: str, log_fd: int | None, level: str = "INFO") -> logging.Handler:
    """Send the root logger's records as JSON lines to ``log_fd`` (stderr when None)."""
    stream: TextIO = open(  # noqa: SIM115 - lives as long as the process
        log_fd if log_fd is not None else 2,
        "w",
        buffering=1,
        encoding="utf-8",
        errors="backslashreplace",
        closefd=log_fd is not None,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(worker_id))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    if log_fd is not None:
        os.set_inheritable(log_fd, False)
    return handler
