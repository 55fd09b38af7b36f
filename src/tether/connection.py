"""remoto's connections: one object per target, holding the machine that runs commands there.

::

    from tether import Connection, process
    conn = Connection("db1", detect_sudo=True)    # SshMachine; the local machine if "db1" is this host
    process.run(conn, ["ls", "-a"])               # logged as remoto logs it
    out, err, rc = process.check(conn, ["ls", "/nonexistent"])

    from tether import connection
    Docker = connection.get("docker")             # "ssh", "local", "docker", "podman", "kubernetes", "openshift"
    conn = Docker(container_name="web")

A connection is thin: ``conn.machine`` is an ordinary tether machine
(:class:`~tether.machines.local.LocalMachine`, ``SshMachine`` or a container
machine), so everything tether does is one attribute away. What the
connection adds is remoto's choices: local-or-ssh from the host name,
``sudo`` in front of every command (``detect_sudo`` turns it on when the
remote user is not root), and the logger that :mod:`tether.process` writes to.
"""

from __future__ import annotations

import functools
import logging
import shlex
import socket
from collections.abc import Sequence
from typing import Any

from .commands.base import as_arg
from .commands.quoting import check_env_name


def is_this_host(hostname: str) -> bool:
    """True when ``hostname`` names this machine (remoto's test for skipping ssh)."""
    here = socket.gethostname()
    return hostname in {"localhost", here, here.split(".")[0]} or hostname == _fqdn()


@functools.lru_cache(maxsize=1)
def _fqdn() -> str:
    # a reverse DNS lookup: slow (seconds when DNS is broken), so asked once and only when needed
    return socket.getfqdn()


class Connection:
    """A target for :func:`tether.process.run` / :func:`~tether.process.check` (remoto's ``Connection``).

    ``hostname`` may be ``user@host``. It is reached over ``ssh`` (tether's
    :class:`~tether.SshMachine`, with ``ssh_options`` added to its command
    line, as a string or a list) unless it names this host and ``use_ssh``
    is false. ``eager=False`` connects on first use instead of now.
    ``logger`` defaults to the logger named ``hostname``. ``threads`` is
    accepted for remoto's sake: commands on one connection already run in
    parallel. ``interpreter`` is the remote Python that remote-module calls
    use (``import_module``).
    """

    def __init__(
        self,
        hostname: str,
        logger: logging.Logger | None = None,
        sudo: bool = False,
        threads: int = 1,
        eager: bool = True,
        detect_sudo: bool = False,
        use_ssh: bool = False,
        interpreter: str | None = None,
        ssh_options: str | Sequence[str] | None = None,
    ) -> None:
        self.hostname = hostname
        # remoto logged under the bare host name; tether keeps its records under tether.*
        self.logger = logger if logger is not None else logging.getLogger(f"tether.connection.{hostname}")
        self.sudo = sudo
        self.threads = threads
        self.detect_sudo = detect_sudo
        self.use_ssh = use_ssh
        self.interpreter = interpreter
        self.ssh_options = shlex.split(ssh_options) if isinstance(ssh_options, str) else list(ssh_options or ())
        self._machine: Any = None
        if eager:
            self.connect()

    def __repr__(self) -> str:
        state = "connected" if self._machine is not None else "not connected"
        return f"<{type(self).__name__} {self.hostname} ({state}{', sudo' if self.sudo else ''})>"

    # -- the machine ----------------------------------------------------------------
    def _make_machine(self) -> Any:
        user, _, host = self.hostname.rpartition("@")
        if not user and not self.use_ssh and is_this_host(host):
            from .machines.local import local

            return local
        from .machines.ssh import SshMachine

        return SshMachine(host, user=user or None, ssh_opts=self.ssh_options)

    def connect(self) -> Any:
        """Open the machine now (``eager=True`` did); with ``detect_sudo``, ask who we are there."""
        if self._machine is None:
            machine = self._make_machine()
            if self.detect_sudo:
                try:
                    self.sudo = machine["whoami"]().strip() != "root"
                except BaseException:
                    _close(machine)
                    raise
            self._machine = machine
        return self._machine

    @property
    def machine(self) -> Any:
        """The tether machine behind this connection (connected on first use)."""
        return self.connect()

    def argv(self, cmd: Sequence[Any]) -> list[str]:
        """``cmd`` as a list of str, with ``sudo`` in front when this connection uses it."""
        if isinstance(cmd, (str, bytes)) or not cmd:
            raise TypeError(f"the command must be a non-empty list of arguments, like ['ls', '-a']; got {cmd!r}")
        argv = [as_arg(arg) for arg in cmd]
        return ["sudo", *argv] if self.sudo else argv

    def command(self, cmd: Sequence[Any], env: dict[str, Any] | None = None, cwd: Any = None) -> Any:
        """The tether command that runs ``cmd`` here, with ``env`` added and in ``cwd``."""
        argv = self.argv(cmd)
        env = {check_env_name(k): as_arg(v) for k, v in (env or {}).items()}
        if env and self.sudo:  # sudo resets the environment: set it on sudo's far side
            argv = ["sudo", "env", *(f"{k}={v}" for k, v in env.items()), *argv[1:]]
        command = self.machine[argv[0]][argv[1:]]
        if env and not self.sudo:
            command = command.with_env(**env)
        return command.with_cwd(cwd) if cwd is not None else command

    # -- remote Python ------------------------------------------------------------------
    def import_module(self, module: Any) -> Any:
        """The module's functions, run on the target by its agent (``interpreter`` picks the Python)."""
        return self.machine.import_module(module, python=self.interpreter)

    # -- closing ------------------------------------------------------------------------
    def exit(self) -> None:
        """Close the machine (remoto's name); the local machine stays as it is."""
        machine, self._machine = self._machine, None
        if machine is not None:
            _close(machine)

    close = exit

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.exit()


