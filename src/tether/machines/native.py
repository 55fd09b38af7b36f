"""``NativeSshMachine``: SSH inside this process (asyncssh), no ssh binary needed.

::

    from tether import NativeSshMachine
    with NativeSshMachine("host", user="john", keyfile="~/.ssh/id_ed25519") as rem:
        rem["ls"]("-a")

One connection, one channel per command (milliseconds, no process spawned
locally). ``~/.ssh/config`` (or ``ssh_config=``) applies as ``ssh -G``
computes it, through :mod:`tether.sshconfig`: HostName, User, Port,
IdentityFile, UserKnownHostsFile and ProxyJump (each hop resolved the same
way); explicit arguments win. ``jump=`` names jump hosts explicitly (a
machine, or ``"[user@]host[:port],..."`` resolved like ProxyJump).
Host keys are checked against known_hosts unless ``host_key_policy`` says
otherwise ("accept-new" records an unknown host's key, "ignore" checks
nothing). See :mod:`tether.transports.native` for how channels join local
pipelines.
"""

from __future__ import annotations

import concurrent.futures
import signal
import threading
import time
from typing import Any

from .._portal import ssh_portal
from ..commands.plan import Plan, Stage
from ..exceptions import ConnectError, ProcessTimedOut
from ..execution.job import check_exit, decode, log_finished
from ..transports.base import DEVNULL, PIPE
from ..transports.native import open_connection, run_collected, start_channel, start_process
from ..transports.sftp import SftpSession, SftpUnavailable
from .host_config import host_settings, split_hop
from .names import check_name
from .remote import DEFAULT_MAX_SESSIONS, AsyncRemoteMachine, RemoteMachine

DEFAULT_KEEPALIVE = 30.0
# run_command options under which a command's output can simply be collected
_COLLECTABLE = {"stdin": DEVNULL, "stdout": PIPE, "stderr": PIPE}


