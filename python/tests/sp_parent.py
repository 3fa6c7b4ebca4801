"""A stand-in for the Go supervisor: starts a server, relays its handshake line, then waits to be killed.

Usage: python sp_parent.py SOCKET STDIN_MODE(pipe|devnull) NEW_SESSION(0|1)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

sock, stdin_mode, new_session = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
r, w = os.pipe()
child = subprocess.Popen(
    [
        sys.executable,
        "-m",
        "snakepool.server",
        "--adapter",
        "sp_adapters:TestAdapter",
        "--socket",
        sock,
        "--handshake-fd",
        str(w),
    ],
    stdin=subprocess.PIPE if stdin_mode == "pipe" else subprocess.DEVNULL,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
    pass_fds=(w,),
    start_new_session=new_session,
)
os.close(w)
with os.fdopen(r, "rb") as f:
    line = f.readline()
sys.stdout.buffer.write(line)
sys.stdout.flush()
while True:
    time.sleep(60)
