"""A package that cannot be imported (a broken install)."""

raise ImportError("a broken install of snakepool")
