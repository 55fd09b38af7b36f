"""pytest plugin (entry point ``pytest11: tether``): SSH server fixtures.

``sshd_server`` is a session-wide OpenSSH sshd when ``sshd`` is installed,
else the embedded asyncssh server; ``TETHER_TEST_SERVER=openssh|embedded``
forces one. The run's header says which one it uses. ``private_sshd_server``
is one test's own sshd, for tests that crash it (``server.kill()``).

``podman_container`` is a running busybox container for the session (podman);
``python_container`` the same with this host's ``/usr`` mounted read-only, so
``python3`` runs in it (for the agent); ``docker_host`` is podman's
Docker-compatible socket for the ``docker`` CLI (see
:mod:`tether.testing.containers`). They skip, saying why, where podman or
docker is missing.
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


# -- containers (podman, and the docker CLI on podman's socket) -----------------------
@pytest.fixture(scope="session")
def podman_container() -> Iterator[str]:
    """The name of a running busybox container (podman), one per test session; skips without podman."""
    yield from _busybox_container(host_python=False)


@pytest.fixture(scope="session")
def python_container() -> Iterator[str]:
    """A busybox container (podman) where this host's ``python3`` runs; skips without podman or python3."""
    yield from _busybox_container(host_python=True)


def _busybox_container(host_python: bool) -> Iterator[str]:
    import shutil
    import subprocess

    from .containers import HOST_PYTHON, ensure_busybox_image, running_container, static_busybox

    podman = shutil.which("podman")
    if podman is None or static_busybox() is None:
        pytest.skip("podman and busybox-static are needed for container tests (make system-deps installs them)")
    if host_python and not (os.path.islink("/lib") and os.access(HOST_PYTHON, os.X_OK)):
        pytest.skip(f"a merged-/usr host with {HOST_PYTHON} is needed to lend Python to the container")
    try:
        image = ensure_busybox_image(podman)
        with running_container(podman, image, host_python=host_python) as name:
            yield name
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"podman could not start the test container: {exc.stderr.decode(errors='replace')[-500:]}")


@pytest.fixture(scope="session")
def docker_host(podman_container: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``unix://...`` of podman's Docker-compatible service (the ``docker`` CLI talks to it); skips without docker."""
    import shutil

    from .containers import podman_docker_service

    podman = shutil.which("podman")
    if shutil.which("docker") is None or podman is None:
        pytest.skip("the docker CLI is not installed")
    # a short path: unix socket names are limited to about 100 bytes
    directory = tmp_path_factory.mktemp("podsock")
    with podman_docker_service(podman, str(directory)) as url:
        yield url


@pytest.fixture
def private_sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """An OpenSSH sshd of this test's own, which it may kill (``server.kill()``)."""
    from .sshd import sshd_path, start_openssh_server

    if sshd_path() is None:
        pytest.skip("a killable server needs OpenSSH's sshd (apt-get install openssh-server)")
    with start_openssh_server(tmp_path_factory.mktemp("private-sshd")) as server:
        yield server
