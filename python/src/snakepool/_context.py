"""The per-call context a tool receives: heartbeats, cancellation, resume details and call info."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._errors import Cancelled

__all__ = ["CallInfo", "ToolContext"]

HeartbeatSink = Callable[[bytes, float], None]

# Guards the lazy creation of a context's cancel Event against a concurrent cancel(). Most calls
# never wait for cancellation, so they do not pay for an Event (a Condition and two locks).
_event_lock = threading.Lock()


@dataclass(frozen=True)
class CallInfo:
    """Where a call comes from. Temporal fields are empty (and ``attempt`` is 0) outside Temporal.

    Attributes:
        workflow_id: The Temporal workflow id.
        run_id: The workflow run id.
        activity_id: The activity id.
        activity_type: The activity type name.
        attempt: The attempt number, 1 for the first attempt.
        task_queue: The Temporal task queue.
        namespace: The Temporal namespace.
    """

    workflow_id: str = ""
    run_id: str = ""
    activity_id: str = ""
    activity_type: str = ""
    attempt: int = 0
    task_queue: str = ""
    namespace: str = ""


_NO_INFO = CallInfo()


class ToolContext:
    """What a tool that declares a ``ctx`` parameter receives for one call.

    The bridge creates one per call. To unit-test a tool without the bridge, build one yourself,
    e.g. ``ToolContext(resume={"epoch": 3}, on_heartbeat=lambda details, progress: ...)`` and call
    :meth:`cancel` to simulate a cancellation.

    Args:
        call_id: The id of the call (unique per Go worker).
        tool: The tool name.
        info: Where the call comes from.
        resume: Decoded details of the last heartbeat of a previous attempt, or None.
        on_heartbeat: Receives ``(details_json_bytes, progress)`` of each heartbeat, progress being
            negative when not given.
    """

    __slots__ = (
        "_cancelled",
        "_event",
        "_logger",
        "_on_heartbeat",
        "_reason",
        "call_id",
        "info",
        "resume",
        "tool",
    )

    def __init__(
        self,
        *,
        call_id: str = "local",
        tool: str = "",
        info: CallInfo | None = None,
        resume: Any = None,
        on_heartbeat: HeartbeatSink | None = None,
    ) -> None:
        self.call_id = call_id
        self.tool = tool
        self.info = info if info is not None else _NO_INFO
        self.resume = resume
        self._on_heartbeat = on_heartbeat
        self._cancelled = False
        self._event: threading.Event | None = None
        self._reason = ""
        self._logger: logging.LoggerAdapter[logging.Logger] | None = None

    # --- heartbeats ------------------------------------------------------------------------------

    def heartbeat(self, details: Any = None, progress: float | None = None) -> None:
        """Report liveness (and optionally progress and checkpoint details) to the Go side now.

        Temporal records ``details``; if the activity is retried, the next attempt receives the
        details of the last heartbeat as :attr:`resume`, so put what you need to continue there
        (an epoch number, a checkpoint, an offset).

        Args:
            details: Any JSON-serialisable value, or None.
            progress: Optional fraction done, in [0, 1].

        Raises:
            TypeError: ``details`` is not JSON-serialisable.
            ValueError: ``progress`` is outside [0, 1].
        """
        if progress is None:
            p = -1.0
        else:
            p = float(progress)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"heartbeat progress must be in [0, 1], got {progress!r}")
        if details is None:
            payload = b""
        else:
            try:
                payload = json.dumps(details, allow_nan=False, separators=(",", ":")).encode()
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"tool '{self.tool}': heartbeat details must be JSON-serialisable ({exc}); "
                    "convert NumPy values with .tolist(), int() or float()"
                ) from None
        sink = self._on_heartbeat
        if sink is not None:
            sink(payload, p)

    # --- cancellation ----------------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        """True once the call has been cancelled (by the Go side, or because the worker stops)."""
        return self._cancelled

    @property
    def cancel_reason(self) -> str:
        """Why the call was cancelled ('' while it is not)."""
        return self._reason

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the call has been cancelled; call it between steps of long work."""
        if self._cancelled:
            raise Cancelled(self._cancelled_message())

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        """Block until the call is cancelled or ``timeout`` seconds pass; return whether it was cancelled."""
        return self._wait(timeout)

    def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds``, waking at once and raising :class:`Cancelled` if the call is cancelled."""
        if self._wait(seconds if seconds > 0 else 0):
            raise Cancelled(self._cancelled_message())

    def cancel(self, reason: str = "") -> None:
        """Mark the call as cancelled. The bridge calls it; tests of tools may call it too."""
        with _event_lock:
            if self._cancelled:
                return
            self._reason = reason or "cancelled"
            self._cancelled = True
            event = self._event
        if event is not None:
            event.set()

    def _wait(self, timeout: float | None) -> bool:
        event = self._event
        if event is None:
            with _event_lock:
                event = self._event
                if event is None:
                    event = self._event = threading.Event()
                    if self._cancelled:
                        event.set()
        return event.wait(timeout)

    def _cancelled_message(self) -> str:
        return f"call {self.call_id} of tool '{self.tool}' was cancelled: {self._reason}"

    # --- logging ---------------------------------------------------------------------------------

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger named ``snakepool.tool.<tool>`` whose records carry this call's id."""
        if self._logger is None:
            self._logger = logging.LoggerAdapter(
                logging.getLogger(f"snakepool.tool.{self.tool}" if self.tool else "snakepool.tool"),
                {"call_id": self.call_id},
            )
        return self._logger

    def __repr__(self) -> str:
        return f"ToolContext(call_id={self.call_id!r}, tool={self.tool!r}, cancelled={self.cancelled})"
