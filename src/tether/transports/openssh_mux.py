"""Forwarding on an OpenSSH ControlMaster: the mux protocol's stdio forward, and ``ssh -O``.

A connection through the master is what ``ssh -W host:port`` asks for
(``MUX_C_NEW_STDIO_FWD``, OpenSSH's PROTOCOL.mux): we speak that request
ourselves and hand the master the file descriptor of OUR socket, so the
master reads and writes it directly: no process is started and no byte is
copied by Python. The master answers once the server has opened (or
refused) the channel, so a refused connection is a clear error. The
channel lives as long as the control connection that asked for it:
closing that connection drops the forwarded connection at once, which is
how a tunnel's ``close()`` ends active connections.

Remote (reverse) forwards are added and cancelled with ``ssh -O forward``
and ``ssh -O cancel`` on the master; with port 0 the master prints the
port the server allocated.

The message codec is I/O-free (:func:`encode`, :func:`decode_reply`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import struct

from ..exceptions import TunnelError
from .forwarding import (
    Endpoint,
    Forwarder,
    Link,
    LinkSet,
    RemoteListener,
    SocketListener,
    connect_local,
    drop,
    forget,
    join_sockets,
)

MUX_VERSION = 4
MSG_HELLO = 0x00000001
C_NEW_STDIO_FWD = 0x10000008
S_PERMISSION_DENIED = 0x80000002
S_FAILURE = 0x80000003
S_SESSION_OPENED = 0x80000006
#: the "port" of a unix-socket destination in OpenSSH's forwarding requests
PORT_STREAMLOCAL = 0xFFFFFFFE


# -- codec (no I/O) ----------------------------------------------------------------
def _u32(value: int) -> bytes:
    return struct.pack(">I", value & 0xFFFFFFFF)


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return _u32(len(data)) + data


def encode(*fields: int | str) -> bytes:
    """One framed mux packet: ints as uint32, strings as SSH strings."""
    body = b"".join(_u32(f) if isinstance(f, int) else _string(f) for f in fields)
    return _u32(len(body)) + body


def hello() -> bytes:
    return encode(MSG_HELLO, MUX_VERSION)


def stdio_forward_request(request_id: int, dest: Endpoint) -> bytes:
    """``ssh -W``'s request: connect the passed descriptors to ``dest`` on the far side."""
    if dest.path is not None:
        return encode(C_NEW_STDIO_FWD, request_id, "", dest.path, PORT_STREAMLOCAL)
    return encode(C_NEW_STDIO_FWD, request_id, "", dest.host or "localhost", dest.port)


def decode_reply(body: bytes) -> tuple[int, int, str]:
    """``(type, request id, reason)`` of a reply body; reason is "" on success."""
    if len(body) < 8:
        raise ValueError(f"short mux reply ({len(body)} bytes)")
    kind, request_id = struct.unpack(">II", body[:8])
    reason = ""
    if kind in (S_FAILURE, S_PERMISSION_DENIED) and len(body) >= 12:
        (length,) = struct.unpack(">I", body[8:12])
        reason = body[12 : 12 + length].decode("utf-8", "replace")
    return kind, request_id, reason


