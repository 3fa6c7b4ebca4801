"""bench/tests import the harness from bench/ and the worker modules from bench/workers/."""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
for path in (BENCH, BENCH / "workers"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
