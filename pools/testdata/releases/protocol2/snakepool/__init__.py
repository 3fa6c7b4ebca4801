"""An older release of the package (bridge protocol 2), as far as the Go side can tell."""

PROTOCOL_VERSION = 2
__version__ = "0.0.9"
