"""Where things are: the repository, the binaries the harness builds, the interpreters, a work dir."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .procs import HarnessError

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    """Paths of one run. ``work`` is a fresh directory for configs, inputs and logs."""

    root: Path
    work: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def temporal(self) -> Path:
        return self.bin / "temporal"

    @property
    def worker(self) -> Path:
        return self.bin / "snakepool-worker"

    @property
    def driver(self) -> Path:
        return self.bin / "bench-driver"

    @property
    def product_python(self) -> Path:
        """The interpreter with the snakepool package (the repository's .venv, `make deps`)."""
        return Path(
            os.environ.get("SNAKEPOOL_PYTHON") or self.root / ".venv" / "bin" / "python"
        )

    @property
    def bench_python(self) -> Path:
        """The interpreter with temporalio and matplotlib (.venv-bench, `make bench-deps`)."""
        return self.root / ".venv-bench" / "bin" / "python"

    @property
    def workers_dir(self) -> Path:
        """bench/workers: the bench adapter, its tools and the Python SDK worker."""
        return self.root / "bench" / "workers"

    def shown(self, argv: list[str]) -> str:
        """A command line as the report shows it: paths relative to the repository, <work> for
        the work dir."""
        text = " ".join(argv)
        return text.replace(str(self.work), "<work>").replace(str(self.root) + "/", "")

    def check(self) -> None:
        """Fail with what to run when something the harness needs is missing."""
        for path, how in (
            (self.temporal, "make deps"),
            (self.product_python, "make deps"),
            (self.bench_python, "make bench-deps"),
        ):
            if not path.exists():
                raise HarnessError(
                    f"{path} is missing: run `{how}` (or `make bench`, which runs it)"
                )
        if shutil.which("go") is None:
            raise HarnessError("go is not on PATH")

    def build(self) -> None:
        """Build bin/snakepool-worker and bin/bench-driver from this tree (go build caches)."""
        for out, package in (
            (self.worker, "./cmd/worker"),
            (self.driver, "./bench/driver"),
        ):
            done = subprocess.run(
                ["go", "build", "-o", str(out), package],
                cwd=self.root,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                raise HarnessError(f"go build {package} failed:\n{done.stderr[-3000:]}")
