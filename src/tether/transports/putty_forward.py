"""Port forwarding with ``plink``: one downstream plink per connection or per remote listener.

A forwarded connection is a ``plink -nc host:port`` attached to the
machine's shared connection (``-share``, no new authentication) whose stdin
and stdout ARE the local socket (plink moves the bytes, not Python). A
reverse tunnel is a ``plink -N -R`` that holds the server's listener; it
opens a connection of its own, because plink 0.78's sharing upstream hangs
up as soon as data flows on a remote-forwarded channel of a downstream.
Ending a plink drops its channels and its listener, so a tunnel's
``close()`` ends them all.

Limits, all from plink: no unix sockets on either side; no port 0 for a
remote listener (plink does not report the port the server picked), so
``dport=0`` tries free-looking ports until the server accepts one; a
reverse tunnel authenticates again, with the key (a password is forgotten
once the machine has connected).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Sequence
from typing import Any

from ..exceptions import TunnelError
from .forwarding import Endpoint, Forwarder, Link, LinkSet, RemoteListener, drop

_OPENED = ("Opened main channel",)
_FORWARD_ENABLED = ("Remote port forwarding from", "enabled")
_LOCAL_LISTENING = ("Local port", "forwarding to")
_PORT_TRIES = 20
#: where dport=0 looks for a free remote port: below Linux's ephemeral range
_PORT_RANGE = (20000, 32000)


class ProcessLink(Link):
    """A connection (or a listener) held by one plink process."""

    def __init__(self, process: Any, sock: socket.socket | None = None) -> None:
        self.process = process
        self._sock = sock

    def close(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
        if self._sock is not None:
            drop(self._sock)

    async def wait_closed(self) -> None:
        await self.process.wait()

    async def end(self) -> None:
        self.close()
        await self.process.wait()

    async def confirm(self, wanted: tuple[str, ...], timeout: float) -> tuple[bool, str]:
        """:func:`_wait_for_line` on this plink; it is ended when the answer is no (or never comes)."""
        try:
            found, last = await _wait_for_line(self.process, wanted, timeout)
        except BaseException:
            await self.end()
            raise
        if not found:
            await self.end()
        return found, last


def _unsupported(what: str, host: str) -> TunnelError:
    return TunnelError(f"PuttyMachine cannot forward {what}: plink takes host:port only", host)


def _check_tcp(dest: Endpoint, host: str) -> None:
    if dest.path is not None:
        raise _unsupported(f"to the remote unix socket {dest.path}", host)


async def _spawn(argv: Sequence[str], stdin: Any, stdout: Any, stderr: Any) -> Any:
    return await asyncio.create_subprocess_exec(*argv, stdin=stdin, stdout=stdout, stderr=stderr)


async def _wait_for_line(process: Any, wanted: tuple[str, ...], timeout: float) -> tuple[bool, str]:
    """Read plink's verbose log until a line has all of ``wanted`` (True) or plink gives up (False).

    Also returns the last line read (the reason, on failure). Afterwards the
    log keeps being drained, so a chatty plink never blocks on a full pipe.
    """
    last = ""

    async def scan() -> bool:
        nonlocal last
        while True:
            line = await process.stderr.readline()
            if not line:
                return False
            text = line.decode("utf-8", "replace").strip()
            last = text or last
            lowered = text.lower()
            if "refused" in lowered or "failed" in lowered or text.startswith("FATAL ERROR"):
                return False
            if all(part in text for part in wanted):
                return True

    found = await asyncio.wait_for(scan(), timeout)
    if found:
        process.drain_task = asyncio.get_running_loop().create_task(_drain(process.stderr))
    return found, last


async def _drain(stream: Any) -> None:
    while await stream.read(65536):
        pass


async def join_netcat(
    base: Sequence[str], target: str, dest: Endpoint, sock: socket.socket, host: str, confirm: bool, timeout: float
) -> ProcessLink:
    """``sock`` joined to ``dest`` through a ``plink -nc``.

    With ``confirm``, wait until the server has opened the channel, so a
    refused connection is a TunnelError (else it simply ends).
    """
    _check_tcp(dest, host)
    argv = [*base, *(["-v"] if confirm else []), "-nc", _hostport(dest.host, dest.port), target]
    stderr = asyncio.subprocess.PIPE if confirm else asyncio.subprocess.DEVNULL
    process = await _spawn(argv, sock.fileno(), sock.fileno(), stderr)
    link = ProcessLink(process, sock)
    if confirm:
        opened, last = await link.confirm(_OPENED, timeout)
        if not opened:
            raise TunnelError(f"{host} could not connect to {dest}: {last or 'plink -nc failed'}", host)
    return link


def _hostport(host: str | None, port: int) -> str:
    return f"[{host}]:{port}" if host and ":" in host else f"{host}:{port}"


async def _held_forward(
    base: Sequence[str], target: str, option: str, specs: Sequence[tuple[int, str]], wanted: tuple[str, ...],
    failure: str, host: str, timeout: float,
) -> tuple[ProcessLink, int]:
    """A ``plink -N <option> <spec>`` holding a forward: the first of ``specs`` ``(port, spec)`` that plink enables."""
    last = ""
    for port, spec in specs:
        process = await _spawn(
            [*base, "-v", "-N", option, spec, target], asyncio.subprocess.DEVNULL, asyncio.subprocess.DEVNULL,
            asyncio.subprocess.PIPE,
        )
        link = ProcessLink(process)
        enabled, last = await link.confirm(wanted, timeout)
        if enabled:
            return link, port
    raise TunnelError(f"{failure}: {last or 'plink ' + option + ' failed'}", host)


def _ports(asked: int, pick: Any) -> list[int]:
    """``[asked]``, or for 0 a few candidates from ``pick()`` (plink cannot report a port it picked)."""
    return [asked] if asked else [pick() for _ in range(_PORT_TRIES)]


async def listen_remote(
    base: Sequence[str], target: str, bind: Endpoint, local_target: Endpoint, host: str, timeout: float
) -> tuple[ProcessLink, int]:
    """A ``plink -N -R`` holding the server's listener on ``bind``; returns it and the port."""
    if bind.path is not None:
        raise _unsupported(f"from the remote unix socket {bind.path}", host)
    if local_target.path is not None:
        raise _unsupported(f"to the local unix socket {local_target.path}", host)
    ports = _ports(bind.port, lambda: random.randrange(*_PORT_RANGE))
    specs = [(port, f"{_hostport(bind.host, port)}:{_hostport(local_target.host, local_target.port)}") for port in ports]
    return await _held_forward(
        base, target, "-R", specs, _FORWARD_ENABLED, f"{host} refused to listen on {bind}", host, timeout
    )


