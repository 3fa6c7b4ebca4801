"""Processes of the harness: each in a session of its own, its output in a log file, stopped by pid.

Every process the harness starts gets ``start_new_session``, so that everything it starts in turn
(pool processes, executor processes) shares its session id. Stopping one sends its stop signal to
its pid, then SIGKILL to its process group after a grace period, and finally looks for anything
left in its session (a child that moved to a process group of its own and outlived its parent),
kills it by pid and reports it: the harness never leaves a process behind, and never signals a
process it did not start.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "HarnessError",
    "Service",
    "reap_leftovers",
    "run_json_command",
    "session_members",
    "started_sessions",
    "tail",
]

# The session ids of every process this harness started (each leads a session of its own).
_started_sessions: list[int] = []


def started_sessions() -> list[int]:
    """The session ids of every process the harness started, in order."""
    return list(_started_sessions)


def reap_leftovers() -> list[str]:
    """Kill, by pid, any process still alive in a session the harness started; say which.

    Every step stops what it started, so this finds nothing unless a step has a bug.
    """
    found = []
    for sid in _started_sessions:
        for pid in session_members(sid):
            found.append(
                f"process {pid} (session {sid}) was still running at the end; killed"
            )
            _kill_pid(pid)
    return found


class HarnessError(RuntimeError):
    """A step of the harness failed; the message says which and why."""


def tail(path: Path, limit: int = 3000) -> str:
    """The last ``limit`` characters of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return text[-limit:]


def session_members(sid: int) -> list[int]:
    """Pids of the live processes whose session id is ``sid`` (zombies excluded)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid pgrp session ...: comm may hold spaces, so split after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 3 and fields[0] != b"Z" and int(fields[3]) == sid:
            members.append(int(entry))
    return members


class Service:
    """A process that runs until the harness stops it: the dev server, a worker.

    Its stdout and stderr go to ``<log_dir>/<name>.log``. ``ready_marker`` is a string that it
    writes there once it serves.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        *,
        ready_marker: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self.ready_marker = ready_marker
        self.env = None if env is None else dict(env)
        self.cwd = cwd
        self.stop_signal = stop_signal
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (it does not wait until it is ready)."""
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        _started_sessions.append(self.proc.pid)

    @property
    def pid(self) -> int:
        """The process id (the id of its session and process group too)."""
        if self.proc is None:
            raise HarnessError(f"{self.name} was not started")
        return self.proc.pid

    def check_alive(self) -> None:
        """Raise HarnessError with the tail of its log if the process has exited."""
        if self.proc is None:
            raise HarnessError(f"{self.name} was not started")
        code = self.proc.poll()
        if code is not None:
            raise HarnessError(
                f"{self.name} exited with code {code} ({' '.join(self.argv)}); its log:\n{tail(self.log_path)}"
            )

    def wait_ready(self, timeout: float) -> float:
        """Wait until the ready marker shows in the log; return the seconds it took."""
        begin = time.monotonic()
        while True:
            self.check_alive()
            if self.ready_marker in tail(self.log_path, 1 << 20):
                return time.monotonic() - begin
            if time.monotonic() - begin > timeout:
                raise HarnessError(
                    f"{self.name} was not ready within {timeout:.0f} s (no {self.ready_marker!r} in its log):\n"
                    f"{tail(self.log_path)}"
                )
            time.sleep(0.05)

    def stop(self, grace: float = 15.0) -> list[str]:
        """Stop the process and everything in its session; return the problems met (empty: clean)."""
        if self.proc is None:
            return []
        problems = []
        pid = self.proc.pid
        if self.proc.poll() is None:
            os.kill(pid, self.stop_signal)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                problems.append(
                    f"{self.name} (pid {pid}) did not stop within {grace:.0f} s of {self.stop_signal.name}"
                )
                _kill_group(pid)
                self.proc.wait(10)
        # A process that made a process group of its own outlives a SIGKILL of the group.
        deadline = time.monotonic() + 5
        while session_members(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        for member in session_members(pid):
            problems.append(
                f"{self.name}: process {member} of its session outlived it; killed"
            )
            _kill_pid(member)
        return problems


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the harness dies, even by SIGKILL (Linux).

    The harness stops its services itself; this covers the harness being killed outright.
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


_PR_SET_PDEATHSIG = 1


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _kill_pid(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def run_json_command(
    argv: Sequence[str],
    *,
    timeout: float,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    watch: Sequence[Service] = (),
) -> str:
    """Run a command to completion and return its stdout.

    The command runs in a session of its own; at ``timeout``, or when one of the ``watch``
    services dies meanwhile, its process group is killed and HarnessError says why.
    """
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=None if env is None else dict(env),
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    _started_sessions.append(proc.pid)
    begin = time.monotonic()
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                pass
            for service in watch:
                service.check_alive()
            if time.monotonic() - begin > timeout:
                raise HarnessError(
                    f"{what}: no answer within {timeout:.0f} s ({' '.join(argv)})"
                )
    finally:
        if proc.poll() is None:
            _kill_group(proc.pid)
            proc.wait(10)
    if proc.returncode != 0:
        raise HarnessError(
            f"{what} failed with exit code {proc.returncode} ({' '.join(argv)}):\n"
            f"{err.decode(errors='replace')[-3000:]}"
        )
    return out.decode()
