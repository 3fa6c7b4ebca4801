"""Finding an adapter class by name and checking that it fits the worker profile."""

from __future__ import annotations

import importlib
from typing import Any

from ._adapter import Adapter, ThreadSafeAdapter
from ._errors import ThreadSafetyError

__all__ = ["check_thread_safe", "load_adapter"]


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
