"""Dispatch: admitting tool calls and batches, running them on tool threads, and reporting their
events.

The dispatcher knows the bridge's messages (protobuf) but not how they travel: every event of a
call goes to the call's *sink*, which the transport (``_call_channel``, ``_grpc_server``) provides. A
sink gets ``heartbeat`` zero or more times and then ``finish`` exactly once per call; heartbeats
that arrive after the call finished (from a thread the tool left behind) are dropped, so a call's
events always end with its result or its error.

A batch (``BatchRequest``, on the call channel only) is one call that runs its tool over several
items, one after the other on the thread that runs it: each item gets a context of its own and its
arguments bound as a call's are, its heartbeats are tagged with its index, and its end goes to the
sink's ``item`` before the next item starts; the batch's ``finish`` follows the last item (or the
first failing one, unless the batch continues on errors). A cancel ends the item running and the
batch: that item is not reported, and the batch finishes ``Cancelled``.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from . import _logging
from ._adapter import Adapter, ThreadSafeAdapter
from ._context import CallInfo, ToolContext
from ._errors import Cancelled, InvalidArguments, InvalidResult, NonRetryableError, utf8_safe
from ._interpreter import gil_enabled
from ._protocol import PROTOCOL_VERSION
from ._threadsafety import ThreadSafetyChecker
from ._tool import ToolSpec, collect_tools
from .bridge.v1 import bridge_pb2 as pb

__all__ = ["BatchSink", "Call", "Dispatcher", "Sink", "StreamSink", "error"]

_log = logging.getLogger("snakepool.server")

#: JSON encoder of results: json.dumps with options builds an encoder per call.
_encode_json = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode
#: How many cancels of calls that have not arrived yet are remembered.
_EARLY_CANCELS = 1024
#: The result of a tool that returns None (messages given to the sinks are never modified).
_NULL_RESULT = pb.Result(result_json=b"null")
#: The result of a batch that ran to its end (its items carried the results).
_BATCH_DONE = pb.Result()


class Sink(Protocol):
    """Where the events of a call go."""

    def heartbeat(self, call: Call, heartbeat: pb.Heartbeat) -> None:
        """Deliver a heartbeat of ``call`` (unless it finished already)."""

    def finish(self, call_id: str, result: pb.Result | None, error: pb.Error | None) -> None:
        """Deliver the one result or error of a call (exactly one of the two is given)."""


class StreamSink(Sink, Protocol):
    """The sink of a stream that carries many calls (a Session)."""

    def close(self) -> None:
        """End the stream once the calls started on it have finished (at once when none runs)."""


class BatchSink(Sink, Protocol):
    """The sink of a stream that carries batches too (the call channel)."""

    def item(self, call: Call, index: int, result: pb.Result | None, error: pb.Error | None) -> None:
        """Deliver the end of item ``index`` of batch ``call`` (exactly one of the two is given)."""


class Call:
    """One admitted call or batch: its request, its context and where its events go."""

    __slots__ = ("batch", "call_id", "cancel_reason", "ctx", "done", "item", "request", "sink", "spec")

    def __init__(
        self,
        request: pb.ExecuteRequest | None,
        call_id: str,
        spec: ToolSpec,
        sink: Sink,
        batch: pb.BatchRequest | None = None,
    ) -> None:
        self.request = request
        self.batch = batch
        self.call_id = call_id
        self.spec = spec
        self.sink = sink
        #: The context of the call (of a batch: of the item running).
        self.ctx = ToolContext(call_id=call_id, tool=spec.name)
        #: The index of the batch item running (-1 outside a batch, or between items).
        self.item = -1
        #: Why the call was cancelled ('' while it is not): a batch runs no item once it is set.
        self.cancel_reason = ""
        #: Set (under the dispatcher's lock) once the call has ended; its sink drops later heartbeats.
        self.done = False

    def cancel(self, reason: str) -> None:
        """Cancel the call (a batch: the item running, and the items not run yet)."""
        self.cancel_reason = reason
        self.ctx.cancel(reason)

    def heartbeat(self, details: bytes, progress: float) -> None:
        """The ToolContext's heartbeat sink."""
        self.sink.heartbeat(self, pb.Heartbeat(details_json=details, progress=progress))