class AsyncNativeSshMachine(AsyncRemoteMachine):
    """Async core of :class:`NativeSshMachine`."""

    _client_is_process = False

    def __init__(
        self,
        host: str,
        user: str | None = None,
        port: int | None = None,
        keyfile: Any = None,
        password: str | None = None,
        known_hosts: Any = None,
        host_key_policy: str = "strict",
        connect_timeout: float = 10,
        keepalive: float | None = DEFAULT_KEEPALIVE,
        jump: Any = None,
        host_key: str | None = None,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        ssh_config: Any = None,
    ) -> None:
        super().__init__(host, max_sessions)
        # asyncssh reads no ssh_config: tether.sshconfig resolves the host as ssh -G would
        settings = host_settings(host, user, port, keyfile, known_hosts, jump, ssh_config)
        self.target = check_name(settings.target, "host name")
        self.user = check_name(settings.user, "user name") if settings.user is not None else None
        self.port = settings.port
        self._connect_options = dict(
            user=self.user, port=self.port, keyfile=settings.keyfiles or None, password=password,
            known_hosts=settings.known_hosts, host_key_policy=host_key_policy, connect_timeout=connect_timeout,
            keepalive=keepalive, jump=None if isinstance(jump, str) else jump, host_key=host_key,
        )
        self._hops = [host_settings(hop_host, hop_user, hop_port, ssh_config=ssh_config)
                      for hop_user, hop_host, hop_port in map(split_hop, settings.jumps)]  # fmt: skip
        self._conn: Any = None
        self._hop_conns: list[Any] = []
        self._sftp: SftpSession | None = None
        self._sftp_offered = True
        self._sftp_lock = threading.Lock()

    def __repr__(self) -> str:
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"<NativeSshMachine ssh://{who}{self.host}{port}>"

    def _connect_blocking(self) -> None:
        jump = self._connect_options.get("jump")
        if isinstance(jump, (NativeSshMachine, AsyncNativeSshMachine)):
            self._connect_options["jump"] = (jump.aio if isinstance(jump, NativeSshMachine) else jump)._conn
        options, self._connect_options = self._connect_options, {}  # the password goes no further
        try:
            for hop in self._hops:  # ProxyJump from ssh_config: each hop through the one before
                self._hop_conns.append(ssh_portal.call(open_connection, hop.target, **_hop_options(hop, options, self._hop_conns)))
            if self._hop_conns:
                options["jump"] = self._hop_conns[-1]
            self._conn = ssh_portal.call(open_connection, self.target, **options)
            self._start_control()
        except BaseException:
            self._close_blocking()
            raise

    def _make_path(self, *parts: Any) -> Any:
        from ..paths.sftp_path import SftpPath

        return SftpPath(self._facade(), *parts)

    def sftp(self) -> SftpSession | None:
        """The connection's SFTP session (opened on first use; it holds one channel).

        None when the server offers no SFTP: paths then ask the shell, as on the other machines.
        """
        with self._sftp_lock:
            if self._sftp is None and self._sftp_offered:
                self._check_open()
                if not self._channels.acquire(timeout=30):
                    raise ConnectError(f"no free channel on {self.host} for SFTP", self.host)
                try:
                    self._sftp = SftpSession(self._conn, self.host)
                except SftpUnavailable:
                    self._channels.release()
                    self._sftp_offered = False
                except BaseException:
                    self._channels.release()
                    raise
            return self._sftp

    def _disconnect(self) -> None:
        sftp, self._sftp = self._sftp, None
        if sftp is not None:
            sftp.close()
        conn, self._conn = self._conn, None
        hops, self._hop_conns = self._hop_conns, []
        for each in [conn, *reversed(hops)]:
            if each is not None:
                ssh_portal.call(_close_connection, each)

    def _open_client(
        self, line: str, stdin: Any = PIPE, stdout: Any = PIPE, stderr: Any = PIPE, wait: bool = True
    ) -> Any:
        """A channel running ``line``; with ``wait=False`` it returns before the channel is open
        (await ``handle.opening``): how async callers start one without blocking their loop."""
        self._check_open()
        if wait:
            return start_process(self._conn, line, stdin, stdout, stderr)
        return start_channel(self._conn, line, stdin, stdout, stderr)

    def _run_collected(self, cmd: Any, options: dict) -> Any:
        """The common case in one call to asyncssh: no stdin, output collected, no pipes bridged."""
        if options.get("tee") or options.get("result", "tuple") not in ("tuple", "retcode"):
            return None
        if any(options.get(k, default) != default for k, default in _COLLECTABLE.items()):
            return None
        plan = cmd.plan()
        if any(stage.machine.aio is not self for stage in plan.stages):
            return None
        job = self._prepare(plan.stages)
        if any(job.redirects.values()):
            return None
        timeout = options.get("timeout")
        started = time.monotonic()
        self._channels.acquire()
        try:
            future = ssh_portal.submit(run_collected, self._conn, job.line)
        except BaseException:
            self._channels.release()
            raise
        future.add_done_callback(lambda _: self._channels.release())
        try:
            rc, out, err = future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            job(signal.SIGKILL)
            raise ProcessTimedOut(job.display, timeout, host=self.host) from None
        except BaseException:  # ^C, or the connection died: leave nothing running
            future.cancel()
            job(signal.SIGKILL)
            raise
        stdout, stderr = decode(out, job.encoding), decode(err, job.encoding)
        shown = Plan([Stage(plan.stages[-1].command, job.display, host=self.host)])
        log_finished(shown, [rc], self.host, started)
        check_exit(shown, [rc], options.get("retcode", 0), stdout, stderr, self.host)
        return rc if options.get("result") == "retcode" else (rc, stdout, stderr)

    def _forwarder(self) -> Any:
        from ..transports.native_forward import ConnectionForwarder

        return ConnectionForwarder(self._conn, self.host)

    @property
    def connection(self) -> Any:
        """The underlying ``asyncssh.SSHClientConnection`` (on tether's SSH loop)."""
        return self._conn


def _hop_options(hop: Any, options: dict, before: list) -> dict:
    """A jump host's connection options: its own config settings, the target's host-key policy."""
    return {
        **options, "user": hop.user, "port": hop.port, "keyfile": hop.keyfiles or None, "password": None,
        "known_hosts": hop.known_hosts, "host_key": None, "jump": before[-1] if before else None,
    }


async def _close_connection(conn: Any) -> None:
    conn.close()
    await conn.wait_closed()


class NativeSshMachine(RemoteMachine):
    """A remote machine over an in-process SSH connection (asyncssh)."""

    aio: AsyncNativeSshMachine
    _core = AsyncNativeSshMachine

    def __repr__(self) -> str:
        return repr(self.aio)


def connect(url: str, **kwargs: Any) -> NativeSshMachine:
    """``tether.connect("ssh://user@host:port")``: a NativeSshMachine.

    Keyword arguments go to :class:`NativeSshMachine` (keyfile, known_hosts, ...).
    """
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("ssh", ""):
        raise ValueError(f"tether.connect takes ssh://[user@]host[:port] URLs; got {url!r}")
    if parts.password is not None:
        raise ValueError("put no password in the URL (it would end up in logs); pass password=")
    host = parts.hostname or (url if not parts.scheme else "")
    if not host:
        raise ValueError(f"no host in {url!r}")
    kwargs.setdefault("user", unquote(parts.username) if parts.username else None)
    kwargs.setdefault("port", parts.port)
    return NativeSshMachine(host, **kwargs)
