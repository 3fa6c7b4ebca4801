"""The protocol check against the supervisor: before the command line is parsed, with a handshake
that names both versions."""

from __future__ import annotations

import importlib.metadata
import os
import sys

import pytest
from conftest import TEST_ADAPTER, ServerFactory

import snakepool
from snakepool import PROTOCOL_VERSION
from snakepool._protocol import PROTOCOL_ENV, handshake_fd_of


@pytest.mark.parametrize(
    ("theirs", "fix"),
    [
        (PROTOCOL_VERSION - 1, "install the Python package of the Go worker's release"),
        (PROTOCOL_VERSION + 1, "upgrade"),
    ],
    ids=["an older Go worker", "a newer Go worker"],
)
def test_a_supervisor_of_another_protocol_gets_a_handshake_that_names_both(
    servers: ServerFactory, theirs: int, fix: str
) -> None:
    # A newer supervisor may pass flags this package does not know: they must not be what it hears.
    proc, workdir, hs = servers.spawn(
        TEST_ADAPTER, "--flag-of-a-future-release", "7", env={PROTOCOL_ENV: str(theirs)}
    )
    assert proc.wait(15) == 1
    assert hs["protocol"] == PROTOCOL_VERSION and hs["package_version"] == snakepool.__version__
    assert hs["error"]["type"] == "ProtocolMismatch"
    message = hs["error"]["message"]
    head, _, tail = message.partition(" (snakepool ")
    assert head.startswith(
        f"the snakepool Go worker speaks bridge protocol {theirs}, the Python package at /"
    ), message
    assert os.path.samefile(head.rpartition(" at ")[2], sys.executable), message
    assert tail.startswith(f"{snakepool.__version__}) speaks {PROTOCOL_VERSION}: {fix}"), message
    stderr = (workdir / "stderr").read_text()
    assert message in stderr
    assert "usage:" not in stderr and "unrecognized arguments" not in stderr


def test_a_version_that_is_not_a_number_is_refused(servers: ServerFactory) -> None:
    proc, _, hs = servers.spawn(TEST_ADAPTER, env={PROTOCOL_ENV: "two"})
    assert proc.wait(15) == 1
    assert (
        hs["error"]["type"] == "ProtocolMismatch"
        and "'two' is not a protocol version" in hs["error"]["message"]
    )


def test_the_same_protocol_serves_and_the_tools_do_not_see_the_variable(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER, env={PROTOCOL_ENV: str(PROTOCOL_VERSION)})
    assert "error" not in server.handshake
    assert server.call("getenv", {"name": PROTOCOL_ENV}) is None
    assert server.call("square", {"x": 2}) == 4


@pytest.mark.parametrize(
    ("argv", "fd"),
    [
        (["--adapter", "m:C", "--handshake-fd", "3"], 3),
        (["--handshake-fd=7", "--x"], 7),
        (["--handshake-fd"], None),
        (["--handshake-fd", "three"], None),
        (["--socket", "s"], None),
    ],
)
def test_the_handshake_fd_is_found_before_parsing(argv: list[str], fd: int | None) -> None:
    assert handshake_fd_of(argv) == fd


def test_the_version_is_the_distributions() -> None:
    assert snakepool.__version__ == importlib.metadata.version("snakepool")