def _free_local_port(host: str | None) -> int:
    with socket.socket(socket.AF_INET6 if host and ":" in host else socket.AF_INET) as probe:
        probe.bind((host or "localhost", 0))
        return int(probe.getsockname()[1])


async def listen_local(
    base: Sequence[str], target: str, where: Endpoint, dest: Endpoint, host: str, timeout: float
) -> tuple[ProcessLink, int]:
    """A ``plink -N -L`` on the shared connection: plink listens here, connections cost no new process."""
    _check_tcp(dest, host)
    ports = _ports(where.port, lambda: _free_local_port(where.host))
    specs = [(port, f"{_hostport(where.host, port)}:{_hostport(dest.host, dest.port)}") for port in ports]
    return await _held_forward(
        base, target, "-L", specs, _LOCAL_LISTENING, f"cannot listen on {where}", host, timeout
    )


class _PlinkListener(RemoteListener):
    def __init__(self, link: ProcessLink) -> None:
        self._link = link

    async def close(self) -> None:
        await self._link.end()


class PlinkForwarder(Forwarder):
    """Forwarding with downstream plinks on a shared connection; ``base`` is plink and its options."""

    def __init__(self, base: Sequence[str], target: str, host: str) -> None:
        self.base = list(base)
        self.target = target
        self.host = host

    def check_destination(self, dest: Endpoint) -> None:
        _check_tcp(dest, self.host)

    async def listen_here(self, where: Endpoint, dest: Endpoint, timeout: float) -> tuple[RemoteListener, int] | None:
        if where.path is not None:  # plink listens on TCP only: tether listens, one plink -nc per connection
            return None
        link, port = await listen_local(self.base, self.target, where, dest, self.host, timeout)
        return _PlinkListener(link), port

    async def join(self, dest: Endpoint, sock: socket.socket, *, confirm: bool, timeout: float) -> Link:
        return await join_netcat(self.base, self.target, dest, sock, self.host, confirm, timeout)

    async def listen(
        self, bind: Endpoint, target: Endpoint, links: LinkSet, timeout: float
    ) -> tuple[RemoteListener, int]:
        # The plink holds the listener AND its connections: ending it drops both.
        # It makes a connection of its own: over a shared one (plink 0.78), the
        # upstream hangs up on the first byte of a forwarded connection.
        own = [arg for arg in self.base if arg != "-share"]
        link, port = await listen_remote(own, self.target, bind, target, self.host, timeout)
        return _PlinkListener(link), port
