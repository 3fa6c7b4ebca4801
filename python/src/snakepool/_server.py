"""The bridge server: loads an adapter and serves Describe/Session/Execute/Cancel/Ping over a Unix socket."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import itertools
import json
import logging
import os
import queue
import signal
import stat
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from typing import Any, Protocol

import grpc

from . import _lifeline, _logging
from ._adapter import Adapter, ThreadSafeAdapter
from ._context import CallInfo, ToolContext
from ._errors import Cancelled, InvalidResult, NonRetryableError, ThreadSafetyError
from ._threadsafety import ThreadSafetyChecker
from ._tool import ToolSpec, collect_tools
from .bridge.v1 import bridge_pb2 as pb
from .bridge.v1 import bridge_pb2_grpc as pb_grpc

__all__ = ["PROTOCOL_VERSION", "Dispatcher", "gil_enabled", "load_adapter", "main"]

#: The bridge protocol version (see bridge.proto).
PROTOCOL_VERSION = 1

#: The values of --server.
SERVERS = ("loop", "grpcio")

_log = logging.getLogger("snakepool.server")


def gil_enabled() -> bool:
    """``sys._is_gil_enabled()`` where it exists (3.13+), else True."""
    check = getattr(sys, "_is_gil_enabled", None)
    return bool(check()) if check is not None else True


# --- adapter loading ------------------------------------------------------------------------------


def load_adapter(ref: str) -> type[Adapter]:
    """Import ``module:Class`` (``module.Class`` is accepted too) and check that it is an Adapter class."""
    if ":" in ref:
        module_name, _, attr = ref.partition(":")
    else:
        module_name, _, attr = ref.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"--adapter must look like 'package.module:Class', got {ref!r}")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            found = sorted(
                n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, Adapter)
            )
            raise AttributeError(
                f"module '{module_name}' has no attribute '{attr}' "
                f"(adapter classes in it: {', '.join(found) or 'none'})"
            ) from None
    if not (isinstance(obj, type) and issubclass(obj, Adapter)):
        raise TypeError(f"{ref} is not a subclass of snakepool.Adapter")
    return obj


def check_thread_safe(cls: type[Adapter]) -> None:
    """Refuse, for the thread profile, an adapter class that does not declare ``__thread_safe__ = True``."""
    if getattr(cls, "__thread_safe__", False) is not True:
        base = "" if issubclass(cls, ThreadSafeAdapter) else "derive it from snakepool.ThreadSafeAdapter, "
        raise ThreadSafetyError(
            f"adapter {cls.__module__}:{cls.__qualname__} does not declare thread safety, so it cannot run "
            f"in the thread profile (several calls at once in one process). To fix it, {base}make its "
            "tools safe (shared read-only state, thread-local state, or acquire_lock() around shared "
            "mutable state) and set `__thread_safe__ = True` on the class; or run it with --mode process."
        )


# --- calls ----------------------------------------------------------------------------------------
#
# One dispatch path serves both call RPCs. Dispatcher.start admits a call (or rejects it) and queues
# it for a tool thread; every event of the call goes to the call's *sink*, which turns it into the
# RPC's message type and delivers it:
#
# - Session (the call channel): one _Session sink per stream, shared by all the calls started on it;
#   it sends SessionEvents tagged with the call id straight from the thread that produced them (the
#   tool thread, or the stream's reader for rejections), through grpc's send callback.
# - Execute (one RPC per call: the simple form for grpcurl and tests): one _ExecuteEvents sink per call, a
#   queue that the RPC's response iterator drains.
#
# A sink gets heartbeat() zero or more times and then finish() exactly once per call; heartbeats
# that arrive after the call finished (from a thread the tool left behind) are dropped, so a call's
# events always end with its result or error.

#: JSON encoder of results: json.dumps with options builds an encoder per call.
_encode_json = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode
#: The result of a tool that returns None (messages given to the sinks are never modified).
_NULL_RESULT = pb.Result(result_json=b"null")


class _Sink(Protocol):
    def heartbeat(self, call: _Call, heartbeat: pb.Heartbeat) -> None:
        """Deliver a heartbeat of ``call`` (unless it finished already)."""

    def finish(self, call_id: str, result: pb.Result | None, error: pb.Error | None) -> None:
        """Deliver the one result or error of a call (exactly one of the two is given)."""


class _Call:
    __slots__ = ("call_id", "ctx", "done", "pump", "request", "sink", "spec")

    def __init__(self, request: pb.ExecuteRequest, call_id: str, spec: ToolSpec, sink: _Sink) -> None:
        self.request = request
        self.call_id = call_id
        self.spec = spec
        self.sink = sink
        self.ctx = ToolContext(call_id=call_id, tool=spec.name)
        self.done = False
        #: Set while the call runs on the thread that also serves its RPC (the loop server's
        #: process profile): it moves the RPC along (finished sends, cancels) between heartbeats.
        self.pump: Callable[[], None] | None = None

    def heartbeat(self, details: bytes, progress: float) -> None:
        """The ToolContext's heartbeat sink."""
        self.sink.heartbeat(self, pb.Heartbeat(details_json=details, progress=progress))
        pump = self.pump
        if pump is not None:
            pump()


