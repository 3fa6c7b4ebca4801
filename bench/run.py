"""snakepool's benchmarks: `make bench` runs this with .venv-bench's Python.

    .venv-bench/bin/python bench/run.py            # the full run: writes docs/benchmarks.md (+ charts)
    .venv-bench/bin/python bench/run.py --smoke --out /tmp/x/benchmarks.md   # seconds: checks the harness

See bench/harness/ for what is measured and how, and docs/benchmarks.md for the figures.
"""

import sys

from harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
