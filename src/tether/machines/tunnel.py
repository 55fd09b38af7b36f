"""``rem.tunnel(...)`` and ``rem.connect_sock(...)``: forwarding over a machine's SSH connection.

The machine's transport says how a connection crosses (a ControlMaster
stdio forward, an asyncssh channel, a ``plink``: see
:class:`tether.transports.forwarding.Forwarder`); this module holds what
is the same everywhere: checking the arguments, putting a tunnel together,
the :class:`Tunnel` object and its ``close()``, which stops listening AND
drops every active connection, and the socket ``connect_sock`` returns.

Local listeners are this process's own sockets (unless the transport holds
one itself, as plink does): ``lport=0`` reports the port the kernel chose,
and closing them frees the port at once. All of it runs on tether's SSH
loop (``_portal.ssh_portal``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from .._portal import ssh_portal
from ..exceptions import TunnelError
from ..transports.forwarding import (
    Endpoint,
    Forwarder,
    LinkSet,
    SocketListener,
    drop,
    listen_locally,
    socket_through,
)
from .names import check_name


def endpoint(port: Any, host: Any, name: str, *, zero_ok: bool) -> Endpoint:
    """``port`` on ``host``, or a unix socket when ``port`` is a path; ValueError naming what is wrong."""
    if isinstance(port, (str, os.PathLike)):
        path = os.fspath(port)
        if not path or "\0" in path or path.isdigit():
            raise ValueError(f"{name} must be a port number or a unix socket path; got {port!r}")
        return Endpoint(None, 0, path)
    if isinstance(port, bool) or not isinstance(port, int) or not (0 <= port <= 65535):
        raise ValueError(f"{name} must be a port number 0-65535 or a unix socket path; got {port!r}")
    if port == 0 and not zero_ok:
        raise ValueError(f"{name} cannot be 0 here: 0 means 'pick a free port', which only the listening side can do")
    return Endpoint(check_name(host, f"host for {name}"), port)


class Tunnel:
    """A port forward over a machine's SSH connection; ``close()`` ends it and its connections.

    Made by ``rem.tunnel(lport, dport, lhost="localhost", dhost="localhost", reverse=False)``::

        local forward (reverse=False): this host listens, the remote connects

            client --> lhost:lport ==ssh==> remote --> dhost:dport
                       (this host)                   (as the remote sees it)

        reverse forward (reverse=True): the remote listens, this host connects

            lhost:lport <-- this host <==ssh== remote <-- dhost:dport <-- client
            (as this host sees it)                       (on the remote)

    ``lport`` and ``dport`` are the real ports (the chosen one when 0 was
    asked for); a str is a unix socket path. Use as a context manager, or
    call ``close()``: it stops listening and drops active connections.
    """

    def __init__(
        self,
        machine: Any,
        lport: int | str,
        dport: int | str,
        lhost: str | None,
        dhost: str | None,
        reverse: bool,
        close_parts: list[Callable[[], Awaitable[None]]],
        links: LinkSet,
    ) -> None:
        self.machine = machine
        self.lport = lport
        self.dport = dport
        self.lhost = lhost
        self.dhost = dhost
        self.reverse = reverse
        self._close_parts = close_parts
        self._links = links
        self.closed = False

    def __repr__(self) -> str:
        local = self.lport if self.lhost is None else Endpoint(self.lhost, int(self.lport))
        remote = self.dport if self.dhost is None else Endpoint(self.dhost, int(self.dport))
        arrow = "<-" if self.reverse else "->"
        state = " closed" if self.closed else ""
        return f"<Tunnel {local} {arrow} {self.machine.host} {remote}{state}>"

    @property
    def connections(self) -> int:
        """How many forwarded connections are active now (those this process relays)."""
        return len(self._links)

    async def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for part in self._close_parts:
            with contextlib.suppress(Exception):  # close everything even if one part fails
                await part()
        await self._links.close()

    def close(self) -> None:
        """Stop listening and drop every active connection (does nothing the second time)."""
        if not self.closed:
            ssh_portal.call(self._close)

    async def aclose(self) -> None:
        """``close()`` for async code."""
        if not self.closed:
            await asyncio.wrap_future(ssh_portal.submit(self._close))

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Tunnel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def open_tunnel(
    machine: Any,
    forwarder: Forwarder,
    remove_remote_socket: Callable[[str], Awaitable[None]],
    lport: Any,
    dport: Any,
    lhost: str,
    dhost: str,
    reverse: bool,
    timeout: float,
) -> Tunnel:
    """Set up a tunnel on the SSH loop (see :class:`Tunnel` for the arguments).

    ``remove_remote_socket(path)`` removes a unix socket file on the remote.
    """
    links = LinkSet()
    if reverse:
        bind = endpoint(dport, dhost, "dport", zero_ok=True)
        target = endpoint(lport, lhost, "lport", zero_ok=False)
        remote, port = await asyncio.wait_for(forwarder.listen(bind, target, links, timeout), timeout)
        parts: list[Callable[[], Awaitable[None]]] = [remote.close]
        if bind.path is not None:  # sshd leaves the socket file: it would refuse the path next time
            path = bind.path
            parts.append(lambda: remove_remote_socket(path))
        return Tunnel(machine, _shown(target), bind.path or port, target.host, bind.host, True, parts, links)
    where = endpoint(lport, lhost, "lport", zero_ok=True)
    dest = endpoint(dport, dhost, "dport", zero_ok=False)
    forwarder.check_destination(dest)
    held = await asyncio.wait_for(forwarder.listen_here(where, dest, timeout), timeout)
    if held is not None:  # the transport listens itself (plink -L)
        listener, port = held
        return Tunnel(machine, port, _shown(dest), where.host, dest.host, False, [listener.close], links)
    sockets = listen_locally(where)

    async def on_accept(conn: socket.socket) -> None:
        try:
            link = await forwarder.join(dest, conn, confirm=False, timeout=timeout)
        except (TunnelError, OSError, asyncio.TimeoutError):  # refused: the client sees its connection end
            drop(conn)
            return
        links.add(link)

    ours = SocketListener(sockets, on_accept)
    parts = [ours.close]
    if where.path is not None:
        parts.append(_remover(where.path))
    listening = where.path or sockets[0].getsockname()[1]
    return Tunnel(machine, listening, _shown(dest), where.host, dest.host, False, parts, links)


def _shown(where: Endpoint) -> int | str:
    return where.path if where.path is not None else where.port


def _remover(path: str) -> Callable[[], Awaitable[None]]:
    async def remove() -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    return remove


class TunnelSocket(socket.socket):
    """The socket ``connect_sock`` returns: a real socket whose far end is a connection made by the remote.

    Everything a socket does works (``send``, ``sendall``, ``recv``,
    ``makefile``, ``settimeout``, ``fileno``, ``with``); ``send``/``sendall``
    also take str (UTF-8), as paramiko's channels do. Closing it drops the
    forwarded connection.
    """

    def __init__(self, sock: socket.socket, on_close: Callable[[], None]) -> None:
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self._on_close: Callable[[], None] | None = on_close

    def send(self, data: Any, flags: int = 0) -> int:
        return super().send(data.encode("utf-8") if isinstance(data, str) else data, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        super().sendall(data.encode("utf-8") if isinstance(data, str) else data, flags)

    def _real_close(self, *args: Any) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()
        super()._real_close(*args)  # type: ignore[misc]


class Forwards:
    """A machine's tunnels and sockets, so closing the machine closes them too."""

    def __init__(self) -> None:
        self.tunnels: list[Tunnel] = []
        self.sockets = LinkSet()

    async def tunnel(self, machine: Any, forwarder: Forwarder, *args: Any) -> Tunnel:
        tunnel = await open_tunnel(machine, forwarder, *args)
        self.tunnels = [t for t in self.tunnels if not t.closed] + [tunnel]
        return tunnel

    async def connect_sock(self, forwarder: Forwarder, port: Any, host: str, timeout: float) -> TunnelSocket:
        dest = endpoint(port, host, "port", zero_ok=False)
        ours, link = await asyncio.wait_for(socket_through(forwarder, dest, timeout), timeout)
        self.sockets.add(link)
        loop = asyncio.get_running_loop()

        def close_link() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone (interpreter exit): so is the link
                loop.call_soon_threadsafe(link.close)

        return TunnelSocket(ours, close_link)

    async def close(self) -> None:
        for tunnel in self.tunnels:
            await tunnel._close()
        await self.sockets.close()


__all__ = ["Tunnel", "TunnelSocket"]
