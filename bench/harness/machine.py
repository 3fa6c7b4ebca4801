"""What the figures were measured on: the machine, its load, and the versions of everything."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Machine",
    "Versions",
    "collect_versions",
    "describe_machine",
    "load_average",
]


@dataclass(frozen=True)
class Machine:
    """The machine: cores, CPU model, memory, kernel."""

    cores: int
    cpu_model: str
    memory_gib: float
    kernel: str


@dataclass(frozen=True)
class Versions:
    """Versions of the toolchains and packages that the figures depend on."""

    go: str
    go_sdk: str
    python: str
    grpcio: str
    protobuf: str
    temporalio: str
    temporal_cli: str
    snakepool_commit: str


def describe_machine() -> Machine:
    """Read the machine's description from /proc."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0.0
    try:
        match = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        if match:
            memory = int(match.group(1)) / 2**20
    except OSError:
        pass
    return Machine(
        cores=os.cpu_count() or 0,
        cpu_model=model,
        memory_gib=round(memory, 1),
        kernel=platform.release(),
    )


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15-minute load averages."""
    return os.getloadavg()


def _output(argv: list[str], cwd: Path) -> str:
    try:
        return subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"


def _package_version(python: Path, package: str, cwd: Path) -> str:
    return _output(
        [
            str(python),
            "-c",
            f"import importlib.metadata as m; print(m.version({package!r}))",
        ],
        cwd,
    )


def collect_versions(
    root: Path, product_python: Path, bench_python: Path, temporal: Path
) -> Versions:
    """Versions of Go and its Temporal SDK, the product's Python and packages, temporalio, the CLI."""
    cli = _output(["go", "version", "-m", str(temporal)], root)
    match = re.search(
        r"^\s+mod\s+github\.com/temporalio/cli\s+(\S+)", cli, re.MULTILINE
    )
    server = _output([str(temporal), "--version"], root)
    return Versions(
        go=_output(["go", "env", "GOVERSION"], root),
        go_sdk=_output(
            ["go", "list", "-m", "-f", "{{.Version}}", "go.temporal.io/sdk"], root
        ),
        python=_output(
            [
                str(product_python),
                "-c",
                "import platform; print(platform.python_version())",
            ],
            root,
        ),
        grpcio=_package_version(product_python, "grpcio", root),
        protobuf=_package_version(product_python, "protobuf", root),
        temporalio=_package_version(bench_python, "temporalio", root),
        temporal_cli=f"{match.group(1) if match else 'unknown'} ({server.removeprefix('temporal version ')})",
        snakepool_commit=_output(["git", "describe", "--always", "--dirty"], root),
    )
