"""Exceptions that tools raise and that the bridge reports to the Go side."""

from __future__ import annotations

__all__ = [
    "Cancelled",
    "InvalidArguments",
    "InvalidResult",
    "NonRetryableError",
    "SnakepoolError",
    "ThreadSafetyError",
    "ThreadSafetyViolation",
    "ToolNotFound",
    "utf8_safe",
]


def utf8_safe(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (lone surrogates, e.g. from a JSON key ``"\\udcff"``)
    escaped as ``\\udcff``: every text the bridge sends must be encodable, or the message that
    carries it cannot be built."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


class SnakepoolError(Exception):
    """Base class of the errors snakepool itself raises."""


class NonRetryableError(SnakepoolError):
    """Raise it (or a subclass) from a tool when retrying the call cannot help.

    The Go side turns it into a non-retryable Temporal ``ApplicationError`` whose type is the class
    name, so Temporal does not retry the activity. Every other exception is retryable.

    Example::

        class BadInput(NonRetryableError):
            pass

        raise BadInput("image is empty")
    """


class InvalidArguments(NonRetryableError):
    """The JSON arguments do not fit the tool's parameters (missing, unknown or wrongly typed).

    Raised before the tool runs. Non-retryable: the same arguments would fail again.
    """


class ToolNotFound(NonRetryableError):
    """The adapter has no tool with the requested name. Non-retryable."""


class InvalidResult(NonRetryableError):
    """A tool returned a value that cannot be encoded as JSON. Non-retryable."""


class Cancelled(SnakepoolError):
    """The call was cancelled; raised by :meth:`ToolContext.check_cancelled` and :meth:`ToolContext.sleep`.

    Let it propagate: the call then ends with an error of type ``"Cancelled"``.
    """


class ThreadSafetyError(SnakepoolError):
    """The adapter cannot run in the thread profile (it does not declare ``__thread_safe__ = True``)."""


class ThreadSafetyViolation(NonRetryableError):
    """Raised in strict mode by the thread-safety checker.

    Raised when a method not marked ``@thread_safe_method`` is entered by several threads at once, or
    when a library known to be thread-unsafe is imported.
    """
