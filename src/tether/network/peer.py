"""One connection to the Manager, as the Manager sees it: a framed, handshaking asyncio protocol.

Bytes arrive in :meth:`PeerProtocol.data_received`, the sans-IO decoder cuts
them into lines, and each line goes either to the handshake (a coroutine
asking ``password``/``username``/``identity`` in turn) or, once the peer has
identified, straight to the Manager's router. Writes never wait: the router
forwards a service's reply line to the client as the same bytes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING, Any

from ..exceptions import FrameError
from . import wire

if TYPE_CHECKING:
    from .manager import Manager

log = logging.getLogger(__name__)

HOSTNAME = socket.gethostname()
_LOOPBACK = {"127.0.0.1", "::1"}


class PeerProtocol(asyncio.Protocol):
    """A Client or a Service connected to the Manager."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self.decoder = wire.LineDecoder(wire.HANDSHAKE_LINE_LIMIT)
        self.transport: asyncio.Transport | None = None
        self.ip_address = ""
        self.port = 0
        self.address = ""
        self.network_name = "<unknown>"
        self.kind = ""  # "client" or "service" once identified
        self.service_name = ""
        self.is_admin = False
        self.closed = False
        self._answers: asyncio.Queue[Any] = asyncio.Queue()
        self.handshaking = True
        self._early: list[bytes] = []  # lines received during the handshake, in order
        self._handshake: asyncio.Task | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._out: list[bytes] = []

    # -- asyncio callbacks -----------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.ip_address, self.port = peer[0], peer[1]
        if self.ip_address.startswith("::ffff:") and "." in self.ip_address:
            self.ip_address = self.ip_address[7:]  # IPv4 on the dual-stack socket: audit it as IPv4
        host = HOSTNAME if self.ip_address in _LOOPBACK else self.ip_address
        self.address = f"{host}:{self.port}"
        self.network_name = f"<unknown>[{self.address}]"
        self.manager.audit(self, "new connection request")
        self._handshake = asyncio.ensure_future(self.manager.handshake(self))

    def data_received(self, data: bytes) -> None:
        try:
            lines = self.decoder.feed(data)
        except FrameError as exc:
            log.warning("%s: %s; closing", self.network_name, exc)
            self.manager.audit(self, f"rejected: {exc}")
            self.close()
            return
        if not lines:
            return  # part of a long line: nothing to route yet
        manager = self.manager
        manager.dirty = []
        try:
            self._dispatch(lines)
        finally:
            dirty, manager.dirty = manager.dirty, None
            for peer in dirty:
                peer._flush()

    def _dispatch(self, lines: list[bytes]) -> None:
        for line in lines:
            if self.closed:
                return
            if self.handshaking:
                # kept in order: a fast client may send requests right behind its identity
                self._early.append(line)
                self._answers.put_nowait(None)  # wake ask()
            else:
                self.manager.route(self, line)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._handshake is not None and not self._handshake.done():
            self._handshake.cancel()
        self._answers.put_nowait(None)
        self.manager.forget(self)

    # -- the question/answer part (handshake, admin credentials) ---------------
    _asking = 0

    def answer(self, value: Any) -> None:
        """After the handshake: the peer's reply to an admin check (ignored when nothing was asked)."""
        if self._asking:
            self._answers.put_nowait(value)

    async def ask(self, attribute: str, *args: Any) -> Any:
        """Send the Manager's question and wait for the peer's answer (None if it hung up)."""
        self._asking += 1
        try:
            self.write(wire.manager_request(self.manager.network_name, attribute, *args))
            if not self.handshaking:
                return await self._answers.get()
            while not self._early:
                if self.closed:
                    return None
                await self._answers.get()
            line = self._early.pop(0)
            try:
                return wire.decode(line).get("result")
            except FrameError:
                return line.decode("utf-8", "replace").strip()  # typed by hand (telnet)
        finally:
            self._asking -= 1

    def end_handshake(self) -> None:
        """Identified: from now on lines are routed, starting with any that came early."""
        self.handshaking = False
        self.decoder.limit = wire.LINE_LIMIT
        while not self._answers.empty():  # wake-ups from the handshake are not answers
            self._answers.get_nowait()
        early, self._early = self._early, []
        for line in early:
            if self.closed:
                return
            self.manager.route(self, line)

    def background(self, coro: Any) -> None:
        """Run a coroutine for this peer (an admin request), keeping a reference until done."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- output ----------------------------------------------------------------
    def write(self, message: dict[str, Any]) -> None:
        self.write_line(wire.encode(message))

    def write_line(self, line: bytes) -> None:
        # coalesced: while a peer's bytes are being routed, writes collect and go out
        # together when that batch is done; otherwise at the end of this loop iteration
        if self.closed or self.transport is None:
            return
        if not self._out:
            dirty = self.manager.dirty
            if dirty is not None:
                dirty.append(self)
            else:
                asyncio.get_running_loop().call_soon(self._flush)
        self._out.append(line)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and not self.closed and self.transport is not None:
            self.transport.write(b"".join(out))

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self._flush()  # an error reply queued just before must still go out
            self.closed = True
            self.transport.close()
