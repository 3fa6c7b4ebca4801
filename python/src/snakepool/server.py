"""``python -m snakepool.server``: serve an adapter to the Go supervisor.

Run ``python -m snakepool.server --help`` for the options.
"""

from ._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
