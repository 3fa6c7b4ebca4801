"""Fixtures that start real ``python -m snakepool.server`` subprocesses: with a call channel and a
control channel, as the Go pool starts them, and serving gRPC too (``--socket``), for the tests."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from snakepool.bridge.v1 import bridge_pb2 as pb
from snakepool.bridge.v1 import bridge_pb2_grpc as pb_grpc

TESTS_DIR = Path(__file__).resolve().parent
SHOWCASE = "snakepool.examples.showcase:ShowcaseAdapter"
TEST_ADAPTER = "sp_adapters:TestAdapter"
HANDSHAKE_TIMEOUT = 30.0
RPC_TIMEOUT = 20.0
CONTROL_TIMEOUT = 10.0
FRAME_HEADER = struct.Struct(">I")


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH", "")]))
    env.update(extra or {})
    return env


def read_line(fd: int, timeout: float) -> str:
    """Read one line from a pipe, failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"no line within {timeout}s (got {data!r})")
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode()


def wait_pid_gone(pid: int, timeout: float) -> bool:
    """Wait for a process that need not be our child to exit (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):
        pidfd = -1
    try:
        if pidfd >= 0:
            return bool(select.select([pidfd], [], [], timeout)[0])
        while time.monotonic() < deadline:  # pragma: no cover - kernels without pidfd
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError):
                return True
            if state in ("Z", "X"):
                return True
            time.sleep(0.05)
        return False
    finally:
        if pidfd >= 0:
            os.close(pidfd)


class CallError(AssertionError):
    """A call ended with an Error event where a result was expected."""

    def __init__(self, error: pb.Error) -> None:
        super().__init__(f"{error.type}: {error.message}")
        self.error = error


class ControlClient:
    """The Go side of a server's control channel: one request at a time, each answer awaited with a
    timeout (so that a test fails instead of hanging)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._ids = 0
        self._lock = threading.Lock()

    def request(self, request: pb.ControlRequest, timeout: float = CONTROL_TIMEOUT) -> pb.ControlResponse:
        """Send ``request`` (its id is set here) and return the answer, checked to carry its id."""
        with self._lock:
            self._ids += 1
            request.id = self._ids
            self.send(request)
            self.sock.settimeout(timeout)
            try:
                response: pb.ControlResponse = pb.ControlResponse.FromString(
                    self._read(FRAME_HEADER.unpack(self._read(4))[0])
                )
            finally:
                self.sock.settimeout(None)
        assert response.id == request.id, f"answer {response.id} to request {request.id}"
        return response

    def send(self, request: pb.ControlRequest) -> None:
        data = request.SerializeToString()
        self.sock.sendall(FRAME_HEADER.pack(len(data)) + data)

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            try:
                chunk = self.sock.recv(size - len(data))
            except TimeoutError:
                raise AssertionError("no answer on the control channel in time") from None
            if not chunk:
                raise AssertionError(f"the control channel ended (read {data!r})")
            data += chunk
        return data

    def ping(self) -> pb.PingResponse:
        response: pb.PingResponse = self.request(pb.ControlRequest(ping=pb.PingRequest())).ping
        return response

    def describe(self) -> pb.DescribeResponse:
        response: pb.DescribeResponse = self.request(
            pb.ControlRequest(describe=pb.DescribeRequest())
        ).describe
        return response

    def cancel(self, call_id: str, reason: str = "") -> bool:
        """True when the call was running."""
        cancel = pb.CancelRequest(call_id=call_id, reason=reason)
        return bool(self.request(pb.ControlRequest(cancel=cancel)).cancel.found)

    def stop(self, grace: float, timeout: float) -> None:
        stop = pb.StopRequest(grace_seconds=grace, timeout_seconds=timeout)
        assert self.request(pb.ControlRequest(stop=stop)).HasField("stop")