# -- I/O on the tether SSH loop ---------------------------------------------------------
async def _read_packet(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    async def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = await loop.sock_recv(sock, count - len(data))
            if not chunk:
                raise ConnectionResetError("the ssh master closed the control connection")
            data += chunk
        return data

    (length,) = struct.unpack(">I", await exactly(4))
    return await exactly(length)


class MuxLink(Link):
    """A connection forwarded by the master; it lasts while ``control`` is open."""

    def __init__(self, control: socket.socket, sock: socket.socket) -> None:
        self._control = control
        self._sock = sock  # our copy of the socket the master reads and writes

    def close(self) -> None:
        # Shutting the shared socket down makes the master read EOF and fail to
        # write: it ends the channel, then hangs up the control connection (the
        # watcher's read sees that and closes it). Hanging up the control
        # connection ourselves at the same moment sometimes left the server's
        # side of the channel open (OpenSSH 9.2).
        drop(self._sock)

    async def wait_closed(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            with contextlib.suppress(OSError):
                while await loop.sock_recv(self._control, 4096):
                    pass  # the master says nothing more; EOF means the channel is gone
        finally:
            forget(self._control)


async def stdio_forward(control_path: str, dest: Endpoint, sock: socket.socket, host: str) -> MuxLink:
    """Join ``sock`` to a new channel to ``dest`` on the master at ``control_path``.

    We keep our descriptor of ``sock``, to drop the connection on close.
    TunnelError if the master or the server refuses.
    """
    loop = asyncio.get_running_loop()
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.setblocking(False)
    try:
        await loop.sock_connect(control, control_path)
        # Everything goes at once (hello, request, then the descriptor twice, as
        # stdin and stdout, one byte riding with each): the master reads whole
        # packets only, so the bytes carrying descriptors are never read as data,
        # and it never waits for descriptors we have not sent (no await before
        # they are out: a cancellation there would leave the master waiting).
        control.sendall(hello() + stdio_forward_request(1, dest))  # a few bytes: never blocks
        for _ in range(2):
            socket.send_fds(control, [b"\0"], [sock.fileno()])
        if (await _read_packet(loop, control))[:4] != _u32(MSG_HELLO):
            raise TunnelError("the ssh master did not greet in the mux protocol", host)
        kind, _, reason = decode_reply(await _read_packet(loop, control))
    except OSError as exc:
        forget(control)
        raise TunnelError(f"cannot reach the ssh master of {host}: {exc}", host) from exc
    except BaseException:
        forget(control)
        raise
    if kind != S_SESSION_OPENED:
        forget(control)
        raise TunnelError(f"{host} could not connect to {dest}: {reason or 'refused'}", host)
    return MuxLink(control, sock)


async def master_forward(
    ssh: str, control_path: str, host: str, action: str, spec: str, timeout: float, kind: str = "-R",
    failure: str = "",
) -> str:
    """``ssh -O <action> -R <spec>`` (or ``-L``) on the master: its stdout (the allocated port for port 0).

    ``failure`` begins the TunnelError's message when the master says no.
    """
    process = await asyncio.create_subprocess_exec(
        ssh, "-S", control_path, "-O", action, kind, spec, "--", host,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        detail = err.decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1] if detail else "ssh -O failed"
        raise TunnelError(f"{failure or f'{host} refused the forward {kind} {spec}'}: {reason}", host)
    return out.decode("ascii", "replace").strip()


def forward_spec(bind: Endpoint, local_path: str) -> str:
    """``-R`` argument: the server listens on ``bind``, the master connects to ``local_path``."""
    if bind.path is not None:
        if ":" in bind.path:
            raise ValueError(f"ssh -R cannot listen on a unix socket path with ':' in it: {bind.path!r}")
        return f"{bind.path}:{local_path}"
    host = f"[{bind.host}]" if bind.host and ":" in bind.host else bind.host
    return f"{host}:{bind.port}:{local_path}"


class _MasterListener(RemoteListener):
    def __init__(self, forwarder: MasterForwarder, spec: str, relay: SocketListener, path: str) -> None:
        self._forwarder = forwarder
        self._spec = spec
        self._relay = relay
        self._path = path

    async def close(self) -> None:
        f = self._forwarder
        try:  # the master may be gone already (machine closed): nothing listens then
            await master_forward(f.ssh, f.control_path, f.host, "cancel", self._spec, 10)
        except (TunnelError, OSError, asyncio.TimeoutError):
            pass
        finally:
            await self._relay.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)


class MasterForwarder(Forwarder):
    """Forwarding on a ControlMaster.

    A reverse tunnel's server-side connections arrive at the master, which
    connects them to a private unix socket of ours (in the master's 0700
    directory); from there they are joined to the local target, so closing
    the tunnel can drop them.
    """

    _numbers = itertools.count()

    def __init__(self, ssh: str, control_path: str, directory: str, host: str) -> None:
        self.ssh = ssh
        self.control_path = control_path
        self.directory = directory
        self.host = host

    async def join(self, dest: Endpoint, sock: socket.socket, *, confirm: bool, timeout: float) -> Link:
        if dest.path is not None:
            return await asyncio.wait_for(self._join_unix(dest, sock), timeout)
        # the master always confirms (its reply waits for the channel): nothing to skip
        return await asyncio.wait_for(stdio_forward(self.control_path, dest, sock, self.host), timeout)

    async def _join_unix(self, dest: Endpoint, sock: socket.socket) -> Link:
        """A remote unix socket: through a ``-L`` forward of its own (a stdio forward to a
        path gives nothing in OpenSSH 9.2), cancelled when the connection ends."""
        if ":" in (dest.path or ""):
            raise ValueError(f"ssh -L cannot reach a unix socket path with ':' in it: {dest.path!r}")
        path = os.path.join(self.directory, f"l{next(self._numbers)}")
        spec = f"{path}:{dest.path}"
        await master_forward(
            self.ssh, self.control_path, self.host, "forward", spec, 10, kind="-L",
            failure=f"{self.host} could not forward to {dest}",
        )

        async def cancel() -> None:
            with contextlib.suppress(TunnelError, OSError, asyncio.TimeoutError):
                await master_forward(self.ssh, self.control_path, self.host, "cancel", spec, 10, kind="-L")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

        try:
            far = await connect_local(Endpoint(None, 0, path))
        except BaseException:
            await cancel()
            raise
        link = join_sockets(sock, far)
        link.add_cleanup(cancel)
        return link

    async def listen(
        self, bind: Endpoint, target: Endpoint, links: LinkSet, timeout: float
    ) -> tuple[RemoteListener, int]:
        path = os.path.join(self.directory, f"r{next(self._numbers)}")
        spec = forward_spec(bind, path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.bind(path)
            server.listen(128)
        except BaseException:
            server.close()
            raise

        async def on_accept(conn: socket.socket) -> None:
            try:
                local = await connect_local(target)
            except OSError:  # nothing listens locally: the remote client sees its connection end
                drop(conn)
                return
            links.add(join_sockets(conn, local))

        relay = SocketListener([server], on_accept)
        listener = _MasterListener(self, spec, relay, path)
        try:
            out = await master_forward(
                self.ssh, self.control_path, self.host, "forward", spec, timeout,
                failure=f"{self.host} refused to listen on {bind}",
            )
        except BaseException:
            await relay.close()
            os.unlink(path)
            raise
        if bind.path is not None:
            return listener, 0
        return listener, bind.port or int(out.split()[0])
