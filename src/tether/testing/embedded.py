"""An SSH server inside this process (asyncssh), for where OpenSSH's sshd is missing.

``tether demo`` uses it so that the tour needs no set-up; the test fixture
falls back to it only when ``sshd`` is not installed, and says so. It
accepts the throwaway client key only, runs each command with ``/bin/sh -c``
in a clean environment (``HOME`` is an empty directory), passes stdin,
stdout, stderr and the exit status through, and serves SFTP and port
forwarding on loopback.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .server import SshServer, make_keys, write_client_files

_CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "")


class _LoopThread:
    """An event loop on a daemon thread, for a server that outlives no test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="tether-embedded-sshd", daemon=True)
        self._thread.start()

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        """Cancel what still runs (open connections, sessions), then end the loop."""

        async def cancel_the_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        self.call(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


async def _serve_command(process: Any, home: Path) -> None:
    """Run the client's command under /bin/sh and relay everything both ways."""
    command = process.command or "exec /bin/sh"
    env = {"HOME": str(home), "PATH": _CLEAN_PATH, "USER": getpass.getuser(), "SHELL": "/bin/sh"}
    env.update(process.env or {})
    try:
        child = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, cwd=str(home), start_new_session=True,
        )
    except OSError as exc:  # the child could not start: tell the client
        process.stderr.write(f"embedded sshd: {exc}\n".encode())
        process.exit(127)
        return
    # our own relays, so the exit status is sent only after the last byte of output
    feeder = asyncio.ensure_future(_relay(process.stdin, child.stdin, close=True))
    await asyncio.gather(_relay(child.stdout, process.stdout), _relay(child.stderr, process.stderr))
    code = await child.wait()
    feeder.cancel()
    process.exit(code if code >= 0 else 128 - code)


async def _relay(source: Any, sink: Any, close: bool = False) -> None:
    # the SSH side's EOF comes with exit(): an EOF after stdout would end stderr too
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except Exception:  # the other side went away (a dropped client): stop relaying
        pass
    finally:
        if close:  # EOF to the command, whatever ended the input (a dropped client too)
            sink.close()


def _server_class(password: str | None) -> Any:
    """asyncssh's SSHServer, accepting ``password`` too when one is given."""
    import hmac

    from ..transports.asyncssh_import import asyncssh

    class Server(asyncssh.SSHServer):
        def password_auth_supported(self) -> bool:
            return password is not None

        def validate_password(self, username: str, offered: str) -> bool:
            return password is not None and hmac.compare_digest(offered.encode(), password.encode())

        # port forwarding, for loopback destinations only (tests reach nothing else)
        def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
            return dest_host in _LOOPBACK

        def server_requested(self, listen_host: str, listen_port: int) -> bool:
            return listen_host in _LOOPBACK

    return Server


async def _start(root: Path, keys: Any, home: Path, authorized: Path, password: str | None) -> Any:
    from ..transports.asyncssh_import import asyncssh

    return await asyncssh.create_server(
        _server_class(password), "127.0.0.1", 0,
        server_host_keys=[str(keys.host_key)],
        authorized_client_keys=str(authorized),
        process_factory=lambda process: _serve_command(process, home),
        encoding=None,
        sftp_factory=True,
        allow_scp=True,
        agent_forwarding=False,
        x11_forwarding=False,
    )


async def _close(acceptor: Any) -> None:
    # on the server's own loop: asyncio's Server.close() is not thread-safe (called from
    # another thread it raced the loop's own wake-up: "'NoneType' object is not iterable")
    acceptor.close()
    await acceptor.wait_closed()


@contextmanager
def start_embedded_server(directory: str | os.PathLike, *, password: str | None = None) -> Iterator[SshServer]:
    """Start the in-process server in ``directory``, yield its SshServer, stop it.

    With ``password``, password authentication is offered as well (for
    testing clients' password handling without touching system accounts).
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    home = root / "home"
    home.mkdir(exist_ok=True)
    keys = make_keys(root)
    authorized = root / "authorized_keys"
    authorized.write_text((root / "client_ed25519.pub").read_text())
    runner = _LoopThread()
    try:
        acceptor = runner.call(_start(root, keys, home, authorized, password))
        port = acceptor.sockets[0].getsockname()[1]
        user = getpass.getuser()
        known_hosts, ssh_config = write_client_files(root, keys, "127.0.0.1", port, user)
        yield SshServer(
            kind="embedded", host="127.0.0.1", port=port, user=user, client_key=keys.client_key,
            client_key_ppk=keys.client_key_ppk, known_hosts=known_hosts, host_public_key=keys.host_public_key,
            host_key_fingerprint=keys.host_key_fingerprint, ssh_config=ssh_config, home=home,
        )
        runner.call(_close(acceptor))
    finally:
        runner.stop()
