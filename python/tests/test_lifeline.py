"""The server exits by itself when its parent dies, killing its own children."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import TESTS_DIR, Server, ServerFactory, kill_quietly, read_line, server_env, wait_pid_gone


@pytest.mark.parametrize(
    ("stdin_mode", "new_session"),
    [("pipe", "1"), ("pipe", "0"), ("devnull", "1")],
    ids=["stdin-eof-group-leader", "stdin-eof-same-group", "ppid-polling-only"],
)
def test_server_exits_when_parent_dies(servers: ServerFactory, stdin_mode: str, new_session: str) -> None:
    workdir = servers.workdir()
    parent = subprocess.Popen(
        [sys.executable, str(TESTS_DIR / "sp_parent.py"), str(workdir / "w.sock"), stdin_mode, new_session],
        stdout=subprocess.PIPE,
        env=server_env(),
    )
    servers.procs.append(parent)
    assert parent.stdout is not None
    hs = json.loads(read_line(parent.stdout.fileno(), 30))
    server_pid = hs["pid"]
    child_pid = -1
    try:
        server = Server(parent, workdir, hs)  # parent stands in for the process here; only the stub is used
        try:
            assert server.call("square", {"x": 3}) == 9
            child_pid = server.call("spawn_child")
        finally:
            server.channel.close()
        assert not wait_pid_gone(server_pid, 0.1)
        parent.send_signal(signal.SIGKILL)  # no chance to clean up, no parent-death signal
        parent.wait(10)
        assert wait_pid_gone(server_pid, 10), "server outlived its parent"
        assert wait_pid_gone(child_pid, 10), "the server's child outlived it"
    finally:
        kill_quietly(server_pid)
        if child_pid > 0:
            kill_quietly(child_pid)


def test_no_stdin_watch_on_devnull_or_tty(servers: ServerFactory) -> None:
    # The factory keeps stdin as a pipe; a server whose stdin is /dev/null must not take EOF for death.
    workdir = servers.workdir()
    r, w = os.pipe()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "snakepool.server",
            "--adapter",
            "sp_adapters:TestAdapter",
            "--socket",
            str(workdir / "w.sock"),
            "--handshake-fd",
            str(w),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(w,),
        env=server_env(),
    )
    servers.procs.append(proc)
    os.close(w)
    try:
        hs = json.loads(read_line(r, 30))
    finally:
        os.close(r)
    server = Server(proc, workdir, hs)
    try:
        for _ in range(3):
            assert server.call("noop") is None
        assert proc.poll() is None
    finally:
        server.close()