def _error(type_name: str, message: str, tb: str = "", non_retryable: bool = False) -> pb.Error:
    return pb.Error(type=type_name, message=message, traceback=tb, non_retryable=non_retryable)


def _exception_error(exc: BaseException, with_traceback: bool = True) -> pb.Error:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) if with_traceback else ""
    return _error(type(exc).__name__, str(exc), tb, isinstance(exc, NonRetryableError))


class _ExecuteEvents:
    """The sink of one Execute call: a queue of ExecuteEvents, then None, for the response iterator."""

    __slots__ = ("_lock", "queue")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.queue: queue.SimpleQueue[pb.ExecuteEvent | None] = queue.SimpleQueue()

    def heartbeat(self, call: _Call, heartbeat: pb.Heartbeat) -> None:
        with self._lock:
            if not call.done:
                self.queue.put(pb.ExecuteEvent(heartbeat=heartbeat))

    def finish(self, call_id: str, result: pb.Result | None, error: pb.Error | None) -> None:
        with self._lock:
            self.queue.put(pb.ExecuteEvent(result=result, error=error))
            self.queue.put(None)


class _Session:
    """The sink of the calls started on one Session stream.

    ``send`` delivers one SessionEvent, or ends the RPC when given None. Sends are serialised by
    ``_lock`` (grpc allows one outstanding send per RPC). The stream's reader counts the calls it
    starts (``started``, written by the reader thread only); ``finish`` counts the ends. Once the
    session is closing (the client closed its side, the stream broke, or the worker stops), the RPC
    ends as soon as every call started on it has sent its last event.
    """

    __slots__ = ("_lock", "_send", "closing", "ended", "finished", "started")

    def __init__(self, send: Callable[[pb.SessionEvent | None], Any]) -> None:
        self._send = send
        self._lock = threading.Lock()
        self.started = 0
        self.finished = 0
        self.closing = False
        self.ended = False

    def heartbeat(self, call: _Call, heartbeat: pb.Heartbeat) -> None:
        with self._lock:
            if not call.done and not self.ended:
                self._send(pb.SessionEvent(call_id=call.call_id, heartbeat=heartbeat))

    def finish(self, call_id: str, result: pb.Result | None, error: pb.Error | None) -> None:
        with self._lock:
            self.finished += 1
            try:
                if not self.ended:
                    self._send(pb.SessionEvent(call_id=call_id, result=result, error=error))
            finally:
                if self.closing and self.finished == self.started:
                    self._end()

    def close(self) -> None:
        """End the RPC once the calls started on it have finished (at once when none runs)."""
        with self._lock:
            self.closing = True
            if self.finished == self.started:
                self._end()

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            self._send(None)


