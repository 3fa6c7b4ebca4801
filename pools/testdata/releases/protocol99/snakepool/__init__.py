"""A newer release of the package (bridge protocol 99), as far as the Go side can tell."""

PROTOCOL_VERSION = 99
__version__ = "9.9.0"
