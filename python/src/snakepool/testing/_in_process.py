"""``ToolEnvironment``: run a tool in the test's own process, with a recording context."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from .._adapter import Adapter, ThreadSafeAdapter
from .._context import CallInfo, ToolContext
from .._errors import Cancelled, InvalidResult, ToolNotFound
from .._loading import load_adapter
from .._tool import ToolSpec, collect_tools
from ._recording import Heartbeat, Recorder, encode_args

__all__ = ["ToolEnvironment"]

#: Encodes results as the bridge does (no NaN, compact).
_encode_result = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


class ToolEnvironment(Recorder):
    """Runs the tools of an adapter in this process, the way the bridge runs them, for pytest.

    In the spirit of the Temporal Python SDK's ``ActivityEnvironment``: each :meth:`run` calls the
    tool's method with a real :class:`~snakepool.ToolContext` whose heartbeats are recorded
    (:attr:`heartbeats`, :attr:`on_heartbeat`), which can be cancelled on demand (:meth:`cancel`,
    :attr:`cancel_after_heartbeats`), and whose ``resume`` and ``info`` are preset. The arguments
    travel as JSON and are bound as the bridge binds them, so wrong arguments raise
    :class:`~snakepool.InvalidArguments` before the tool runs; a call that was cancelled raises
    :class:`~snakepool.Cancelled` even if the tool returned; a result that is not JSON raises
    :class:`~snakepool.InvalidResult`; any other exception of the tool propagates as it is.

    Example::

        def test_train_resumes() -> None:
            with ToolEnvironment(Trainer) as env:
                env.cancel_after_heartbeats = 2
                with pytest.raises(Cancelled):
                    env.run("train", epochs=5)
                env.resume = env.last_heartbeat.details
                assert env.run("train", epochs=5)["started_from_epoch"] == 2

    Args:
        adapter: An adapter class (instantiated once, with ``setup()`` run before the first call
            and ``teardown()`` by :meth:`close`), its ``"module:Class"`` name, or an instance
            (used as given: neither ``setup()`` nor ``teardown()`` is called).
        resume: Preset :attr:`resume`.
        info: Preset :attr:`info`.
        on_heartbeat: Preset :attr:`on_heartbeat`.
        cancel_after_heartbeats: Preset :attr:`cancel_after_heartbeats`.

    Calls run on the calling thread. Several threads may call :meth:`run` at once (a thread-safe
    adapter's concurrent calls); :meth:`cancel` then cancels all of them, and :attr:`heartbeats`
    holds those of the last call started.
    """

    def __init__(
        self,
        adapter: Adapter | type[Adapter] | str,
        *,
        resume: Any = None,
        info: CallInfo | None = None,
        on_heartbeat: Callable[[Heartbeat], None] | None = None,
        cancel_after_heartbeats: int | None = None,
    ) -> None:
        super().__init__(
            resume=resume,
            info=info,
            on_heartbeat=on_heartbeat,
            cancel_after_heartbeats=cancel_after_heartbeats,
        )
        cls: type[Adapter]
        self._instance: Adapter | None = None
        #: Whether this environment creates the instance (and so runs its setup and teardown).
        self._owned = not isinstance(adapter, Adapter)
        if isinstance(adapter, Adapter):
            cls, self._instance = type(adapter), adapter
        else:
            cls = load_adapter(adapter) if isinstance(adapter, str) else adapter
            if not (isinstance(cls, type) and issubclass(cls, Adapter)):
                raise TypeError(f"{cls!r} is not a subclass of snakepool.Adapter")
        self._cls = cls
        self._set_up = False
        self._ids = itertools.count(1)
        #: The adapter's tools by name, as the bridge collects them.
        self.tools: dict[str, ToolSpec] = collect_tools(cls)

    @property
    def adapter(self) -> Adapter:
        """The adapter instance the calls run on (created and set up on first use)."""
        if self._instance is None:
            self._instance = self._cls()
        if self._owned and not self._set_up:
            self._set_up = True
            self._instance.setup()
        return self._instance

    def run(self, tool: str, args: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Any:
        """Run ``tool`` once with ``args`` (and/or keyword arguments) and return its result.

        The result is what the Go side would receive: the return value passed through JSON.

        Raises:
            ToolNotFound: the adapter has no such tool.
            InvalidArguments: the arguments do not fit the tool's parameters.
            Cancelled: the call was cancelled (also when the tool returned after the cancel).
            InvalidResult: the return value is not JSON-serialisable.
            TypeError: the test's arguments or :attr:`resume` are not JSON.
        """
        spec = self.tools.get(tool)
        if spec is None:
            names = ", ".join(self.tools) or "none"
            raise ToolNotFound(f"adapter has no tool '{tool}'; available tools: {names}")
        args_json = encode_args(tool, args, kwargs)
        resume_json = self._resume_json()
        adapter = self.adapter
        ended = False

        def heartbeat(details_json: bytes, progress: float) -> None:
            if not ended:  # the bridge drops the heartbeats of a thread that outlives its call
                self._record(details_json, progress)

        ctx = ToolContext(
            call_id=f"test-{next(self._ids)}",
            tool=spec.name,
            info=self._info_for(spec.name),
            resume=json.loads(resume_json) if resume_json else None,
            on_heartbeat=heartbeat,
        )
        early = self._begin(ctx)
        try:
            # The bridge's order: bind (InvalidArguments), then a cancel that came first, then the tool.
            call_kwargs = spec.bind(spec.parse(args_json), ctx)
            if early is not None:
                ctx.cancel(early)
                raise Cancelled(_cancelled_message(ctx))
            result = self._invoke(adapter, spec, call_kwargs)
            if ctx.cancelled:
                raise Cancelled(_cancelled_message(ctx))
        finally:
            ended = True
            self._end(ctx)
        try:
            payload = _encode_result(result)
        except (TypeError, ValueError, RecursionError) as exc:
            raise InvalidResult(
                f"tool '{spec.name}' returned a value that is not JSON-serialisable "
                f"({type(result).__name__}): {exc}. Return dicts, lists, str, int, float, bool or "
                "None; convert NumPy values with .tolist(), int() or float()"
            ) from None
        return json.loads(payload)

    def _invoke(self, adapter: Adapter, spec: ToolSpec, kwargs: dict[str, Any]) -> Any:
        method = getattr(adapter, spec.attribute)
        if not isinstance(adapter, ThreadSafeAdapter):
            return method(**kwargs)
        outermost = adapter._snakepool_enter()  # keeps get_stats() counting, as in the bridge
        try:
            return method(**kwargs)
        finally:
            adapter._snakepool_exit(outermost)

    def _cancel_calls(self, calls: list[Any], reason: str) -> None:
        for ctx in calls:
            ctx.cancel(reason)

    def close(self) -> None:
        """Run the adapter's ``teardown()`` if this environment ran its ``setup()``."""
        if self._set_up and self._instance is not None:
            self._set_up = False
            self._instance.teardown()

    def __enter__(self) -> ToolEnvironment:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _cancelled_message(ctx: ToolContext) -> str:
    # The bridge's wording (ToolContext.check_cancelled).
    return f"call {ctx.call_id} of tool '{ctx.tool}' was cancelled: {ctx.cancel_reason}"