class Server:
    """A running server subprocess, a gRPC stub connected to it and our ends of its channels."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        workdir: Path,
        handshake: dict[str, Any],
        calls: socket.socket | None = None,
        control: socket.socket | None = None,
    ) -> None:
        self.proc = proc
        self.workdir = workdir
        self.handshake = handshake
        #: Our end of the call channel (see test_call_channel.ChannelClient), None when not passed.
        self.calls = calls
        #: The control channel's client, None when not passed.
        self.control = None if control is None else ControlClient(control)
        #: gRPC, when the server serves it (not so the Go pool's way: no --socket).
        self.address: str = handshake.get("address", "")
        self.channel: Any = grpc.insecure_channel(self.address) if self.address else None
        self.stub: Any = pb_grpc.BridgeStub(self.channel) if self.channel else None  # type: ignore[no-untyped-call]
        self._ids = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / "log.jsonl"

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def stdout(self) -> str:
        return (self.workdir / "stdout").read_text(errors="replace")

    def next_id(self) -> str:
        self._ids += 1
        return f"call-{self._ids}"

    def request(
        self,
        tool: str,
        args: Any = None,
        *,
        call_id: str | None = None,
        resume: Any = None,
        raw_args: bytes | None = None,
        info: pb.CallInfo | None = None,
    ) -> pb.ExecuteRequest:
        args_json = raw_args if raw_args is not None else (b"" if args is None else json.dumps(args).encode())
        return pb.ExecuteRequest(
            call_id=call_id or self.next_id(),
            tool=tool,
            args_json=args_json,
            resume_json=b"" if resume is None else json.dumps(resume).encode(),
            info=info,
        )

    def execute(self, tool: str, args: Any = None, **kw: Any) -> list[pb.ExecuteEvent]:
        return list(self.stub.Execute(self.request(tool, args, **kw), timeout=RPC_TIMEOUT))

    def call(self, tool: str, args: Any = None, **kw: Any) -> Any:
        """Execute and return the decoded result; raise CallError on an Error event."""
        events = self.execute(tool, args, **kw)
        last = events[-1]
        if last.HasField("error"):
            raise CallError(last.error)
        return json.loads(last.result.result_json)

    def error(self, tool: str, args: Any = None, **kw: Any) -> pb.Error:
        events = self.execute(tool, args, **kw)
        assert events[-1].HasField("error"), f"expected an error, got {events[-1]}"
        return events[-1].error

    def start(self, tool: str, args: Any = None, **kw: Any) -> tuple[str, Any]:
        """Start a streaming call; return (call_id, iterator of events)."""
        req = self.request(tool, args, **kw)
        return req.call_id, self.stub.Execute(req, timeout=RPC_TIMEOUT)

    def ping(self) -> pb.PingResponse:
        response: pb.PingResponse = self.stub.Ping(pb.PingRequest(), timeout=5)
        return response

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 15) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.calls is not None:
            self.calls.close()
        if self.control is not None:
            self.control.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdin:
            self.proc.stdin.close()


class ServerFactory:
    """Starts servers; kills them all at teardown."""

    def __init__(self) -> None:
        self.servers: list[Server] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.dirs: list[Path] = []

    def workdir(self) -> Path:
        # Short paths: Unix socket paths must stay under ~100 bytes.
        d = Path(tempfile.mkdtemp(prefix="sp-", dir="/tmp"))
        self.dirs.append(d)
        return d

    def spawn(
        self,
        adapter: str = TEST_ADAPTER,
        *args: str,
        mode: str = "process",
        env: dict[str, str] | None = None,
        handshake_fd: bool = True,
        calls: socket.socket | None = None,
        control: socket.socket | None = None,
        grpc_socket: bool = True,
    ) -> tuple[subprocess.Popen[bytes], Path, dict[str, Any]]:
        """Start a server and return (process, workdir, handshake line) whatever the handshake says.

        ``calls`` and ``control``, when given, are the server's ends of socket pairs, passed as its
        call channel and its control channel. ``grpc_socket``: serve gRPC on ``workdir/w.sock``.
        """
        workdir = self.workdir()
        log_fd = os.open(workdir / "log.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        read_fd, write_fd = os.pipe()
        cmd = [
            sys.executable,
            "-m",
            "snakepool.server",
            "--adapter",
            adapter,
            *(["--socket", str(workdir / "w.sock")] if grpc_socket else []),
            "--mode",
            mode,
            "--worker-id",
            "test-worker",
            "--log-fd",
            str(log_fd),
            *args,
        ]
        pass_fds = [log_fd]
        for flag, sock in (("--calls-fd", calls), ("--control-fd", control)):
            if sock is not None:
                cmd += [flag, str(sock.fileno())]
                pass_fds.append(sock.fileno())
        if handshake_fd:
            cmd += ["--handshake-fd", str(write_fd)]
            pass_fds.append(write_fd)
        stdout: Any = subprocess.PIPE if not handshake_fd else open(workdir / "stdout", "wb")  # noqa: SIM115
        stderr = open(workdir / "stderr", "wb")  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=stdout,
                stderr=stderr,
                pass_fds=pass_fds,
                env=server_env(env),
            )
        finally:
            os.close(log_fd)
            os.close(write_fd)
            for sock in (calls, control):
                if sock is not None:
                    sock.close()
            stderr.close()
            if stdout is not subprocess.PIPE:
                stdout.close()
        self.procs.append(proc)
        try:
            if handshake_fd:
                line = read_line(read_fd, HANDSHAKE_TIMEOUT)
            else:
                assert proc.stdout is not None
                line = read_line(proc.stdout.fileno(), HANDSHAKE_TIMEOUT)
        finally:
            os.close(read_fd)
        assert line.endswith("\n"), f"handshake line not terminated: {line!r}"
        return proc, workdir, json.loads(line)

    def start(self, adapter: str = TEST_ADAPTER, *args: str, **kw: Any) -> Server:
        """Start a server with a call channel and a control channel, as the Go side does (and gRPC)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        control_ours, control_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            proc, workdir, handshake = self.spawn(adapter, *args, calls=theirs, control=control_theirs, **kw)
        except BaseException:
            ours.close()
            control_ours.close()
            raise
        assert "error" not in handshake, f"server failed to start: {handshake['error']}"
        server = Server(proc, workdir, handshake, ours, control_ours)
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            server.close()
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            for stream in (proc.stdin, proc.stdout):
                if stream:
                    stream.close()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def servers() -> Iterator[ServerFactory]:
    factory = ServerFactory()
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def module_servers() -> Iterator[ServerFactory]:
    factory = ServerFactory()
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def process_server(module_servers: ServerFactory) -> Server:
    """A shared process-mode server of the test adapter."""
    return module_servers.start(TEST_ADAPTER)


@pytest.fixture(scope="module")
def thread_server(module_servers: ServerFactory) -> Server:
    """A shared thread-mode server of the test adapter (8 workers)."""
    return module_servers.start(TEST_ADAPTER, "--max-workers", "8", mode="thread")


def until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes (for states without an event to wait on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
