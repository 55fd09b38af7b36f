"""``SshMachine``: a remote machine through the system ``ssh`` client.

::

    from tether import SshMachine
    with SshMachine("host", user="john", keyfile="~/.ssh/id_ed25519") as rem:
        rem["ls"]("-a")
        (rem["ls"] | rem["grep"]["b"])()      # one pipeline, on the remote
        rem.session().run("cd /tmp && ls")

One ControlMaster connection carries every command (see
:mod:`tether.transports.openssh`); ``close()`` ends it. Host keys are
verified against known_hosts (``host_key_policy="strict"``) unless you
choose ``"accept-new"`` or ``"ignore"``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import Any

from ..exceptions import ConnectError
from ..transports.openssh import ControlMaster, connect_error, connection_options
from .names import check_name
from .remote import DEFAULT_MAX_SESSIONS, AsyncRemoteMachine, RemoteMachine


class AsyncSshMachine(AsyncRemoteMachine):
    """Async core of :class:`SshMachine` (``await AsyncSshMachine(...).connect()``)."""

    def __init__(
        self,
        host: str,
        user: str | None = None,
        port: int | None = None,
        keyfile: Any = None,
        password: str | None = None,
        ssh_command: Any = None,
        scp_command: Any = None,
        ssh_opts: Sequence[str] = (),
        scp_opts: Sequence[str] = (),
        connect_timeout: float = 10,
        known_hosts: Any = None,
        host_key_policy: str = "strict",
        host_key: str | None = None,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        ssh_config: Any = None,
    ) -> None:
        super().__init__(host, max_sessions)
        self.user = check_name(user, "user name") if user is not None else None
        self.port = port
        ssh = os.fspath(ssh_command) if ssh_command is not None else shutil.which("ssh")
        if not ssh:
            raise ConnectError("the OpenSSH client (ssh) is not installed", host)
        self.ssh_command = ssh
        self.scp_command = os.fspath(scp_command) if scp_command is not None else "scp"
        self.scp_opts = list(scp_opts)
        self.connect_timeout = connect_timeout
        self._master = ControlMaster(ssh, host, [], password)
        pinned = self._master.pin_host_key(host_key) if host_key is not None else []
        options = connection_options(
            user=user, port=port, keyfile=keyfile, known_hosts=None if pinned else known_hosts,
            host_key_policy="strict" if pinned else host_key_policy, connect_timeout=connect_timeout,
            batch=password is None,
        )
        # ssh keeps the first value it sees for an option: the pin comes first
        config = ["-F", os.path.expanduser(os.fspath(ssh_config))] if ssh_config is not None else []
        self._master.options = [*config, *pinned, *options, *ssh_opts]

    def __repr__(self) -> str:
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"<SshMachine ssh://{who}{self.host}{port}>"

    def _open_control(self) -> Any:
        return self._master.spawn()

    def _control_started(self) -> None:
        self._master.connected()

    def _connect_error(self, stderr: str) -> Exception:
        return connect_error(self.host, stderr)

    def _disconnect(self) -> None:
        self._master.close()

    def _client_argv(self, line: str) -> list[str]:
        return self._master.client_argv(line)

    @property
    def control_path(self) -> str:
        """The ControlMaster socket: ``ssh -S <it> host`` rides on this connection."""
        return self._master.socket

    def _forwarder(self) -> Any:
        from ..transports.openssh_mux import MasterForwarder

        return MasterForwarder(self.ssh_command, self._master.socket, self._master.directory, self.host)


class SshMachine(RemoteMachine):
    """A remote machine over the system ``ssh``, one multiplexed connection.

    Arguments follow plumbum's ``SshMachine``; ``known_hosts`` and
    ``host_key_policy`` ("strict", "accept-new", "ignore") control host-key
    checks, and a ``password`` is passed through ``SSH_ASKPASS``, never on a
    command line.
    """

    aio: AsyncSshMachine
    _core = AsyncSshMachine

    def __repr__(self) -> str:
        return repr(self.aio)

    @property
    def control_path(self) -> str:
        return self.aio.control_path


__all__ = ["AsyncSshMachine", "SshMachine"]
