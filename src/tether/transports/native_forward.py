"""Port forwarding on an asyncssh connection: direct channels and remote listeners.

A local connection is joined to a ``direct-tcpip`` (or, for a unix socket,
``direct-streamlocal@openssh.com``) channel opened on the machine's one
connection; a reverse tunnel asks the server to listen (``tcpip-forward``,
``streamlocal-forward@openssh.com``) and joins each connection the server
hands us to a new local connection. The bytes are pumped in this process,
on tether's SSH loop, with the channel's receive buffer bounded (see
:mod:`tether.transports.ssh_window`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from ..exceptions import TunnelError
from .forwarding import (
    CHUNK,
    Endpoint,
    Forwarder,
    Link,
    LinkSet,
    PumpedLink,
    RemoteListener,
    connect_local,
    drop,
    pump,
)
from .ssh_window import bound_receive_buffer


def channel_link(sock: socket.socket, reader: Any, writer: Any) -> PumpedLink:
    """Pump between the local ``sock`` and an asyncssh channel's streams until both ends are done."""
    loop = asyncio.get_running_loop()
    bound_receive_buffer(writer.channel)

    async def from_socket() -> bytes:
        return await loop.sock_recv(sock, CHUNK)

    async def to_channel(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    async def to_socket(data: bytes) -> None:
        await loop.sock_sendall(sock, data)

    def close() -> None:
        writer.close()
        drop(sock)

    return PumpedLink(
        [
            pump(from_socket, to_channel, writer.write_eof),
            pump(lambda: reader.read(CHUNK), to_socket, lambda: sock.shutdown(socket.SHUT_WR)),
        ],
        close,
    )


async def open_channel(conn: Any, dest: Endpoint, host: str) -> tuple[Any, Any]:
    """Streams of a new channel to ``dest`` as the server sees it; TunnelError if it refuses."""
    from .asyncssh_import import asyncssh

    try:
        if dest.path is not None:
            return await conn.open_unix_connection(dest.path)
        return await conn.open_connection(dest.host, dest.port)
    except asyncssh.ChannelOpenError as exc:
        raise TunnelError(f"{host} could not connect to {dest}: {exc.reason}", host) from exc
    except (asyncssh.Error, OSError) as exc:
        raise TunnelError(f"cannot open a channel to {dest} on {host}: {exc}", host) from exc


async def join_channel(conn: Any, dest: Endpoint, sock: socket.socket, host: str) -> PumpedLink:
    """``sock`` joined to a new channel to ``dest``."""
    reader, writer = await open_channel(conn, dest, host)
    return channel_link(sock, reader, writer)


async def listen_remote(conn: Any, bind: Endpoint, target: Endpoint, links: LinkSet, host: str) -> tuple[Any, int]:
    """Have the server listen on ``bind``; each connection is joined to the local ``target``.

    Returns the listener (``close()`` stops it) and the port it listens on (0 for a unix socket).
    """
    from .asyncssh_import import asyncssh

    async def serve(reader: Any, writer: Any) -> None:
        try:
            sock = await connect_local(target)
        except OSError:  # nothing listens locally: the remote client sees its connection end
            writer.close()
            return
        link = channel_link(sock, reader, writer)
        links.add(link)
        with contextlib.suppress(Exception):
            await link.wait_closed()

    try:
        if bind.path is not None:
            listener = await conn.start_unix_server(lambda: serve, bind.path)
        else:
            listener = await conn.start_server(lambda _host, _port: serve, bind.host, bind.port)
    except (asyncssh.Error, asyncssh.ChannelListenError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise TunnelError(f"{host} refused to listen on {bind}: {reason}", host) from exc
    return listener, (0 if bind.path is not None else listener.get_port())


class _ServerListener(RemoteListener):
    def __init__(self, listener: Any) -> None:
        self._listener = listener

    async def close(self) -> None:
        self._listener.close()
        with contextlib.suppress(Exception):  # the connection may be gone already
            await asyncio.wait_for(self._listener.wait_closed(), 10)


class ConnectionForwarder(Forwarder):
    """Forwarding on one asyncssh connection."""

    def __init__(self, conn: Any, host: str) -> None:
        self.conn = conn
        self.host = host

    async def join(self, dest: Endpoint, sock: socket.socket, *, confirm: bool, timeout: float) -> Link:
        return await asyncio.wait_for(join_channel(self.conn, dest, sock, self.host), timeout)

    async def listen(
        self, bind: Endpoint, target: Endpoint, links: LinkSet, timeout: float
    ) -> tuple[RemoteListener, int]:
        # the caller (open_tunnel) bounds this by the tunnel's timeout
        listener, port = await listen_remote(self.conn, bind, target, links, self.host)
        return _ServerListener(listener), port