class Dispatcher:
    """Runs tool calls of one adapter instance on ``max_workers`` tool threads.

    It admits at most ``max_workers`` calls at once (1 in the process profile) and answers further
    ones with a retryable ``WorkerBusy`` error instead of queueing them. Tools run on tool threads
    named ``snakepool-tool-<i>`` (in the process profile on one thread, ``snakepool-tool-0``, for
    the life of the process); Ping, Cancel and Describe never wait for a tool to return.

    ``tool_threads`` (default ``max_workers``) is how many tool threads the dispatcher starts and
    feeds through :meth:`start`. A server that owns its tool thread passes 0 and runs admitted
    calls itself (:meth:`admit`, then :meth:`run`).
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
        self._active: dict[str, _Call] = {}
        self._sessions: set[_Session] = set()
        self._stopping = ""
        self._completed = 0
        self._anon = itertools.count(1)
        self._jobs: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
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
        self._threads: list[threading.Thread] = []
        self.start_threads(max_workers if tool_threads is None else tool_threads)

    # --- RPCs ------------------------------------------------------------------------------------

    def describe(self) -> pb.DescribeResponse:
        return self._describe

    def ping(self) -> pb.PingResponse:
        with self._lock:
            return pb.PingResponse(
                pid=self._pid, active_calls=len(self._active), completed_calls=self._completed
            )

    def cancel(self, call_id: str, reason: str = "") -> bool:
        with self._lock:
            call = self._active.get(call_id)
        if call is None:
            return False
        call.ctx.cancel(reason or "cancelled by the worker")
        return True

    def stop(self, reason: str) -> int:
        """Begin stopping: refuse new calls, cancel the running ones and end every Session once its
        calls have finished. Returns how many calls were cancelled."""
        with self._lock:
            self._stopping = reason
            calls = list(self._active.values())
            sessions = list(self._sessions)
        for call in calls:
            call.ctx.cancel(reason)
        for session in sessions:
            session.close()
        return len(calls)

    def active_count(self) -> int:
        with self._lock:
            return len(self._active)

    def start(self, request: pb.ExecuteRequest, sink: _Sink) -> _Call | None:
        """Admit a call and queue it for a tool thread; its events go to ``sink``.

        A call that cannot start (unknown tool, no free slot, duplicate id, worker stopping) gets
        its error through ``sink.finish`` at once, and None is returned.
        """
        call = self.admit(request, sink)
        if call is not None:
            self.enqueue(call)
        return call

    def admit(self, request: pb.ExecuteRequest, sink: _Sink) -> _Call | None:
        """Admit a call without queueing it: the caller then runs it with :meth:`run`.

        A call that cannot start gets its error through ``sink.finish`` at once, and None is
        returned, as with :meth:`start`.
        """
        call_id = request.call_id or f"anonymous-{next(self._anon)}"
        spec = self.tools.get(request.tool)
        if spec is None:
            names = ", ".join(self.tools) or "none"
            message = f"adapter has no tool '{request.tool}'; available tools: {names}"
            sink.finish(call_id, None, _error("ToolNotFound", message, non_retryable=True))
            return None
        call = _Call(request, call_id, spec, sink)
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
                return call
        sink.finish(call_id, None, _error("WorkerBusy", busy))
        return None

    def execute(self, request: pb.ExecuteRequest, rpc: Any = None) -> Iterator[pb.ExecuteEvent]:
        """Execute: run one call; the iterator yields its heartbeats and then its result or error.

        Ending the RPC (``rpc`` is its grpc context) before the call finished cancels the call.
        """
        events = _ExecuteEvents()
        call = self.start(request, events)
        if call is not None and rpc is not None:

            def rpc_ended() -> None:
                if not call.done:
                    call.ctx.cancel("the Execute RPC ended")

            if not rpc.add_callback(rpc_ended):
                rpc_ended()
        return iter(events.queue.get, None)

    def session(
        self,
        requests: Iterator[pb.SessionRequest],
        send: Callable[[pb.SessionEvent | None], Any] | None = None,
    ) -> Iterator[pb.SessionEvent] | None:
        """Session: serve one stream of Start and Cancel requests.

        With ``send`` (grpc's non-blocking handler mode: it sends one event, or ends the RPC when
        given None), the requests are read on this thread, events are sent from the threads that
        produce them, and None is returned once the client's side of the stream is over. Without
        it, a new thread reads the requests and the returned iterator yields the events.
        """
        if send is not None:
            self._serve_session(requests, _Session(send))
            return None
        events: queue.SimpleQueue[pb.SessionEvent | None] = queue.SimpleQueue()
        threading.Thread(
            target=self._serve_session,
            args=(requests, _Session(events.put)),
            name="snakepool-session",
            daemon=True,
        ).start()
        return iter(events.get, None)

    def _serve_session(self, requests: Iterator[pb.SessionRequest], session: _Session) -> None:
        self.open_session(session)
        start = self.start
        cancel = self.cancel
        reason = "the Session stream ended"
        try:
            for request in requests:
                kind = request.WhichOneof("request")
                if kind == "start":
                    session.started += 1
                    start(request.start, session)
                elif kind == "cancel":
                    cancel(request.cancel.call_id, request.cancel.reason)
        except grpc.RpcError:  # the client cancelled the RPC, or the server is stopping
            reason = "the Session stream broke"
        except Exception:
            _log.exception("internal error serving a Session stream; ending it")
            reason = "the Session stream failed"
        finally:
            self.end_session(session, reason)

    def open_session(self, session: _Session) -> None:
        """Track a Session sink, so that :meth:`stop` ends it (at once when stopping already)."""
        with self._lock:
            stopping = self._stopping
            self._sessions.add(session)
        if stopping:
            session.close()

    def end_session(self, session: _Session, reason: str) -> None:
        """The requests of a Session are over: cancel its running calls (with ``reason``) and end
        the RPC once they have finished."""
        with self._lock:
            self._sessions.discard(session)
            calls = [call for call in self._active.values() if call.sink is session]
        for call in calls:
            call.ctx.cancel(reason)
        if calls:
            _log.info("%s; cancelled its %d running call(s)", reason, len(calls))
        session.close()

    # --- tool threads ----------------------------------------------------------------------------

    def start_threads(self, count: int) -> None:
        """Start ``count`` more tool threads (for a dispatcher created with ``tool_threads=0``)."""
        first = len(self._threads)
        threads = [
            threading.Thread(target=self._work, name=f"snakepool-tool-{i}", daemon=True)
            for i in range(first, first + count)
        ]
        self._threads.extend(threads)
        for t in threads:
            t.start()

    def stop_threads(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)

    def _work(self) -> None:
        get = self._jobs.get
        run = self._run
        while True:
            call = get()
            if call is None:
                return
            try:
                run(call)
            except BaseException:  # a sink failed to deliver; keep the tool thread
                _log.exception("cannot deliver the end of call %s", call.call_id)

    def run(self, call: _Call) -> None:
        """Run an admitted call on this thread and deliver its end to its sink."""
        self._run(call)

    def enqueue(self, call: _Call) -> None:
        """Queue an admitted call for the tool threads."""
        self._jobs.put(call)

    def _run(self, call: _Call) -> None:
        call_id = call.call_id
        _logging.set_current_call(call_id)
        outcome: pb.Result | pb.Error
        try:
            outcome = self._prepare_and_invoke(call)
        except BaseException as exc:  # a bug of ours: report it rather than lose the tool thread
            _log.exception("internal error running call %s", call_id)
            outcome = _error("InternalError", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            with self._lock:
                call.done = True
                self._active.pop(call_id, None)
                self._completed += 1
            _logging.set_current_call(None)
        if type(outcome) is pb.Result:
            call.sink.finish(call_id, outcome, None)
        else:
            call.sink.finish(call_id, None, outcome)

    def _prepare_and_invoke(self, call: _Call) -> pb.Result | pb.Error:
        request = call.request
        spec = call.spec
        ctx = call.ctx
        try:
            args = spec.parse(request.args_json)
            if request.resume_json:
                try:
                    ctx.resume = json.loads(request.resume_json)
                except ValueError as exc:
                    return _error(
                        "InvalidArguments", f"resume details are not valid JSON: {exc}", non_retryable=True
                    )
            if request.HasField("info"):
                i = request.info
                ctx.info = CallInfo(
                    i.workflow_id,
                    i.run_id,
                    i.activity_id,
                    i.activity_type,
                    i.attempt,
                    i.task_queue,
                    i.namespace,
                )
            if spec.wants_context:
                ctx._on_heartbeat = call.heartbeat
            kwargs = spec.bind(args, ctx)
        except NonRetryableError as exc:
            return _exception_error(exc, with_traceback=False)
        if ctx.cancelled:  # cancelled before it started: do not run it at all
            return _exception_error(Cancelled(ctx._cancelled_message()), with_traceback=False)
        return self._invoke(call, kwargs)

    def _invoke(self, call: _Call, kwargs: dict[str, Any]) -> pb.Result | pb.Error:
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


class _Servicer:
    """The gRPC face of a :class:`Dispatcher` (method names follow bridge.proto)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._d = dispatcher

    def Describe(self, request: pb.DescribeRequest, context: Any) -> pb.DescribeResponse:
        return self._d.describe()

    def Session(
        self,
        requests: Iterator[pb.SessionRequest],
        context: Any,
        send: Callable[[pb.SessionEvent | None], Any] | None = None,
    ) -> Iterator[pb.SessionEvent] | None:
        return self._d.session(requests, send)

    # grpc's sync server then passes ``send`` (its send-response callback) and frees the handler's
    # pool thread from draining a response iterator: events are sent by the threads that make them,
    # which saves a thread hop per event. Servers that ignore the attribute call Session without
    # ``send``, and it falls back to returning an iterator.
    Session.experimental_non_blocking = True  # type: ignore[attr-defined]

    def Execute(self, request: pb.ExecuteRequest, context: Any) -> Iterator[pb.ExecuteEvent]:
        return self._d.execute(request, context)

    def Cancel(self, request: pb.CancelRequest, context: Any) -> pb.CancelResponse:
        return pb.CancelResponse(found=self._d.cancel(request.call_id, request.reason))

    def Ping(self, request: pb.PingRequest, context: Any) -> pb.PingResponse:
        return self._d.ping()


