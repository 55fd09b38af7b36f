"""What every transport's port forwarding shares: endpoints, links, listeners, pumps.

A forwarded connection is a *link*: one local socket joined to one SSH
channel (or to another local socket). Transports join them in their own
way (an ``ssh`` master that takes the socket's file descriptor, a ``plink``
process whose stdio is the socket, an asyncssh channel pumped in this
process); a :class:`LinkSet` holds the live ones so a tunnel's ``close()``
can drop every active connection, not only stop listening.

Everything here runs on tether's SSH loop (``_portal.ssh_portal``).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ..exceptions import TunnelError

#: bytes moved per read when this process pumps a connection
CHUNK = 256 * 1024


@dataclass(frozen=True)
class Endpoint:
    """A TCP ``host:port``, or a unix socket ``path`` (then ``host`` is None and ``port`` is 0)."""

    host: str | None
    port: int
    path: str | None = None

    def __str__(self) -> str:
        if self.path is not None:
            return self.path
        return f"[{self.host}]:{self.port}" if self.host and ":" in self.host else f"{self.host}:{self.port}"


class Link(abc.ABC):
    """One forwarded connection; ``close()`` drops it at once."""

    @abc.abstractmethod
    def close(self) -> None:
        """Drop the connection (both ends see it end)."""

    @abc.abstractmethod
    async def wait_closed(self) -> None:
        """Return once the connection has ended, by either side or by close()."""


class RemoteListener(abc.ABC):
    """A listener the far side holds for a reverse tunnel."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop listening (connections already made are the LinkSet's to drop)."""


class Forwarder(abc.ABC):
    """How one transport forwards: the two operations every tunnel is made of."""

    host: str

    def check_destination(self, dest: Endpoint) -> None:  # noqa: B027 - most transports reach any destination
        """Raise TunnelError now if :meth:`join` could never reach ``dest`` (rather than on each connection)."""

    async def listen_here(self, where: Endpoint, dest: Endpoint, timeout: float) -> tuple[RemoteListener, int] | None:
        """A local listener the transport holds itself, if it has a cheaper one than
        :meth:`join` per connection; None to have tether listen. Returns it and its port."""
        return None

    @abc.abstractmethod
    async def join(self, dest: Endpoint, sock: socket.socket, *, confirm: bool, timeout: float) -> Link:
        """Join the local ``sock`` to a new connection to ``dest`` made by the far side.

        ``confirm``: wait until the far side has connected, so a refusal is a
        TunnelError (a tunnel's connections skip that wait where it costs).
        """

    @abc.abstractmethod
    async def listen(
        self, bind: Endpoint, target: Endpoint, links: LinkSet, timeout: float
    ) -> tuple[RemoteListener, int]:
        """Have the far side listen on ``bind``; each connection goes to the local ``target``.

        Returns the listener and the port it listens on (0 for a unix socket).
        """


class LinkSet:
    """The live links of one tunnel: each leaves the set when it ends."""

    def __init__(self) -> None:
        self._links: set[Link] = set()
        self._watchers: set[asyncio.Task] = set()
        self.closed = False

    def __len__(self) -> int:
        return len(self._links)

    def add(self, link: Link) -> None:
        if self.closed:  # a connection that raced close() goes the same way
            link.close()
            return
        self._links.add(link)
        watcher = asyncio.get_running_loop().create_task(self._forget_when_done(link))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _forget_when_done(self, link: Link) -> None:
        try:
            await link.wait_closed()
        finally:
            self._links.discard(link)
            link.close()

    async def close(self) -> None:
        """Drop every live link and wait until they are gone."""
        self.closed = True
        links = list(self._links)
        for link in links:
            link.close()
        if self._watchers:
            await asyncio.wait(list(self._watchers), timeout=5)


def forget(sock: socket.socket) -> None:
    """Close ``sock``, the loop forgetting its descriptor first.

    A wait on the socket that just ended still has a clean-up queued that
    unregisters the descriptor NUMBER; run after the close, it would hit
    the next socket given that number (and its reads would never wake).
    Unregistering now cancels that clean-up.
    """
    fd = sock.fileno()
    if fd < 0:
        return
    with contextlib.suppress(RuntimeError):  # no running loop: nothing registered
        loop = asyncio.get_running_loop()
        loop.remove_reader(fd)
        loop.remove_writer(fd)
    sock.close()


def drop(sock: socket.socket) -> None:
    """Shut ``sock`` down both ways and close it: the peer sees the end even if someone holds a copy."""
    if sock.fileno() >= 0:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    forget(sock)


