"""One run's raw results, as written to benchmarks/results.json beside the report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .bridge import Bridge
from .endtoend import EndToEnd
from .machine import Machine, Versions
from .plan import Plan
from .poolbench import PoolFigures

__all__ = ["Run"]


@dataclass
class Run:
    """Everything one run measured, and where and when."""

    plan: Plan
    machine: Machine
    versions: Versions
    started_at: str  # UTC, ISO 8601
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    seconds: float  # the whole run, builds and installs excluded
    end_to_end: EndToEnd
    bridge: Bridge
    pools: PoolFigures
    # Session ids of every process the run started; all of them had ended when it finished.
    sessions: list[int] = field(default_factory=list)
    # Processes found alive in those sessions at the end (and killed): a bug of the harness.
    leftovers: list[str] = field(default_factory=list)

    def write_json(self, path: Path) -> None:
        """Write the raw results as JSON."""
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def read_json(cls, path: Path) -> Run:
        """Read results written by write_json (to render the report again)."""
        d = json.loads(path.read_text())
        plan = d["plan"]
        for key in ("payload_sizes", "startup_sizes"):
            plan[key] = tuple(plan[key])
        return cls(
            plan=Plan(**plan),
            machine=Machine(**d["machine"]),
            versions=Versions(**d["versions"]),
            started_at=d["started_at"],
            load_start=tuple(d["load_start"]),
            load_end=tuple(d["load_end"]),
            seconds=d["seconds"],
            end_to_end=EndToEnd(**d["end_to_end"]),
            bridge=Bridge(**d["bridge"]),
            pools=PoolFigures(**d["pools"]),
            sessions=d.get("sessions", []),
            leftovers=d.get("leftovers", []),
        )