# --- command line ---------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m snakepool.server",
        description="Serve a snakepool adapter to the Go supervisor over gRPC on a Unix socket.",
    )
    p.add_argument("--adapter", required=True, help="the adapter class, as package.module:Class")
    p.add_argument(
        "--socket", required=True, help="path of the Unix socket to serve on (a stale file is removed)"
    )
    p.add_argument(
        "--handshake-fd",
        type=int,
        default=None,
        help="file descriptor to write the one-line JSON handshake to, then close (default: stdout)",
    )
    p.add_argument(
        "--mode", choices=("process", "thread"), default="process", help="worker profile (default process)"
    )
    p.add_argument(
        "--max-workers",
        type=int,
        default=4,
        help="calls run at once in thread mode (default 4; process mode: 1)",
    )
    p.add_argument("--worker-id", default=None, help="worker id put on every log line (default pid-<pid>)")
    p.add_argument(
        "--log-fd", type=int, default=None, help="file descriptor for JSON log lines (default: stderr)"
    )
    p.add_argument("--log-level", default="INFO", help="root log level (default INFO)")
    p.add_argument(
        "--thread-safety-check",
        action="store_true",
        help="report methods entered by several threads at once without @thread_safe_method, "
        "and imported thread-unsafe libraries",
    )
    p.add_argument(
        "--thread-safety-strict",
        action="store_true",
        help="make thread-safety findings errors (implies the check)",
    )
    p.add_argument(
        "--server",
        choices=SERVERS,
        default=os.environ.get("SNAKEPOOL_SERVER") or "loop",
        help="how RPCs are served: 'loop' (default; one thread carries a call from request to "
        "result) or 'grpcio' (grpc.server; slower, public grpcio API only). Default from "
        "SNAKEPOOL_SERVER, else loop",
    )
    p.add_argument(
        "--shutdown-grace",
        type=float,
        default=5.0,
        help="seconds that running calls get to finish after SIGTERM, once cancelled (default 5)",
    )
    return p