class SocketListener:
    """Accepts connections on local sockets and hands each to ``on_accept`` (in its own task)."""

    def __init__(self, sockets: list[socket.socket], on_accept: Callable[[socket.socket], Coroutine[Any, Any, None]]) -> None:
        self.sockets = sockets
        self._on_accept = on_accept
        self._tasks: set[asyncio.Task] = set()
        for sock in sockets:
            sock.setblocking(False)
            self._spawn(self._accept_loop(sock))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError:  # the listener was closed under us
                return
            conn.setblocking(False)
            if conn.family != socket.AF_UNIX:  # small writes go out at once, as ssh -L does
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._spawn(self._on_accept(conn))

    async def close(self) -> None:
        """Stop listening (the port or path is free afterwards); handlers in flight are cancelled."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        for sock in self.sockets:
            drop(sock)


async def pump(recv: Callable[[], Awaitable[bytes]], send: Callable[[bytes], Awaitable[None]],
               send_eof: Callable[[], None]) -> None:
    """Copy until EOF, then pass the EOF on (a half-close stays a half-close)."""
    while True:
        data = await recv()
        if not data:
            break
        await send(data)
    with contextlib.suppress(OSError):
        send_eof()


class PumpedLink(Link):
    """A link whose bytes this process copies: two pumps, one per direction."""

    def __init__(self, pumps: list[Coroutine[Any, Any, None]], on_close: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(p) for p in pumps]
        self._on_close = on_close
        self._closed = False
        self._cleanups: list[Callable[[], Coroutine[Any, Any, None]]] = []

    def add_cleanup(self, cleanup: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Also await ``cleanup()`` once the link has ended."""
        self._cleanups.append(cleanup)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if not self._closed:
            self._closed = True
            self._on_close()

    async def wait_closed(self) -> None:
        # done when both directions are done; an error in one ends the link
        try:
            done, pending = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
            if any(not t.cancelled() and t.exception() is not None for t in done):
                for task in pending:
                    task.cancel()
        finally:
            self.close()
            cleanups, self._cleanups = self._cleanups, []  # once, however many wait
            for cleanup in cleanups:
                await cleanup()


def socket_pumps(a: socket.socket, b: socket.socket) -> list[Coroutine[Any, Any, None]]:
    """The two pumps that join sockets ``a`` and ``b`` (both non-blocking)."""
    loop = asyncio.get_running_loop()

    def one_way(src: socket.socket, dst: socket.socket) -> Coroutine[Any, Any, None]:
        async def recv() -> bytes:
            return await loop.sock_recv(src, CHUNK)

        async def send(data: bytes) -> None:
            await loop.sock_sendall(dst, data)

        return pump(recv, send, lambda: dst.shutdown(socket.SHUT_WR))

    return [one_way(a, b), one_way(b, a)]


def join_sockets(a: socket.socket, b: socket.socket) -> PumpedLink:
    """A link that copies between two local sockets until both sides have ended."""

    def close_both() -> None:
        drop(a)
        drop(b)

    return PumpedLink(socket_pumps(a, b), close_both)


async def connect_local(target: Endpoint) -> socket.socket:
    """A non-blocking socket connected to the local ``target`` (each resolved address in turn)."""
    loop = asyncio.get_running_loop()
    candidates: list[tuple[int, Any]]
    if target.path is not None:
        candidates = [(socket.AF_UNIX, target.path)]
    else:
        infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        candidates = [(family, address) for family, _, _, _, address in infos]
    error: OSError | None = None
    for family, address in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError as exc:
            forget(sock)
            error = exc
            continue
        except BaseException:
            forget(sock)
            raise
        return sock
    assert error is not None
    raise error


def listen_locally(where: Endpoint) -> list[socket.socket]:
    """Listening sockets for ``where``: every address ``localhost`` (say) resolves to, one port."""
    if where.path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(where.path)
            # ours alone, as ssh's StreamLocalBindMask makes it: nobody can connect before listen()
            os.chmod(where.path, 0o600)
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise TunnelError(f"cannot listen on {where.path}: {exc.strerror or exc}") from exc
        return [sock]
    try:
        infos = socket.getaddrinfo(where.host, where.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise TunnelError(f"cannot listen on {where}: {exc.strerror}") from exc
    # IPv4 first, so with port 0 the port comes from the address most clients use
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    sockets: list[socket.socket] = []
    port = where.port
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ssh -L does: TIME_WAIT is no obstacle
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address[0], port, *address[2:]))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            if not sockets:  # the first address must work; others (::1 without IPv6) may not
                raise TunnelError(f"cannot listen on {where.host}:{where.port}: {exc.strerror or exc}") from exc
            continue
        sockets.append(sock)
        port = sock.getsockname()[1]
    return sockets


async def socket_through(forwarder: Forwarder, dest: Endpoint, timeout: float) -> tuple[socket.socket, Link]:
    """A local socket whose peer the far side has connected to ``dest`` (``connect_sock``), and its link.

    One end of a socket pair goes to the transport; the caller gets the other.
    """
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    try:
        link = await forwarder.join(dest, theirs, confirm=True, timeout=timeout)
    except BaseException:
        ours.close()
        forget(theirs)
        raise
    return ours, link
