"""The package's version (python/pyproject.toml's), reported in the handshake."""

__all__ = ["__version__"]

__version__ = "0.1.0"
