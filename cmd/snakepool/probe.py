"""The interpreter probe of `snakepool doctor` and `snakepool describe` (embedded in the binary).

Run as ``python -c SOURCE REQUEST_JSON`` in a pool's directory, it writes one JSON report to file
descriptor 3: the interpreter, the installed snakepool (version, protocol, declared requirements),
the versions of its requirements, whether the generated bridge code imports, and for each adapter
asked for whether it imports and its tools (without running setup()). It must work whatever is
missing or broken, on old interpreters too, so it uses only the standard library and the public
API of snakepool (collect_tools), and reports every failure instead of raising. (Its annotations
are strings, so that Python 3.7 and later can run it and be told that they are too old.)
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import re
import sys
import traceback
from typing import Any


def _error(exc: BaseException) -> dict[str, Any]:
    # The traceback without the probe's own frames (its file is "<string>"): what the user's code did.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != "<string>"]
    text = ""
    if frames:
        text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
        text += "".join(traceback.format_exception_only(type(exc), exc))
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": text,
        "missing_module": getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
    }


def _distribution_version(name: str) -> str | None:
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8
        return None
    try:
        return metadata.version(name)
    except Exception:
        return None


def _snakepool() -> dict[str, Any]:
    report: dict[str, Any] = {"installed": False}
    try:
        import snakepool
    except BaseException as exc:
        report["error"] = _error(exc)
        return report
    report.update(
        installed=True,
        version=getattr(snakepool, "__version__", None),
        file=getattr(snakepool, "__file__", None),
        protocol=getattr(snakepool, "PROTOCOL_VERSION", None),
    )
    try:
        from importlib import metadata

        dist = metadata.distribution("snakepool")
        report["requires_python"] = (dist.metadata.get_all("Requires-Python") or [None])[0]
        report["requires"] = [r for r in (dist.requires or []) if "extra" not in r.partition(";")[2]]
        report["distribution_version"] = dist.version
    except Exception as exc:
        report["metadata_error"] = _error(exc)
    return report


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1) if match else requirement


def _bridge() -> dict[str, Any]:
    try:
        importlib.import_module("grpc")
        importlib.import_module("snakepool.bridge.v1.bridge_pb2")
        importlib.import_module("snakepool.bridge.v1.bridge_pb2_grpc")
    except BaseException as exc:
        return {"ok": False, "error": _error(exc)}
    return {"ok": True}


def _adapter_classes(module: Any, base: type) -> list[str]:
    """The adapter classes of a module, without snakepool's own base classes it imported."""
    return sorted(
        name
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, base)
        and not value.__module__.startswith("snakepool._")
    )


def _adapter(ref: str) -> dict[str, Any]:
    report: dict[str, Any] = {"ref": ref, "ok": False}
    if ":" in ref:
        module_name, _, attr = ref.partition(":")
    else:
        module_name, _, attr = ref.rpartition(".")
    if not module_name or not attr:
        report["error"] = {
            "type": "ValueError",
            "message": f"the adapter must look like package.module:Class, got {ref!r}",
            "traceback": "",
        }
        return report
    try:
        import snakepool

        module = importlib.import_module(module_name)
        obj: Any = module
        for part in attr.split("."):
            if not hasattr(obj, part):
                found = _adapter_classes(module, snakepool.Adapter)
                raise AttributeError(
                    f"module '{module_name}' has no attribute '{attr}' "
                    f"(adapter classes in it: {', '.join(found) or 'none'})"
                )
            obj = getattr(obj, part)
        if not (isinstance(obj, type) and issubclass(obj, snakepool.Adapter)):
            raise TypeError(f"{ref} is not a subclass of snakepool.Adapter")
        tools = snakepool.collect_tools(obj)
    except BaseException as exc:
        report["error"] = _error(exc)
        return report
    report.update(
        ok=True,
        thread_safe=getattr(obj, "__thread_safe__", False) is True,
        module_file=getattr(sys.modules.get(module_name), "__file__", None),
        tools=[
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in tools.values()
        ],
    )
    return report


def main() -> None:
    request = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    check = getattr(sys, "_is_gil_enabled", None)
    report: dict[str, Any] = {
        "python": {
            "executable": sys.executable,
            "version": platform.python_version(),
            "version_info": list(sys.version_info[:3]),
            "implementation": platform.python_implementation(),
            "prefix": sys.prefix,
            "gil_enabled": bool(check()) if check is not None else True,
        },
        "cwd": os.getcwd(),
    }
    report["snakepool"] = _snakepool()
    packages: dict[str, Any] = {}
    for requirement in report["snakepool"].get("requires", []):
        name = _requirement_name(requirement)
        packages[name] = {"requirement": requirement, "version": _distribution_version(name)}
    report["packages"] = packages
    if report["snakepool"]["installed"]:
        report["bridge"] = _bridge()
        report["adapters"] = [_adapter(ref) for ref in request.get("adapters", [])]
    out = os.fdopen(3, "w")
    json.dump(report, out, default=repr)
    out.close()


main()
