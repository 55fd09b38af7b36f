"""``PuttyMachine``: a remote machine through PuTTY's ``plink``.

::

    from tether import PuttyMachine
    with PuttyMachine("host", user="john", keyfile="key.ppk", known_hosts="~/.ssh/known_hosts") as rem:
        rem["ls"]("-a")

Everything :class:`~tether.machines.remote.RemoteMachine` offers works the
same as on ``SshMachine``. Connection sharing (``plink -share``) keeps one
connection for all commands (see :mod:`tether.transports.putty`). An
OpenSSH private key is converted to .ppk with ``puttygen`` on the fly.
Host keys: the fingerprints given with ``hostkey=``, or the host's entries
in ``known_hosts`` (default ``~/.ssh/known_hosts``); with neither, plink's
own cache decides (and, in batch mode, refuses an unknown host).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

from ..exceptions import ConnectError
from ..transports.openssh import parse_public_key
from ..transports.putty import as_ppk, connect_error, fingerprint, fingerprints_from_known_hosts
from .host_config import host_settings
from .names import check_name
from .remote import DEFAULT_MAX_SESSIONS, AsyncRemoteMachine, RemoteMachine


class AsyncPuttyMachine(AsyncRemoteMachine):
    """Async core of :class:`PuttyMachine`."""

    def __init__(
        self,
        host: str,
        user: str | None = None,
        port: int | None = None,
        keyfile: Any = None,
        password: str | None = None,
        plink_command: Any = None,
        pscp_command: Any = None,
        plink_opts: Sequence[str] = (),
        pscp_opts: Sequence[str] = (),
        known_hosts: Any = None,
        hostkey: str | Sequence[str] | None = None,
        connect_timeout: float = 10,
        host_key: str | None = None,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        ssh_config: Any = None,
    ) -> None:
        super().__init__(host, max_sessions)
        # plink reads no ssh_config: resolve the host like OpenSSH would (tether.sshconfig)
        # so an alias means the same thing on every machine; explicit arguments win
        settings = host_settings(host, user, port, keyfile, known_hosts, ssh_config=ssh_config)
        self.target = check_name(settings.target, "host name")
        keyfile = settings.keyfiles[0] if settings.keyfiles else None
        if known_hosts is None and ssh_config is not None:  # a default config's file is PuTTY's own business
            known_hosts = settings.known_hosts
        self.user = check_name(settings.user, "user name") if settings.user is not None else None
        self.port = settings.port
        plink = os.fspath(plink_command) if plink_command is not None else shutil.which("plink")
        if not plink:
            raise ConnectError("PuTTY's plink is not installed (Debian: apt-get install putty-tools)", host)
        self.plink_command = plink
        self.pscp_command = os.fspath(pscp_command) if pscp_command is not None else "pscp"
        self.pscp_opts = list(pscp_opts)
        self.connect_timeout = connect_timeout
        if host_key is not None:  # an OpenSSH public key line, pinned like on the other machines
            hostkey = fingerprint(parse_public_key(host_key)[1])
        self._directory = tempfile.mkdtemp(prefix="tether-plink-")  # 0700: converted key, password file
        try:
            self._options = self._build_options(keyfile, password, known_hosts, hostkey, plink_opts)
        except BaseException:
            shutil.rmtree(self._directory, ignore_errors=True)
            raise

    def _build_options(
        self, keyfile: Any, password: str | None, known_hosts: Any, hostkey: Any, extra: Sequence[str]
    ) -> list[str]:
        opts = ["-batch", "-share", "-T", "-x", "-a", "-noagent"]
        if self.port:
            opts += ["-P", str(int(self.port))]
        if self.user:
            opts += ["-l", self.user]
        if keyfile is not None:
            opts += ["-i", as_ppk(os.path.expanduser(os.fspath(keyfile)), self._directory)]
        if password is not None:
            secret = os.path.join(self._directory, "password")
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password)
            opts += ["-pwfile", secret]
        fingerprints = self._host_fingerprints(known_hosts, hostkey)
        for fp in fingerprints:
            opts += ["-hostkey", fp]
        if fingerprints:
            # plink names its -share socket after the logical host: a private
            # name keeps other plinks to this host (checked against other
            # keys, perhaps) from serving our commands, and ours from theirs
            opts += ["-loghost", f"tether-{secrets.token_hex(8)}"]
        return opts + list(extra)

    def _host_fingerprints(self, known_hosts: Any, hostkey: Any) -> list[str]:
        if hostkey is not None:
            return [hostkey] if isinstance(hostkey, str) else list(hostkey)
        path = os.path.expanduser(os.fspath(known_hosts) if known_hosts is not None else "~/.ssh/known_hosts")
        if not os.path.exists(path):
            if known_hosts is not None:
                raise FileNotFoundError(f"known_hosts file not found: {path}")
            return []
        found = fingerprints_from_known_hosts(path, self.target, self.port)
        if not found and known_hosts is not None:
            raise ConnectError(f"{path} has no key for {self.target} (port {self.port or 22})", self.host)
        return found

    def __repr__(self) -> str:
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"<PuttyMachine plink://{who}{self.host}{port}>"

    def _client_argv(self, line: str) -> list[str]:
        return [self.plink_command, *self._options, self.target, line]

    def _forwarder(self) -> Any:
        from ..transports.putty_forward import PlinkForwarder

        return PlinkForwarder([self.plink_command, *self._options], self.target, self.host)

    def _connect_blocking(self) -> None:
        # the control shell is the -share upstream every later plink rides on
        try:
            super()._connect_blocking()
        finally:
            self._forget_password()

    def _connect_error(self, stderr: str) -> Exception:
        return connect_error(self.host, stderr)

    def _forget_password(self) -> None:
        # later plinks ride on the authenticated upstream (-share): the password can go
        if "-pwfile" in self._options:
            at = self._options.index("-pwfile")
            secret = self._options[at + 1]
            del self._options[at : at + 2]
            try:
                os.unlink(secret)
            except FileNotFoundError:
                pass

    def _disconnect(self) -> None:
        shutil.rmtree(self._directory, ignore_errors=True)


class PuttyMachine(RemoteMachine):
    """A remote machine over PuTTY's ``plink`` (``putty-tools`` on Debian)."""

    aio: AsyncPuttyMachine
    _core = AsyncPuttyMachine

    def __repr__(self) -> str:
        return repr(self.aio)
