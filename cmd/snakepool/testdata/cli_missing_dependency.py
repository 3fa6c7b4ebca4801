"""An adapter module that imports a package that is not installed."""

from __future__ import annotations

import snakepool_cli_test_missing_dependency  # type: ignore[import-not-found]  # noqa: F401
from snakepool import Adapter, tool


class NeedsIt(Adapter):
    """Never loads."""

    @tool
    def noop(self) -> None:
        """Nothing."""
