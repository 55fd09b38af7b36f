"""pytest plugin (entry point ``pytest11: tether``): SSH server fixtures.

``sshd_server`` is a session-wide OpenSSH sshd when ``sshd`` is installed,
else the embedded asyncssh server; ``TETHER_TEST_SERVER=openssh|embedded``
forces one. ``private_sshd_server`` is one test's own sshd, for tests that
crash it (``server.kill()``). The run's header says which one it uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .server import SshServer

_CHOICE = "TETHER_TEST_SERVER"


def _server_kind() -> str:
    from .sshd import sshd_path

    forced = os.environ.get(_CHOICE, "").strip().lower()
    if forced not in ("", "openssh", "embedded"):
        raise pytest.UsageError(f"{_CHOICE} must be 'openssh' or 'embedded', not {forced!r}")
    return forced or ("openssh" if sshd_path() else "embedded")


def pytest_report_header(config: pytest.Config) -> str:
    from .sshd import sshd_path, sshd_version

    kind = _server_kind()
    if kind == "openssh":
        return f"tether: sshd fixture uses {sshd_version()} at {sshd_path()}"
    reason = f"forced by {_CHOICE}" if os.environ.get(_CHOICE) else "sshd is not installed"
    return f"tether: sshd fixture uses the embedded asyncssh server ({reason})"


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A running SSH server on loopback with throwaway keys (see tether.testing)."""
    kind = _server_kind()
    directory = tmp_path_factory.mktemp("sshd")
    if kind == "openssh":
        from .sshd import sshd_path, start_openssh_server

        if sshd_path() is None:
            pytest.fail(f"{_CHOICE}=openssh but sshd is not installed (apt-get install openssh-server)")
        with start_openssh_server(directory) as server:
            yield server
    else:
        from .embedded import start_embedded_server

        with start_embedded_server(directory) as server:
            yield server


@pytest.fixture(scope="session")
def embedded_ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """The in-process asyncssh server, whatever else is installed."""
    from .embedded import start_embedded_server

    with start_embedded_server(tmp_path_factory.mktemp("embedded-sshd")) as server:
        yield server


@pytest.fixture
def private_sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """An OpenSSH sshd of this test's own, which it may kill (``server.kill()``)."""
    from .sshd import sshd_path, start_openssh_server

    if sshd_path() is None:
        pytest.skip("a killable server needs OpenSSH's sshd (apt-get install openssh-server)")
    with start_openssh_server(tmp_path_factory.mktemp("private-sshd")) as server:
        yield server
