"""snakepool: Python adapters whose tools run as Temporal activities in Go-supervised process pools.

Write an adapter::

    from snakepool import Adapter, ToolContext, tool

    class MyAdapter(Adapter):
        def setup(self) -> None:
            self.model = load_model()  # once per process

        @tool(description="Predict a label")
        def predict(self, features: list[float], ctx: ToolContext) -> dict:
            ctx.heartbeat({"stage": "predicting"})
            return {"label": self.model.predict(features)}

and let the Go worker serve it (it runs ``python -m snakepool.server --adapter
mypkg.mymodule:MyAdapter`` with its channels); ``--socket PATH`` serves it over gRPC, for grpcurl.
"""

from ._adapter import Adapter, ThreadSafeAdapter, thread_safe_method
from ._context import CallInfo, ToolContext
from ._errors import (
    Cancelled,
    InvalidArguments,
    InvalidResult,
    NonRetryableError,
    SnakepoolError,
    ThreadSafetyError,
    ThreadSafetyViolation,
    ToolNotFound,
)
from ._interpreter import gil_enabled
from ._protocol import PROTOCOL_VERSION
from ._threads import DedicatedThread, call_in_thread
from ._threadsafety import UNSAFE_LIBRARIES, ThreadSafetyChecker
from ._tool import ToolSpec, collect_tools, tool
from ._version import __version__

__all__ = [
    "PROTOCOL_VERSION",
    "UNSAFE_LIBRARIES",
    "Adapter",
    "CallInfo",
    "Cancelled",
    "DedicatedThread",
    "InvalidArguments",
    "InvalidResult",
    "NonRetryableError",
    "SnakepoolError",
    "ThreadSafeAdapter",
    "ThreadSafetyChecker",
    "ThreadSafetyError",
    "ThreadSafetyViolation",
    "ToolContext",
    "ToolNotFound",
    "ToolSpec",
    "__version__",
    "call_in_thread",
    "collect_tools",
    "gil_enabled",
    "thread_safe_method",
    "tool",
]
