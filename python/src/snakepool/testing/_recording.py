"""What both test environments share: the recorded heartbeats, cancellation on demand, resume and info."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._context import CallInfo

__all__ = ["DEFAULT_CANCEL_REASON", "Heartbeat", "Recorder", "default_info", "encode_args"]

#: The reason given to a tool cancelled by :meth:`Recorder.cancel` without one.
DEFAULT_CANCEL_REASON = "cancelled by the test"


@dataclass(frozen=True)
class Heartbeat:
    """One ``ctx.heartbeat(details, progress)`` of a tool, as the Go side receives it.

    Attributes:
        details: The details, decoded from the JSON the tool sent (None when it sent none).
        progress: The progress in [0, 1], or None when the tool gave none.
        details_json: The details as the JSON bytes that travel to Temporal (empty when none).
    """

    details: Any
    progress: float | None
    details_json: bytes

    @classmethod
    def from_wire(cls, details_json: bytes, progress: float) -> Heartbeat:
        """A heartbeat from the bridge's form: JSON bytes (empty: none), progress negative when not given."""
        details = json.loads(details_json) if details_json else None
        return cls(details=details, progress=None if progress < 0 else progress, details_json=details_json)


def default_info(tool: str = "") -> CallInfo:
    """The :class:`~snakepool.CallInfo` a test call gets unless ``info`` is set: a first attempt.

    Change single fields with :func:`dataclasses.replace`, e.g.
    ``env.info = dataclasses.replace(default_info("train"), attempt=2)``.
    """
    return CallInfo(
        workflow_id="test-workflow",
        run_id="test-run",
        activity_id="test-activity",
        activity_type=tool,
        attempt=1,
        task_queue="snakepool.test",
        namespace="default",
    )


def encode_args(tool: str, args: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> bytes:
    """The JSON object of a call's arguments (``args`` updated with ``kwargs``), as the Go side sends it.

    Raises:
        TypeError: an argument is not JSON-serialisable (the bridge only ever receives JSON).
    """
    merged = {**(args or {}), **kwargs}
    try:
        return json.dumps(merged, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"tool '{tool}': the test's arguments are not JSON ({exc}); a tool only ever receives JSON "
            "values: dicts, lists, str, int, float, bool, None"
        ) from None


class Recorder:
    """The recording part of a test environment (see :class:`ToolEnvironment`).

    Attributes:
        info: What the tool sees as ``ctx.info``; None (the default) gives each call
            :func:`default_info` of its tool.
        resume: What the tool sees as ``ctx.resume`` (passed through JSON, as the bridge does);
            None: a first attempt. Set it to a recorded heartbeat's details to test resuming.
        on_heartbeat: Called with each :class:`Heartbeat` as it arrives (it may call
            :meth:`cancel`). Default: None.
        cancel_after_heartbeats: Cancel the call once it has sent this many heartbeats. Default:
            None (never).
        heartbeats: The heartbeats of the current or last call, in order (reset when a call starts).
    """

    def __init__(
        self,
        *,
        resume: Any = None,
        info: CallInfo | None = None,
        on_heartbeat: Callable[[Heartbeat], None] | None = None,
        cancel_after_heartbeats: int | None = None,
    ) -> None:
        self.resume = resume
        self.info = info
        self.on_heartbeat = on_heartbeat
        self.cancel_after_heartbeats = cancel_after_heartbeats
        self.heartbeats: list[Heartbeat] = []
        self._lock = threading.Lock()
        self._pending_cancel: str | None = None
        #: The running calls, each as the environment knows it (a context, a call id).
        self._running: list[Any] = []

    @property
    def last_heartbeat(self) -> Heartbeat | None:
        """The last heartbeat of the current or last call, or None."""
        with self._lock:
            return self.heartbeats[-1] if self.heartbeats else None

    def cancel(self, reason: str = DEFAULT_CANCEL_REASON) -> None:
        """Cancel the running call(s), as a Temporal cancellation does: the tool sees ``ctx.cancelled``.

        Safe to call from any thread and from :attr:`on_heartbeat`. Called while no call runs, it
        cancels the next call before it starts (it then ends ``Cancelled`` without running, as a
        cancel that overtakes its call does on the bridge).
        """
        with self._lock:
            running = list(self._running)
            if not running:
                self._pending_cancel = reason
        self._cancel_calls(running, reason)

    # --- for the environments --------------------------------------------------------------------

    def _info_for(self, tool: str) -> CallInfo:
        return self.info if self.info is not None else default_info(tool)

    def _resume_json(self) -> bytes:
        if self.resume is None:
            return b""
        try:
            return json.dumps(self.resume, allow_nan=False, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"resume is not JSON ({exc}); Temporal records heartbeat details as JSON"
            ) from None

    def _begin(self, call: object) -> str | None:
        """Register a call that starts; return the reason of a cancel that came before it, if any."""
        with self._lock:
            self.heartbeats = []
            self._running.append(call)
            pending, self._pending_cancel = self._pending_cancel, None
        return pending

    def _end(self, call: object) -> None:
        with self._lock:
            self._running.remove(call)

    def _record(self, details_json: bytes, progress: float) -> None:
        """Record a heartbeat, call :attr:`on_heartbeat`, and cancel after ``cancel_after_heartbeats``."""
        heartbeat = Heartbeat.from_wire(details_json, progress)
        with self._lock:
            self.heartbeats.append(heartbeat)
            count = len(self.heartbeats)
        callback = self.on_heartbeat
        if callback is not None:
            callback(heartbeat)
        limit = self.cancel_after_heartbeats
        if limit is not None and count == limit:
            self.cancel(f"cancelled by the test after {limit} heartbeat(s)")

    def _cancel_calls(self, calls: list[Any], reason: str) -> None:
        """Cancel ``calls`` (entries given to :meth:`_begin`) with ``reason``."""
        raise NotImplementedError
