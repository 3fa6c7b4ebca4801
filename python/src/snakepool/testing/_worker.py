"""``WorkerEnvironment``: run tools in a real ``python -m snakepool.server`` process, over gRPC.

grpc and the generated protocol code are imported when a worker starts, not with this module, so
that ``import snakepool.testing`` stays free of them for tests that only run tools in process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from .._context import CallInfo
from .._protocol import PROTOCOL_VERSION
from ._recording import Heartbeat, Recorder, encode_args

__all__ = ["ToolDescription", "ToolFailed", "WorkerEnvironment", "WorkerStartError"]

#: How long an RPC other than Execute (Describe, Cancel) may take.
_RPC_TIMEOUT = 10.0
#: How long the worker gets to exit after a call's RPC broke, before it counts as alive.
_CRASH_WAIT = 5.0
#: How long a call that ran past call_timeout gets to end once cancelled (then run gives up on it).
_CANCEL_WAIT = 10.0


class ToolFailed(Exception):
    """A call of a worker process ended with an error: the bridge's error, as the Go side gets it.

    Attributes:
        type: The error type, e.g. ``"ValueError"``, ``"InvalidArguments"``, ``"Cancelled"``, or
            ``"WorkerCrashed"`` when the worker process died during the call.
        message: The error message (``str(exception)``).
        traceback: The formatted Python traceback, possibly empty.
        non_retryable: Whether Temporal would not retry it (``NonRetryableError`` and subclasses).
    """

    def __init__(self, type: str, message: str, traceback: str = "", non_retryable: bool = False) -> None:
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message
        self.traceback = traceback
        self.non_retryable = non_retryable

    def __str__(self) -> str:
        text = f"{self.type}: {self.message}"
        return f"{text}\n\nin the worker process:\n{self.traceback}" if self.traceback else text


class WorkerStartError(Exception):
    """The worker process could not serve the adapter (import error, ``setup()`` raising, ...).

    Attributes:
        type: The Python exception type reported by the worker's handshake (``"ModuleNotFoundError"``),
            or, without one, ``"InterpreterNotFound"``, ``"WorkerExited"``, ``"HandshakeTimeout"``,
            ``"BadHandshake"`` or ``"ProtocolMismatch"``.
        message: What went wrong.
        traceback: The worker's traceback, possibly empty.
        output: What the process wrote on stdout and stderr.
    """

    def __init__(self, type: str, message: str, traceback: str = "", output: str = "") -> None:
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message
        self.traceback = traceback
        self.output = output

    def __str__(self) -> str:
        text = f"{self.type}: {self.message}"
        if self.traceback:
            text += f"\n\nin the worker process:\n{self.traceback}"
        if self.output:
            text += f"\n\nworker output:\n{self.output}"
        return text


@dataclass(frozen=True)
class ToolDescription:
    """A tool as the worker's Describe RPC reports it.

    Attributes:
        name: The tool name.
        description: Its description.
        input_schema: The JSON schema of its arguments.
    """

    name: str
    description: str
    input_schema: dict[str, Any]


class WorkerEnvironment(Recorder):
    """Runs the tools of an adapter in a real worker process, for pytest.

    It starts ``python -m snakepool.server --adapter ADAPTER`` (the same server the Go pool starts,
    with the same handshake), and runs each call through the server's public gRPC Execute RPC:
    heartbeats, cancellation (the Cancel RPC), resume details, call info, argument binding and
    errors are exactly the bridge's. It records like :class:`ToolEnvironment` (:attr:`heartbeats`,
    :attr:`on_heartbeat`, :meth:`cancel`, :attr:`cancel_after_heartbeats`, :attr:`resume`,
    :attr:`info`); a call that ends with an error raises :class:`ToolFailed`.

    Example::

        def test_train_in_a_worker() -> None:
            with WorkerEnvironment("my_project.adapter:Trainer", cwd=PROJECT_DIR) as worker:
                result = worker.run("train", epochs=2)
            assert [h.details["epoch"] for h in worker.heartbeats] == [1, 2]

    Args:
        adapter: The adapter as ``"module:Class"``, importable by ``python`` from ``cwd``.
        python: The interpreter. Default: this one (``sys.executable``).
        mode: The profile, ``"process"`` (one call at a time) or ``"thread"``. Default: process.
        max_workers: Calls at once in the thread profile. Default: 4.
        cwd: The worker's working directory (on its ``sys.path``). Default: the current directory.
        env: The worker's environment. Default: this process's.
        start_timeout: Seconds to wait for the handshake (import and ``setup()``). Default: 60.
        call_timeout: Seconds one :meth:`run` may take. Then the call is cancelled, and once it
            has ended (its slot is free again; at most 10 s more for a tool that ignores its
            cancel) :meth:`run` raises ``TimeoutError``. Default: 300; None waits for ever.
        log_level: The worker's log level. Default: INFO.
        resume: Preset :attr:`resume`.
        info: Preset :attr:`info`.
        on_heartbeat: Preset :attr:`on_heartbeat`.
        cancel_after_heartbeats: Preset :attr:`cancel_after_heartbeats`.

    The worker starts on :meth:`start` (or entering the ``with`` block, or the first :meth:`run`)
    and stops on :meth:`stop` (or leaving the block): SIGTERM, then SIGKILL to its process group,
    so the processes its tools started stop with it.
    """

    def __init__(
        self,
        adapter: str,
        *,
        python: str | os.PathLike[str] | None = None,
        mode: Literal["process", "thread"] = "process",
        max_workers: int = 4,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        start_timeout: float = 60.0,
        call_timeout: float | None = 300.0,
        log_level: str = "INFO",
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
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread', not {mode!r}")
        self.adapter = adapter
        self.python = os.fspath(python) if python is not None else sys.executable
        self.mode = mode
        self.max_workers = max_workers
        self.cwd = os.fspath(cwd) if cwd is not None else None
        self.env = dict(env) if env is not None else None
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        self.log_level = log_level
        #: The adapter's tools by name, as the worker's Describe RPC reported them (set by start()).
        self.tools: dict[str, ToolDescription] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None
        self._channel: Any = None
        self._stub: Any = None
        self._pb: Any = None
        self._readers: list[threading.Thread] = []
        self._out_lock = threading.Lock()
        self._logs: list[dict[str, Any]] = []
        self._output: list[str] = []
        self._ids = itertools.count(1)
        self._start_lock = threading.Lock()

    # --- the process -----------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The worker process's pid (starting it if needed)."""
        return self._started().pid

    @property
    def returncode(self) -> int | None:
        """The worker's exit status once it has exited (after :meth:`stop`), else None."""
        return None if self._proc is None else self._proc.poll()

    @property
    def logs(self) -> list[dict[str, Any]]:
        """The worker's log records so far (its JSON log lines, decoded), oldest first."""
        with self._out_lock:
            return list(self._logs)

    @property
    def output(self) -> str:
        """What the worker process wrote on stdout and stderr so far (a tool's prints)."""
        with self._out_lock:
            return "".join(self._output)

    def start(self) -> WorkerEnvironment:
        """Start the worker and wait for its handshake; returns self.

        Raises:
            WorkerStartError: the adapter cannot be served (the worker's exception and traceback),
                the process exited, or no handshake came within ``start_timeout``.
        """
        self._started()
        return self

    def _started(self) -> subprocess.Popen[bytes]:
        with self._start_lock:
            if self._proc is None:
                self._launch()
            assert self._proc is not None
            return self._proc

    def _launch(self) -> None:
        # Imported here: only the real-process mode needs grpc and the generated code.
        import grpc

        from ..bridge.v1 import bridge_pb2 as pb
        from ..bridge.v1 import bridge_pb2_grpc as pb_grpc

        # A short directory of our own: a Unix socket path holds at most 107 bytes.
        workdir = tempfile.mkdtemp(prefix="snakepool-test-")
        socket_path = os.path.join(workdir, "w.sock")
        handshake_r, handshake_w = os.pipe()
        log_r, log_w = os.pipe()
        cmd = [
            self.python,
            "-m",
            "snakepool.server",
            "--adapter",
            self.adapter,
            "--socket",
            socket_path,
            "--handshake-fd",
            str(handshake_w),
            "--log-fd",
            str(log_w),
            "--log-level",
            self.log_level,
            "--mode",
            self.mode,
            "--worker-id",
            "test-worker",
        ]
        if self.mode == "thread":
            cmd += ["--max-workers", str(self.max_workers)]
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=self.cwd,
                env=self.env,
                # Our end of stdin stays open while we live: the worker exits when it sees EOF.
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(handshake_w, log_w),
                start_new_session=True,  # its own process group, killed as a whole by stop()
            )
        except BaseException as exc:
            for fd in (handshake_r, handshake_w, log_r, log_w):
                os.close(fd)
            shutil.rmtree(workdir, ignore_errors=True)
            if isinstance(exc, OSError):
                raise WorkerStartError("InterpreterNotFound", f"cannot run {self.python}: {exc}") from exc
            raise
        os.close(handshake_w)
        os.close(log_w)
        self._proc, self._workdir, self._pb = proc, workdir, pb
        assert proc.stdout is not None
        self._readers = [
            threading.Thread(target=self._read_logs, args=(log_r,), name="snakepool-test-logs", daemon=True),
            threading.Thread(
                target=self._read_output, args=(proc.stdout,), name="snakepool-test-out", daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()
        try:
            handshake = self._read_handshake(handshake_r)
            self._channel = grpc.insecure_channel(handshake["address"])
            self._stub = pb_grpc.BridgeStub(self._channel)  # type: ignore[no-untyped-call]
            described = self._stub.Describe(pb.DescribeRequest(), timeout=_RPC_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(handshake_r)
        self.tools = {
            t.name: ToolDescription(t.name, t.description, json.loads(t.input_schema_json or "{}"))
            for t in described.tools
        }

    def _read_handshake(self, fd: int) -> dict[str, Any]:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WorkerStartError(
                    "HandshakeTimeout",
                    f"worker of {self.adapter} did not complete its handshake within {self.start_timeout}s "
                    "(start_timeout): importing the adapter or its setup() takes longer, or hangs",
                    output=self.output,
                )
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        if not data.strip():
            status = self._wait_exited(_CRASH_WAIT)
            raise WorkerStartError(
                "WorkerExited",
                f"worker of {self.adapter} ({self.python}) exited with status {status} before its handshake",
                output=self._output_after_exit(),
            )
        try:
            line: dict[str, Any] = json.loads(data)
        except ValueError:
            raise WorkerStartError(
                "BadHandshake", f"the worker's handshake is not JSON: {data[:200]!r}", output=self.output
            ) from None
        error = line.get("error")
        if error:
            self._wait_exited(_CRASH_WAIT)
            raise WorkerStartError(
                error.get("type", "Error"),
                error.get("message", ""),
                error.get("traceback", ""),
                output=self._output_after_exit(),
            )
        if line.get("protocol") != PROTOCOL_VERSION:
            raise WorkerStartError(
                "ProtocolMismatch",
                f"the worker's snakepool ({self.python}) speaks bridge protocol {line.get('protocol')}, "
                f"this one ({__name__}) {PROTOCOL_VERSION}: install the same snakepool in both",
            )
        return line

    def _read_logs(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as stream:
            for raw in stream:
                text = raw.decode(errors="replace").strip()
                if not text:
                    continue
                try:
                    record = json.loads(text)
                except ValueError:
                    record = {"message": text}
                with self._out_lock:
                    self._logs.append(record if isinstance(record, dict) else {"message": text})

    def _read_output(self, stream: Any) -> None:
        for raw in stream:
            with self._out_lock:
                self._output.append(raw.decode(errors="replace"))

    def _output_after_exit(self) -> str:
        """The output once the process has exited and its readers have read everything."""
        for reader in self._readers:
            reader.join(_CRASH_WAIT)
        return self.output

    def _wait_exited(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` for the worker to exit, without reaping it (stop() still kills
        its process group, which must not be reused first); return its status or None."""
        proc = self._proc
        assert proc is not None
        if proc.returncode is not None:
            return proc.returncode
        try:
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # pragma: no cover - kernels without pidfd: reap
            try:
                return proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        try:
            if not select.select([pidfd], [], [], timeout)[0]:
                return None
        finally:
            os.close(pidfd)
        status = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if status is None:
            return None
        return status.si_status if status.si_code == os.CLD_EXITED else -status.si_status

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the worker: SIGTERM (running calls are cancelled and ``teardown()`` runs), then,
        after ``timeout`` seconds, SIGKILL; then SIGKILL to what is left of its process group.
        Returns its exit status (None if it was never started). Idempotent."""
        proc = self._proc
        if proc is None:
            return None
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if proc.returncode is None:
            if self._wait_exited(0) is None:
                proc.send_signal(signal.SIGTERM)
            if self._wait_exited(timeout) is None:
                _kill_group(proc.pid)
            _kill_group(proc.pid)  # the tools' children left in the group
            proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
        for reader in self._readers:
            reader.join(_CRASH_WAIT)
        if proc.stdout is not None:
            proc.stdout.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        return proc.returncode

    def __enter__(self) -> WorkerEnvironment:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- calls -----------------------------------------------------------------------------------

    def run(self, tool: str, args: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Any:
        """Run ``tool`` once in the worker (the Execute RPC) and return its decoded JSON result.

        Raises:
            ToolFailed: the call ended with an error (its ``type`` says which: the tool's exception
                class, ``InvalidArguments``, ``ToolNotFound``, ``Cancelled``, ``InvalidResult``, or
                ``WorkerCrashed`` when the process died during the call).
            TimeoutError: the call took longer than ``call_timeout``; it was cancelled and has ended
                (or did not end within 10 s of its cancel, which the message says).
            WorkerStartError: the worker had not started and cannot start.
            TypeError: the test's arguments or :attr:`resume` are not JSON.
        """
        import grpc

        proc = self._started()
        pb = self._pb
        call_id = f"test-{next(self._ids)}"
        info = dataclasses.asdict(self._info_for(tool))
        request = pb.ExecuteRequest(
            call_id=call_id,
            tool=tool,
            args_json=encode_args(tool, args, kwargs),
            resume_json=self._resume_json(),
            info=pb.CallInfo(**info),
        )
        early = self._begin(call_id)
        # call_timeout cancels the call rather than abandoning its RPC, and run waits for the call's
        # end: a worker whose slot is still held would refuse the next call (WorkerBusy).
        timed_out = threading.Event()

        def time_out() -> None:
            timed_out.set()
            with contextlib.suppress(grpc.RpcError):
                self._send_cancel(call_id, f"call_timeout ({self.call_timeout}s)")

        timer = None if self.call_timeout is None else threading.Timer(self.call_timeout, time_out)
        rpc_timeout = None if self.call_timeout is None else self.call_timeout + _CANCEL_WAIT
        try:
            if early is not None:  # the worker remembers it: the call ends Cancelled without running
                self._send_cancel(call_id, early)
            if timer is not None:
                timer.daemon = True
                timer.start()
            try:
                for event in self._stub.Execute(request, timeout=rpc_timeout):
                    kind = event.WhichOneof("event")
                    if kind == "heartbeat":
                        self._record(event.heartbeat.details_json, event.heartbeat.progress)
                    elif kind == "result":
                        return json.loads(event.result.result_json) if event.result.result_json else None
                    elif kind == "error":
                        e = event.error
                        if e.type == "Cancelled" and timed_out.is_set():
                            raise TimeoutError(
                                f"tool '{tool}' did not finish within {self.call_timeout}s (call_timeout); "
                                "the call was cancelled"
                            )
                        raise ToolFailed(e.type, e.message, e.traceback, e.non_retryable)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise TimeoutError(
                        f"tool '{tool}' did not finish within {self.call_timeout}s (call_timeout), "
                        f"and not within {_CANCEL_WAIT:g}s of its cancel (a tool that ignores cancellation?)"
                    ) from None
                status = self._wait_exited(_CRASH_WAIT)
                if status is None:
                    raise
                raise ToolFailed(
                    "WorkerCrashed",
                    f"the worker process (pid {proc.pid}) exited with status {status} during the call "
                    f"of tool '{tool}'",
                    self._output_after_exit()[-4000:],
                ) from None
            raise ToolFailed("InternalError", f"the Execute RPC of tool '{tool}' ended without a result")
        finally:
            if timer is not None:
                timer.cancel()
            self._end(call_id)

    def _send_cancel(self, call_id: str, reason: str) -> None:
        if self._stub is not None:
            self._stub.Cancel(self._pb.CancelRequest(call_id=call_id, reason=reason), timeout=_RPC_TIMEOUT)

    def _cancel_calls(self, calls: list[Any], reason: str) -> None:
        for call_id in calls:
            self._send_cancel(call_id, reason)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