def error(type_name: str, message: str, tb: str = "", non_retryable: bool = False) -> pb.Error:
    """An Error event body; text that UTF-8 cannot encode is escaped (see :func:`utf8_safe`)."""
    return pb.Error(
        type=utf8_safe(type_name),
        message=utf8_safe(message),
        traceback=utf8_safe(tb),
        non_retryable=non_retryable,
    )


def _exception_error(exc: BaseException, with_traceback: bool = True) -> pb.Error:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) if with_traceback else ""
    return error(type(exc).__name__, str(exc), tb, isinstance(exc, NonRetryableError))


class Dispatcher:
    """Runs tool calls of one adapter instance on ``max_workers`` tool threads.

    It admits at most ``max_workers`` calls at once (1 in the process profile) and answers further
    ones with a retryable ``WorkerBusy`` error instead of queueing them. Tools run on tool threads
    named ``snakepool-tool-<i>`` (in the process profile on one thread, ``snakepool-tool-0``, for
    the life of the process); Ping, Cancel and Describe never wait for a tool to return.

    ``tool_threads`` (default ``max_workers``) is how many tool threads the dispatcher starts and
    feeds through :meth:`start`. A caller that brings its own tool thread passes 0 and hands it over
    with :meth:`adopt_tool_thread`; a caller that runs admitted calls itself (a benchmark) passes 0
    and uses :meth:`admit`, then :meth:`run`.

    A call cancelled before it reached the worker (a cancel on the control channel can overtake the
    Start on the call channel) is remembered, and ends ``Cancelled`` without running when its Start arrives.
    """

    def __init__(
        self,
        adapter: Adapter,
        adapter_ref: str,
        mode: str,
        max_workers: int,
        checker: ThreadSafetyChecker | None = None,
        tool_threads: int | None = None,
    ) -> None:
        self.adapter = adapter
        self.mode = mode
        self.max_workers = max_workers
        self.checker = checker
        self.tools = collect_tools(type(adapter))
        self._targets = {name: getattr(adapter, spec.attribute) for name, spec in self.tools.items()}
        self._track = isinstance(adapter, ThreadSafeAdapter)
        self._lock = threading.Lock()
        self._active: dict[str, Call] = {}
        self._streams: set[StreamSink] = set()
        self._stopping = ""
        #: Set once stopping and no call is left (created by wait_idle).
        self._idle: threading.Event | None = None
        self._completed = 0
        self._anon = itertools.count(1)
        self._jobs: queue.SimpleQueue[Call | None] = queue.SimpleQueue()
        self._wake: Callable[[], None] | None = None
        #: Ids of calls cancelled before they started, with the reason, oldest first.
        self._early_cancels: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._pid = os.getpid()
        self._describe = pb.DescribeResponse(
            adapter=adapter_ref,
            tools=[
                pb.ToolSpec(name=s.name, description=s.description, input_schema_json=s.input_schema_json)
                for s in self.tools.values()
            ],
            mode=mode,
            max_workers=max_workers,
            python_version=sys.version,
            gil_enabled=gil_enabled(),
            pid=self._pid,
            protocol_version=PROTOCOL_VERSION,
        )
        count = max_workers if tool_threads is None else tool_threads
        self._threads: list[threading.Thread] = [
            threading.Thread(target=self._work, name=f"snakepool-tool-{i}", daemon=True) for i in range(count)
        ]
        for t in self._threads:
            t.start()

    # --- what the RPCs ask -----------------------------------------------------------------------

    def describe(self) -> pb.DescribeResponse:
        return self._describe

    def ping(self) -> pb.PingResponse:
        with self._lock:
            return pb.PingResponse(
                pid=self._pid, active_calls=len(self._active), completed_calls=self._completed
            )

    def cancel(self, call_id: str, reason: str = "") -> bool:
        """Cancel a running call; False when no call with that id runs (it ended already, or has not
        arrived yet: then it is cancelled when it does)."""
        reason = reason or "cancelled by the worker"
        with self._lock:
            call = self._active.get(call_id)
            if call is None:
                self._early_cancels[call_id] = reason
                if len(self._early_cancels) > _EARLY_CANCELS:
                    self._early_cancels.popitem(last=False)
                return False
        call.cancel(reason)
        return True

    def stop(self, reason: str) -> int:
        """Begin stopping: refuse new calls, cancel the running ones and end every stream once its
        calls have finished. Returns how many calls were cancelled."""
        with self._lock:
            self._stopping = reason
            calls = list(self._active.values())
            streams = list(self._streams)
        for call in calls:
            call.cancel(reason)
        for stream in streams:
            stream.close()
        return len(calls)

    def active_count(self) -> int:
        with self._lock:
            return len(self._active)

    def wait_idle(self, timeout: float) -> bool:
        """After :meth:`stop`: wait up to ``timeout`` seconds until no call runs; False if some still
        do. (A call's tool code has returned once the call is no longer counted.)"""
        with self._lock:
            if not self._active:
                return True
            if self._idle is None:
                self._idle = threading.Event()
            idle = self._idle
        return idle.wait(timeout)

    # --- admitting calls -------------------------------------------------------------------------

    def start(self, request: pb.ExecuteRequest, sink: Sink) -> Call | None:
        """Admit a call and queue it for a tool thread; its events go to ``sink``.

        A call that cannot start (unknown tool, no free slot, duplicate id, worker stopping) gets
        its error through ``sink.finish`` at once, and None is returned.
        """
        call = self.admit(request, sink)
        if call is not None:
            self._jobs.put(call)
            if self._wake is not None:
                self._wake()
        return call

    def start_batch(self, request: pb.BatchRequest, sink: BatchSink) -> Call | None:
        """Admit a batch and queue it for a tool thread, as :meth:`start` does a call."""
        call = self.admit_batch(request, sink)
        if call is not None:
            self._jobs.put(call)
            if self._wake is not None:
                self._wake()
        return call

    def admit(self, request: pb.ExecuteRequest, sink: Sink) -> Call | None:
        """Admit a call without queueing it: the caller then runs it with :meth:`run`.

        A call that cannot start gets its error through ``sink.finish`` at once, and None is
        returned, as with :meth:`start`.
        """
        call_id = request.call_id or f"anonymous-{next(self._anon)}"
        spec = self.tools.get(request.tool)
        if spec is None:
            self._not_found(request.tool, call_id, sink)
            return None
        return self._admit(Call(request, call_id, spec, sink))

    def admit_batch(self, request: pb.BatchRequest, sink: BatchSink) -> Call | None:
        """Admit a batch without queueing it (see :meth:`admit`); it takes one call slot."""
        call_id = request.call_id or f"anonymous-{next(self._anon)}"
        spec = self.tools.get(request.tool)
        if spec is None:
            self._not_found(request.tool, call_id, sink)
            return None
        return self._admit(Call(None, call_id, spec, sink, batch=request))

    def _not_found(self, tool: str, call_id: str, sink: Sink) -> None:
        """Answer a call of a tool the adapter does not have."""
        names = ", ".join(self.tools) or "none"
        message = f"adapter has no tool '{tool}'; available tools: {names}"
        sink.finish(call_id, None, error("ToolNotFound", message, non_retryable=True))

    def _admit(self, call: Call) -> Call | None:
        call_id = call.call_id
        sink = call.sink
        active = self._active
        with self._lock:
            if len(active) >= self.max_workers:
                busy = (
                    f"worker is busy: {len(active)} of {self.max_workers} call slots in use "
                    f"({self.mode} mode)"
                )
            elif call_id in active:
                busy = f"a call with id '{call_id}' is already running"
            elif self._stopping:
                busy = f"worker is stopping ({self._stopping})"
            else:
                active[call_id] = call
                early = self._early_cancels.pop(call_id, None) if self._early_cancels else None
                if early is not None:
                    call.cancel(early)
                return call
        sink.finish(call_id, None, error("WorkerBusy", busy))
        return None

    # --- streams ---------------------------------------------------------------------------------

    def open_stream(self, stream: StreamSink) -> None:
        """Track a stream's sink, so that :meth:`stop` ends it (at once when stopping already)."""
        with self._lock:
            stopping = self._stopping
            self._streams.add(stream)
        if stopping:
            stream.close()

    def end_stream(self, stream: StreamSink, reason: str) -> None:
        """The requests of a stream are over: cancel its running calls (with ``reason``) and end
        it once they have finished."""
        with self._lock:
            self._streams.discard(stream)
            calls = [call for call in self._active.values() if call.sink is stream]
        for call in calls:
            call.cancel(reason)
        if calls:
            _log.info("%s; cancelled its %d running call(s)", reason, len(calls))
        stream.close()

    # --- tool threads ----------------------------------------------------------------------------

    def adopt_tool_thread(self, thread: threading.Thread, wake: Callable[[], None]) -> None:
        """Take ``thread`` (not started yet) as the tool thread: it runs the queued calls with
        :meth:`run_queued` whenever ``wake`` is called, and stops when that returns False."""
        self._threads.append(thread)
        self._wake = wake

    def run_queued(self) -> bool:
        """Run the calls queued for the tool threads on this thread; False once told to stop."""
        jobs = self._jobs
        while not jobs.empty():
            call = jobs.get()
            if call is None:
                return False
            try:
                self.run(call)
            except BaseException:  # a sink failed to deliver; keep the tool thread
                _log.exception("cannot deliver the end of call %s", call.call_id)
        return True

    def stop_threads(self) -> None:
        """Let every tool thread end once the calls queued before have run."""
        for _ in self._threads:
            self._jobs.put(None)
        if self._wake is not None:
            self._wake()

    def _work(self) -> None:
        get = self._jobs.get
        run = self.run
        while True:
            call = get()
            if call is None:
                return
            try:
                run(call)
            except BaseException:  # a sink failed to deliver; keep the tool thread
                _log.exception("cannot deliver the end of call %s", call.call_id)

    def run(self, call: Call) -> None:
        """Run an admitted call (or batch) on this thread and deliver its end to its sink."""
        if call.batch is not None:
            self._run_batch(call, call.batch)
            return
        call_id = call.call_id
        _logging.set_current_call(call_id)
        outcome: pb.Result | pb.Error
        try:
            outcome = self._prepare_and_invoke(call)
        except BaseException as exc:  # a bug of ours: report it rather than lose the tool thread
            _log.exception("internal error running call %s", call_id)
            outcome = error("InternalError", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            self._retire(call)
        if type(outcome) is pb.Result:
            call.sink.finish(call_id, outcome, None)
        else:
            call.sink.finish(call_id, None, outcome)

    def _retire(self, call: Call) -> None:
        """Count a call as ended (its tool has returned)."""
        with self._lock:
            call.done = True
            self._active.pop(call.call_id, None)
            self._completed += 1
            if self._idle is not None and not self._active:
                self._idle.set()
        _logging.set_current_call(None)

    def _run_batch(self, call: Call, batch: pb.BatchRequest) -> None:
        """Run a batch's items in order on this thread; deliver each item's end, then the batch's."""
        call_id = call.call_id
        sink: BatchSink = call.sink  # type: ignore[assignment]  # batches come from a BatchSink
        _logging.set_current_call(call_id)
        outcome: pb.Result | pb.Error
        try:
            outcome = self._batch_items(call, batch, sink)
        except BaseException as exc:  # a bug of ours (or of a sink): report it
            _log.exception("internal error running batch %s", call_id)
            outcome = error("InternalError", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            call.item = -1
            self._retire(call)
        if type(outcome) is pb.Result:
            sink.finish(call_id, outcome, None)
        else:
            sink.finish(call_id, None, outcome)

    def _batch_items(self, call: Call, batch: pb.BatchRequest, sink: BatchSink) -> pb.Result | pb.Error:
        spec = call.spec
        items = batch.items_json
        resume: Any = None
        if batch.resume_json:
            try:
                resume = _resume_details(batch.resume_json)
            except NonRetryableError as exc:
                return _exception_error(exc, with_traceback=False)
        info = _call_info(batch.info) if batch.HasField("info") else None
        for index in range(max(0, batch.first), len(items)):
            ctx = ToolContext(call_id=f"{call.call_id}/{index}", tool=spec.name, info=info)
            if index == batch.first:
                ctx.resume = resume
            if spec.wants_context:
                ctx._on_heartbeat = _item_heartbeat(call, sink, index)
            call.ctx = ctx
            call.item = index
            if call.cancel_reason:  # cancelled before this item (or while switching to it)
                ctx.cancel(call.cancel_reason)
                return _exception_error(Cancelled(ctx._cancelled_message()), with_traceback=False)
            outcome: pb.Result | pb.Error
            try:
                kwargs = spec.bind(spec.parse(items[index]), ctx)
            except NonRetryableError as exc:  # InvalidArguments: this item's error
                outcome = _exception_error(exc, with_traceback=False)
            else:
                outcome = self._invoke(call, kwargs)
            if ctx.cancelled:  # the item was cut short: it is not reported
                return _exception_error(Cancelled(ctx._cancelled_message()), with_traceback=False)
            call.item = -1
            if type(outcome) is pb.Result:
                sink.item(call, index, outcome, None)
            else:
                sink.item(call, index, None, outcome)
                if not batch.continue_on_error:
                    break
        return _BATCH_DONE

    def _prepare_and_invoke(self, call: Call) -> pb.Result | pb.Error:
        request: pb.ExecuteRequest = call.request  # type: ignore[assignment]  # a call, not a batch
        spec = call.spec
        ctx = call.ctx
        try:
            args = spec.parse(request.args_json)
            if request.resume_json:
                ctx.resume = _resume_details(request.resume_json)
            if request.HasField("info"):
                ctx.info = _call_info(request.info)
            if spec.wants_context:
                ctx._on_heartbeat = call.heartbeat
            kwargs = spec.bind(args, ctx)
        except NonRetryableError as exc:
            return _exception_error(exc, with_traceback=False)
        if ctx.cancelled:  # cancelled before it started: do not run it at all
            return _exception_error(Cancelled(ctx._cancelled_message()), with_traceback=False)
        return self._invoke(call, kwargs)

    def _invoke(self, call: Call, kwargs: dict[str, Any]) -> pb.Result | pb.Error:
        ctx = call.ctx
        checker = self.checker
        try:
            if self._track:
                adapter: Any = self.adapter
                outermost = adapter._snakepool_enter()
                try:
                    result = self._targets[call.spec.name](**kwargs)
                finally:
                    adapter._snakepool_exit(outermost)
            else:
                result = self._targets[call.spec.name](**kwargs)
            if checker is not None:
                checker.check_libraries()
            if ctx.cancelled:
                raise Cancelled(ctx._cancelled_message())
        except BaseException as exc:
            if isinstance(exc, Cancelled) and not ctx.cancelled:
                _log.debug("tool %s raised Cancelled without a cancel request", call.spec.name)
            return _exception_error(exc)
        if result is None:
            return _NULL_RESULT
        try:
            payload = _encode_json(result).encode()
        except (TypeError, ValueError, RecursionError) as exc:
            return _exception_error(
                InvalidResult(
                    f"tool '{call.spec.name}' returned a value that is not JSON-serialisable "
                    f"({type(result).__name__}): {exc}. Return dicts, lists, str, int, float, bool or "
                    "None; convert NumPy values with .tolist(), int() or float()"
                ),
                with_traceback=False,
            )
        return pb.Result(result_json=payload)


def _resume_details(resume_json: bytes) -> Any:
    """The decoded resume details of a call (the last heartbeat of its previous attempt)."""
    try:
        return json.loads(resume_json)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        why = "nested too deep to decode" if isinstance(exc, RecursionError) else f"not valid JSON: {exc}"
        raise InvalidArguments(f"resume details are {why}") from None


def _call_info(i: pb.CallInfo) -> CallInfo:
    return CallInfo(
        i.workflow_id, i.run_id, i.activity_id, i.activity_type, i.attempt, i.task_queue, i.namespace
    )


def _item_heartbeat(call: Call, sink: Sink, index: int) -> Callable[[bytes, float], None]:
    """The heartbeat sink of batch item ``index``: heartbeats tagged with its index, dropped once the
    item has ended (a thread its tool left behind)."""

    def beat(details: bytes, progress: float) -> None:
        if call.item == index:
            sink.heartbeat(call, pb.Heartbeat(details_json=details, progress=progress, item=index))

    return beat
