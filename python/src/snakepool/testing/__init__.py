"""Test harness for tool authors: run a tool in pytest with a recording context.

Two environments with the same recording API, in the spirit of the Temporal Python SDK's
``ActivityEnvironment``:

* :class:`ToolEnvironment` runs a tool in the test's own process: the adapter method is called
  with a real :class:`~snakepool.ToolContext`, its arguments bound as the bridge binds them.
* :class:`WorkerEnvironment` runs it in a real worker process (``python -m snakepool.server``,
  the server the Go pool starts), through its gRPC Execute RPC: heartbeats, cancellation, resume
  details and errors are exactly the bridge's.

Both record the heartbeats (:attr:`~ToolEnvironment.heartbeats`, with decoded details and
progress), call :attr:`~ToolEnvironment.on_heartbeat` for each, cancel on demand
(:meth:`~ToolEnvironment.cancel` from a heartbeat callback or another thread, or
:attr:`~ToolEnvironment.cancel_after_heartbeats`), and preset ``ctx.resume`` and ``ctx.info``::

    from snakepool import Cancelled
    from snakepool.testing import ToolEnvironment

    def test_train_resumes_from_its_checkpoint() -> None:
        with ToolEnvironment(Trainer) as env:
            env.cancel_after_heartbeats = 2
            with pytest.raises(Cancelled):
                env.run("train", epochs=5)
            env.resume = env.last_heartbeat.details  # what the retry gets from Temporal
            assert env.run("train", epochs=5)["started_from_epoch"] == 2

``import snakepool.testing`` imports neither grpc nor protobuf; a :class:`WorkerEnvironment`
imports them when its worker starts.
"""

from ._in_process import ToolEnvironment
from ._recording import DEFAULT_CANCEL_REASON, Heartbeat, default_info
from ._worker import ToolDescription, ToolFailed, WorkerEnvironment, WorkerStartError

__all__ = [
    "DEFAULT_CANCEL_REASON",
    "Heartbeat",
    "ToolDescription",
    "ToolEnvironment",
    "ToolFailed",
    "WorkerEnvironment",
    "WorkerStartError",
    "default_info",
]