def _close(machine: Any) -> None:
    from .machines.local import local

    if machine is not local:
        machine.close()


class LocalConnection(Connection):
    """This machine, whatever ``hostname`` says."""

    def __init__(self, hostname: str = "localhost", **kwargs: Any) -> None:
        super().__init__(hostname, **kwargs)

    def _make_machine(self) -> Any:
        from .machines.local import local

        return local


class _ContainerConnection(Connection):
    """remoto's container connections: ``hostname`` is where the container runs, and must be this host."""

    def __init__(
        self,
        hostname: str | None = None,
        container_id: str | None = None,
        container_name: str | None = None,
        user: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.container = container_id or container_name
        if not self.container:
            raise ValueError(f"{type(self).__name__} needs container_id= or container_name=")
        if hostname is not None and not is_this_host(hostname):
            raise ValueError(
                f"containers on another host ({hostname!r}) are not reached through a connection here; "
                "use DockerMachine(container, docker_host='ssh://...') or a machine on that host"
            )
        self.user = user
        super().__init__(self.container, **kwargs)


class DockerConnection(_ContainerConnection):
    """A running container through the ``docker`` CLI (``DOCKER_HOST`` picks the daemon)."""

    def _make_machine(self) -> Any:
        from .machines.container import DockerMachine

        return DockerMachine(self.container, user=self.user)


class PodmanConnection(_ContainerConnection):
    """A running container through ``podman``."""

    def _make_machine(self) -> Any:
        from .machines.container import PodmanMachine

        return PodmanMachine(self.container, user=self.user)


class KubernetesConnection(Connection):
    """A pod through ``kubectl exec``; ``executable`` (a class attribute, as in remoto) names the CLI."""

    executable: str | None = None  # None: kubectl (oc) on PATH

    def __init__(self, pod_name: str, namespace: str | None = None, context: str | None = None, **kwargs: Any) -> None:
        self.pod_name, self.namespace, self.context = pod_name, namespace, context
        super().__init__(pod_name, **kwargs)

    def _make_machine(self) -> Any:
        from .machines.container import KubernetesMachine

        return KubernetesMachine(self.pod_name, self.namespace, context=self.context, kubectl_command=self.executable)


class OpenshiftConnection(KubernetesConnection):
    """A pod through ``oc exec``."""

    def _make_machine(self) -> Any:
        from .machines.container import OpenShiftMachine

        return OpenShiftMachine(self.pod_name, self.namespace, context=self.context, oc_command=self.executable)


BACKENDS: dict[str, type[Connection]] = {
    "ssh": Connection,  # as in remoto: local when the name is this host's
    "local": LocalConnection,
    "docker": DockerConnection,
    "podman": PodmanConnection,
    "kubernetes": KubernetesConnection,
    "openshift": OpenshiftConnection,
}


def get(name: str) -> type[Connection]:
    """The connection class for a backend name (remoto's ``connection.get``)."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown connection backend {name!r}; choose one of {', '.join(BACKENDS)}") from None


__all__ = [
    "BACKENDS",
    "Connection",
    "DockerConnection",
    "KubernetesConnection",
    "LocalConnection",
    "OpenshiftConnection",
    "PodmanConnection",
    "get",
    "is_this_host",
]
