"""A Client's or Service's connection to a Manager: TLS, the handshake, then framed lines.

:func:`open_connection` connects, verifies the Manager (CA file or pinned
fingerprint, see :mod:`.certs`), answers the Manager's questions from the
credentials it was given (never by prompting), and returns a
:class:`Connection` that hands every later message to ``on_message``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..exceptions import AuthenticationError, CertificateError, ConnectError, FrameError
from . import certs, wire

log = logging.getLogger("tether.network.connection")

_MANAGER_NAME = re.compile(r"^Manager\[")


class Connection(asyncio.Protocol):
    def __init__(self, identity: dict[str, Any], credentials: dict[str, str | None]) -> None:
        self.identity = identity
        self.credentials = credentials
        self.decoder = wire.LineDecoder(wire.LINE_LIMIT)
        self.transport: asyncio.Transport | None = None
        self.identified: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on_message: Callable[[dict[str, Any]], None] = lambda message: None
        self.on_lost: Callable[[], None] = lambda: None
        self.port = 0
        self._loop = asyncio.get_running_loop()
        self._out: list[bytes] = []
        self._lock = threading.Lock()
        self._pending_out: list[bytes] = []

    # -- asyncio callbacks -----------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def data_received(self, data: bytes) -> None:
        try:
            lines = self.decoder.feed(data)
            for line in lines:
                message = wire.decode(line)
                if self.identified.done():
                    self.on_message(message)
                else:
                    self._handshake(message)
        except FrameError as exc:
            log.error("bad line from the Manager: %s; closing", exc)
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectError("the Manager closed the connection"))
        if not self.closed.done():
            self.closed.set_result(None)
        self.on_lost()

    # -- handshake -----------------------------------------------------------------
    def _fail(self, exc: Exception) -> None:
        if not self.identified.done():
            self.identified.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def _handshake(self, message: dict[str, Any]) -> None:
        if message.get("error"):
            text = str(message.get("message", "refused"))
            cls = AuthenticationError if ("password" in text or "trusted" in text) else ConnectError
            self._fail(cls(f"the Manager refused the connection: {text}"))
            return
        attribute = message.get("attribute")
        if attribute == "identity":
            self.write(wire.result(self.identity))
            self.identified.set_result(None)
            return
        answer = self.answer(attribute, message.get("args") or [""])
        if answer is None:
            self._fail(AuthenticationError(
                f"the Manager asks for a {attribute}: pass "
                + ("password_manager=" if attribute == "password" and self._asks_manager(message) else
                   f"{attribute}=") + " to connect()"))
            return
        self.write(wire.result(answer))

    @staticmethod
    def _asks_manager(message: dict[str, Any]) -> bool:
        args = message.get("args") or [""]
        return bool(_MANAGER_NAME.search(str(args[0])))

    def answer(self, attribute: Any, args: list) -> str | None:
        """The credential the Manager asked for, from what connect() was given."""
        if attribute == "username":
            return self.credentials.get("username")
        if attribute == "password":
            if _MANAGER_NAME.search(str(args[0] if args else "")):
                return self.credentials.get("password_manager") or self.credentials.get("password")
            return self.credentials.get("password")
        return None

    # -- output ----------------------------------------------------------------
    def write(self, message: dict[str, Any]) -> None:
        self.write_bytes(wire.encode(message))

    def write_bytes(self, data: bytes) -> None:
        """Queue bytes from the loop thread; everything queued in one iteration is one write."""
        if self.transport is None or self.transport.is_closing():
            return
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out.append(data)

    def write_threadsafe(self, data: bytes) -> None:
        """Queue bytes from any thread; wakes the loop once per batch, not once per message."""
        with self._lock:
            wake = not self._pending_out
            self._pending_out.append(data)
        if wake:
            self._loop.call_soon_threadsafe(self._take_pending)

    def _take_pending(self) -> None:
        with self._lock:
            pending, self._pending_out = self._pending_out, []
        self._out.extend(pending)
        self._flush()  # at once: these waited for a wake-up already

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    def close(self) -> None:
        if self.transport is not None:
            self._flush()
            self.transport.close()


def default_cert_file(host: str) -> Path | None:
    """A Manager certificate saved for ``host`` (``start_manager`` saves one over SSH)."""
    path = certs.default_cert_path(host)
    return path if path.is_file() else None


async def open_connection(identity: dict[str, Any], *, host: str = "localhost", port: int = wire.PORT,
                          timeout: float | None = 10, username: str | None = None, password: str | None = None,
                          password_manager: str | None = None, disable_tls: bool = False,
                          cert_file: str | None = None, assert_hostname: bool = True,
                          fingerprint: str | None = None) -> Connection:
    if password and password_manager and username is None:
        raise ValueError("give either password (a login) or password_manager (the Manager's password), not both")
    context: ssl.SSLContext | None = None
    if not disable_tls:
        cert = cert_file or default_cert_file(host)
        context = certs.client_context(cert, assert_hostname, fingerprint)
    credentials = {"username": username, "password": password, "password_manager": password_manager}
    loop = asyncio.get_running_loop()
    where = f"{host}:{port}"
    try:
        _, conn = await asyncio.wait_for(
            loop.create_connection(lambda: Connection(identity, credentials), host, port, ssl=context,
                                   server_hostname=host if context else None),
            timeout)
    except asyncio.TimeoutError:
        raise ConnectError(f"cannot connect to the Manager at {where} within {timeout} s") from None
    except ssl.SSLCertVerificationError as exc:
        hint = ("pass cert_file= (the Manager's .crt) or fingerprint= (tether network certdump)"
                if "self" in str(exc) or "unable" in str(exc) else "check host/assert_hostname")
        raise CertificateError(f"cannot verify the Manager at {where}: {exc.verify_message}; {hint}") from exc
    except ssl.SSLError as exc:
        hint = "; is TLS disabled on the Manager? (disable_tls=True)" if "WRONG_VERSION" in str(exc) else ""
        raise ConnectError(f"TLS with the Manager at {where} failed: {exc}{hint}") from exc
    except OSError as exc:
        raise ConnectError(f"cannot connect to the Manager at {where}: {exc.strerror or exc}") from exc
    try:
        if fingerprint:
            assert conn.transport is not None
            ssl_object = conn.transport.get_extra_info("ssl_object")
            certs.verify_pinned(ssl_object.getpeercert(binary_form=True) if ssl_object else None, fingerprint)
        await asyncio.wait_for(asyncio.shield(conn.identified), timeout)
    except asyncio.TimeoutError:
        conn.close()
        extra = " (TLS is disabled here: does the Manager use TLS?)" if disable_tls else ""
        raise ConnectError(f"no handshake from the Manager at {where} within {timeout} s{extra}") from None
    except BaseException:
        conn.close()
        raise
    return conn
