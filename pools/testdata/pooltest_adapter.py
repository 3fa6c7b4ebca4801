"""Tools for the Go tests of package pools: misbehaving on purpose (crashing, hanging, ignoring
cancellation, growing memory). Put this directory on PYTHONPATH and use the adapter
"pooltest_adapter:PoolTestAdapter"."""

import logging
import os
import socket
import sys
import time

from snakepool import ThreadSafeAdapter, ToolContext, tool

log = logging.getLogger("pooltest")

# Memory the grow tool keeps, so that the process's resident memory grows.
_hoard: list[bytes] = []


class PoolTestAdapter(ThreadSafeAdapter):
    """Test tools (usable in both profiles)."""

    __thread_safe__ = True

    def setup(self) -> None:
        poison = os.environ.get("POOLTEST_POISON")
        if poison and os.path.exists(poison):
            raise RuntimeError(f"poisoned by {poison}")
        time.sleep(float(os.environ.get("POOLTEST_SETUP_SECONDS", "0")))

    @tool
    def noop(self) -> None:
        """Do nothing."""
        return None

    @tool
    def square(self, x: float) -> float:
        """x * x."""
        return x * x

    @tool
    def pid(self) -> int:
        """The worker's process id."""
        return os.getpid()

    @tool
    def sleep(self, ctx: ToolContext, seconds: float, every: float = 0.05) -> dict:
        """Heartbeat every `every` seconds for `seconds`, stopping early when cancelled."""
        deadline = time.monotonic() + seconds
        beats = 0
        while time.monotonic() < deadline:
            if ctx.cancelled:
                return {"cancelled": True, "beats": beats, "pid": os.getpid()}
            ctx.heartbeat({"beat": beats, "pid": os.getpid()})
            beats += 1
            time.sleep(every)
        return {"cancelled": False, "beats": beats, "pid": os.getpid()}

    @tool
    def ignore_cancel(self, ctx: ToolContext, seconds: float) -> int:
        """Heartbeat once, then sleep `seconds` without ever looking at ctx.cancelled."""
        ctx.heartbeat({"pid": os.getpid()})
        time.sleep(seconds)
        return os.getpid()

    @tool
    def spin(self, ctx: ToolContext, seconds: float) -> dict:
        """Heartbeat once, then hold the GIL in a pure-Python loop for `seconds` without heartbeats,
        stopping early when cancelled."""
        ctx.heartbeat({"pid": os.getpid()})
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ctx.cancelled:
                return {"cancelled": True, "pid": os.getpid()}
        return {"cancelled": False, "pid": os.getpid()}

    @tool
    def heartbeats(self, ctx: ToolContext, n: int) -> int:
        """Send n heartbeats with progress, then return n."""
        for i in range(n):
            ctx.heartbeat({"i": i}, progress=(i + 1) / n)
        return n

    @tool
    def exit_process(self, code: int) -> None:
        """End the process at once with exit code `code`."""
        os._exit(code)

    @tool
    def exit_if(self, code: int) -> None:
        """End the process at once with exit code `code`, unless it is 0."""
        if code:
            os._exit(code)

    @tool
    def grow(self, mb: int) -> int:
        """Keep `mb` more megabytes, written so that they are resident; return the total kept."""
        _hoard.append(b"\x01" * (mb << 20))
        return len(_hoard) * mb

    @tool
    def log(self, message: str) -> None:
        """Log `message` at WARNING on the "pooltest" logger."""
        log.warning(message)

    @tool
    def env(self, name: str) -> str | None:
        """The value of environment variable `name`."""
        return os.environ.get(name)

    @tool
    def modules(self, packages: list) -> list:
        """The imported modules whose top-level package is one of `packages`."""
        return sorted(m for m in list(sys.modules) if m.partition(".")[0] in packages)

    @tool
    def shut_control_channel(self) -> None:
        """Shut the writing side of this process's control channel (--control-fd), as a broken
        channel would: the Go side reads its end while the process lives on."""
        fd = int(sys.argv[sys.argv.index("--control-fd") + 1])
        sock = socket.socket(fileno=os.dup(fd))
        sock.shutdown(socket.SHUT_WR)
        sock.close()