def _handshake(fd: int | None, line: dict[str, Any]) -> None:
    data = (json.dumps(line) + "\n").encode()
    if fd is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _flush_and_exit(code: int) -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m snakepool.server``; never returns."""
    opts = _parser().parse_args(argv)
    if opts.max_workers < 1:
        _parser().error("--max-workers must be at least 1")
    if opts.server not in SERVERS:  # a bad SNAKEPOOL_SERVER (argparse checks only given values)
        choices = ", ".join(SERVERS)
        _parser().error(f"--server (or SNAKEPOOL_SERVER) must be one of {choices}, got {opts.server!r}")
    pid = os.getpid()
    worker_id = opts.worker_id or f"pid-{pid}"
    handshake_fd: int | None = opts.handshake_fd
    if handshake_fd is not None:
        os.set_inheritable(handshake_fd, False)
    try:
        _logging.configure(worker_id, opts.log_fd, opts.log_level)
    except (OSError, ValueError) as exc:
        print(f"snakepool: cannot log to fd {opts.log_fd}: {exc}", file=sys.stderr)
        _flush_and_exit(2)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    _lifeline.watch_parent()

    stop = threading.Event()
    signals_seen: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        signals_seen.append(signum)
        if len(signals_seen) > 1:
            _log.warning("second signal %s during shutdown; exiting now", signal.Signals(signum).name)
            _flush_and_exit(1)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    mode: str = opts.mode
    max_workers = 1 if mode == "process" else opts.max_workers
    checking = opts.thread_safety_check or opts.thread_safety_strict
    adapter: Adapter | None = None
    set_up = False
    server: Any = None
    try:
        cls = load_adapter(opts.adapter)
        if mode == "thread":
            check_thread_safe(cls)
        adapter = cls()
        if isinstance(adapter, ThreadSafeAdapter):
            adapter._snakepool_max_workers = max_workers
        checker: ThreadSafetyChecker | None = None
        if checking:
            checker = ThreadSafetyChecker(strict=opts.thread_safety_strict, concurrent=max_workers > 1)
            wrapped = checker.instrument(adapter)
            _log.info(
                "thread-safety check on (%s); watching methods not marked @thread_safe_method: %s",
                "strict" if checker.strict else "warnings",
                ", ".join(wrapped) or "none",
            )
        adapter.setup()
        set_up = True
        if checker is not None:
            checker.check_libraries()
        # The loop server's process profile runs calls on its own call thread.
        inline = opts.server == "loop" and mode == "process"
        dispatcher = Dispatcher(
            adapter, opts.adapter, mode, max_workers, checker, tool_threads=0 if inline else None
        )
        if not dispatcher.tools:
            _log.warning("adapter %s has no @tool methods", opts.adapter)
        server, served_by = _start_server(dispatcher, opts.socket, max_workers, opts.server, inline)
    except BaseException as exc:
        _log.error("cannot start adapter %s: %s: %s", opts.adapter, type(exc).__name__, exc, exc_info=exc)
        error = {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        }
        try:
            _handshake(handshake_fd, {"protocol": PROTOCOL_VERSION, "error": error})
        except OSError as hs_exc:
            _log.error("cannot write the handshake: %s", hs_exc)
        if set_up and adapter is not None:
            _teardown(adapter)
        _flush_and_exit(1)

    gil = gil_enabled()
    _log.info(
        "serving %s on unix:%s (mode=%s, max_workers=%d, server=%s, pid=%d, python=%s, gil=%s)",
        opts.adapter,
        opts.socket,
        mode,
        max_workers,
        served_by,
        pid,
        sys.version.split()[0],
        "enabled" if gil else "disabled",
    )
    if mode == "thread" and gil:
        _log.warning(
            "thread profile running with the GIL enabled (Python %s): calls run in parallel only while "
            "tools release the GIL (NumPy, scikit-learn, I/O); pure-Python CPU-bound tools are better "
            "served by the process profile",
            sys.version.split()[0],
        )
    try:
        _handshake(handshake_fd, {"protocol": PROTOCOL_VERSION, "address": f"unix:{opts.socket}", "pid": pid})
    except OSError as exc:
        _log.error("cannot write the handshake to fd %s: %s", handshake_fd, exc)
        _flush_and_exit(1)

    while not stop.wait(1.0):
        pass
    name = signal.Signals(signals_seen[0]).name if signals_seen else "stop"
    running = dispatcher.stop(f"worker stopping ({name})")
    _log.info(
        "received %s; stopping (%d running calls cancelled, %.1fs grace)", name, running, opts.shutdown_grace
    )
    server.stop(opts.shutdown_grace).wait(opts.shutdown_grace + 1)
    dispatcher.stop_threads()
    _teardown(dispatcher.adapter)
    with contextlib.suppress(OSError):
        os.unlink(opts.socket)
    _log.info("stopped")
    _flush_and_exit(0)


def _teardown(adapter: Adapter) -> None:
    try:
        adapter.teardown()
    except Exception:
        _log.exception("teardown of the adapter failed")


def _start_server(
    dispatcher: Dispatcher, socket_path: str, max_workers: int, kind: str, inline: bool
) -> tuple[Any, str]:
    """Serve ``dispatcher`` on ``socket_path`` with the ``kind`` of server; return the server and
    the kind that serves (``grpcio`` when the loop server cannot start on this grpcio)."""
    if len(os.fsencode(socket_path)) > 107:
        raise ValueError(
            f"socket path is too long for a Unix socket ({len(socket_path)} > 107 bytes): {socket_path}"
        )
    try:
        if stat.S_ISSOCK(os.lstat(socket_path).st_mode) or os.path.isfile(socket_path):
            os.unlink(socket_path)
    except FileNotFoundError:
        pass
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", -1),
        ("grpc.max_send_message_length", -1),
        ("grpc.so_reuseport", 0),
    ]
    if kind == "loop":
        try:
            from ._loop import LoopServer

            return LoopServer(dispatcher, f"unix:{socket_path}", options, inline), "loop"
        except (ImportError, AttributeError, TypeError) as exc:
            # grpc._cython is not a public API: a grpcio release that changed it must not stop
            # the worker, only slow it down.
            _log.warning(
                "cannot serve with the loop server on grpcio %s (%s: %s); serving with grpc.server",
                grpc.__version__,
                type(exc).__name__,
                exc,
            )
            with contextlib.suppress(FileNotFoundError):
                os.unlink(socket_path)  # a loop server that got as far as listening
            if inline:  # the dispatcher has no tool thread of its own yet
                dispatcher.start_threads(max_workers)
    # Each open Session holds an RPC thread (its reader) and each Execute one per running call; the
    # rest answer Ping, Cancel, Describe and WorkerBusy rejections while tools are busy.
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers + 8, thread_name_prefix="snakepool-rpc"),
        options=options,
    )
    pb_grpc.add_BridgeServicer_to_server(_Servicer(dispatcher), server)  # type: ignore[no-untyped-call]
    try:
        port = server.add_insecure_port(f"unix:{socket_path}")
    except RuntimeError as exc:
        raise OSError(f"cannot listen on unix:{socket_path}: {exc}") from None
    if port == 0:
        raise OSError(f"cannot listen on unix:{socket_path}")
    server.start()
    return server, "grpcio"
