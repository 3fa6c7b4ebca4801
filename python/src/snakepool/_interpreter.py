"""Facts about the running interpreter that the bridge reports."""

from __future__ import annotations

import sys

__all__ = ["gil_enabled", "python_version"]


def gil_enabled() -> bool:
    """``sys._is_gil_enabled()`` where it exists (3.13+), else True."""
    check = getattr(sys, "_is_gil_enabled", None)
    return bool(check()) if check is not None else True


def python_version() -> str:
    """The interpreter's version number, e.g. ``3.11.7``."""
    return sys.version.split()[0]
