"""Client: connect to a Manager, link with services, send requests.

::

    cxn = connect(host="localhost", cert_file="manager.crt")
    calc = cxn.link("Calculator")
    calc.add(1, 2)                          # 3
    future = calc.add(1, 2, asynchronous=True); future.result()
    calc.add(1, 2, timeout=5)               # a per-request timeout (RequestTimedOut)
    calc.request("wait", kwargs={"timeout": 9})   # a *service* kwarg named timeout
    cxn.disconnect()

The connection lives on tether's event-loop thread (the portal); requests
are written from the caller's thread and answered into
``concurrent.futures.Future`` objects, so many can be in flight at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import platform
import uuid
from typing import Any

from .._portal import portal
from ..exceptions import ClosedError, ConnectError, RemoteError, RequestTimedOut
from . import wire
from .connection import Connection, open_connection
from .link import Link

log = logging.getLogger("tether.network.client")

#: the keyword arguments connect() takes (LinkedClient and run_services filter on these)
CONNECT_OPTIONS = ("name", "host", "port", "timeout", "username", "password", "password_manager",
                   "disable_tls", "cert_file", "assert_hostname", "fingerprint")


def connect(*, name: str = "Client", host: str = "localhost", port: int = wire.PORT, timeout: float | None = 10,
            username: str | None = None, password: str | None = None, password_manager: str | None = None,
            disable_tls: bool = False, cert_file: str | None = None, assert_hostname: bool = True,
            fingerprint: str | None = None) -> Client:
    """Connect a new :class:`Client` to the Manager at ``host:port``.

    TLS is on: the Manager is verified against ``cert_file`` (or a certificate
    saved for ``host`` under ``~/.tether/network/certs``, or the system's CAs),
    or against a pinned SHA-256 ``fingerprint``. ``username``/``password`` log
    in (and answer admin checks); ``password_manager`` is a Manager's shared password.
    """
    client = Client(name)
    client._start(dict(host=host, port=port, timeout=timeout, username=username, password=password,
                       password_manager=password_manager, disable_tls=disable_tls, cert_file=cert_file,
                       assert_hostname=assert_hostname, fingerprint=fingerprint))
    return client


class Client:
    def __init__(self, name: str = "Client") -> None:
        self._name = name
        self._identity = {"type": "client", "name": name, "language": f"Python {platform.python_version()}",
                          "os": f"{platform.system()} {platform.release()} {platform.machine()}"}
        self._conn: Connection | None = None
        self._options: dict[str, Any] = {}
        self._pending: dict[str, tuple[concurrent.futures.Future[Any], str]] = {}
        self._links: list[Link] = []
        self._notify_pool: concurrent.futures.ThreadPoolExecutor | None = None
        # request ids: unique per client (random prefix) and cheap (a counter; next() is atomic)
        self._uid_prefix = f"{uuid.uuid4().hex[:12]}-"
        self._uid_counter = itertools.count(1)

    def __repr__(self) -> str:
        state = f"manager={self.address_manager} port={self.port}" if self.is_connected() else "disconnected"
        return f"<{self._name} {state}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    # -- state -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def port(self) -> int | None:
        return self._conn.port if self._conn else None

    @property
    def address_manager(self) -> str:
        return f"{self._options.get('host')}:{self._options.get('port')}"

    def identity(self) -> dict[str, Any]:
        return self._identity

    def is_connected(self) -> bool:
        conn = self._conn
        return conn is not None and not conn.closed.done()

    def _start(self, options: dict[str, Any]) -> None:
        self._options = options
        self._conn = portal.call(open_connection, self._identity, **options)
        self._conn.on_message = self._on_message
        self._conn.on_lost = self._on_lost

    # -- requests ----------------------------------------------------------------------
    def _send(self, service: str, attribute: str, args: Any, kwargs: dict[str, Any] | None, *,
              timeout: float | None = None, asynchronous: bool = False) -> Any:
        conn = self._conn
        if conn is None or conn.closed.done():
            raise ClosedError(f"{self._name} is disconnected from the Manager at {self.address_manager}; "
                              f"cannot send {service}.{attribute}")
        uid = f"{self._uid_prefix}{next(self._uid_counter)}"
        label = f"{service}.{attribute}"
        data = wire.encode(wire.request(service, attribute, args, kwargs, uid))
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._pending[uid] = (future, label)
        conn.write_threadsafe(data)
        if asynchronous:
            return future
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            self._pending.pop(uid, None)
            raise RequestTimedOut(label, timeout) from None

    def _on_message(self, message: dict[str, Any]) -> None:
        uid = message.get("uid")
        if uid == wire.NOTIFICATION_UID:
            self._notify(message)
            return
        if "attribute" in message and "result" not in message:
            # the Manager asks for credentials (an admin request): answer from connect()'s
            assert self._conn is not None
            self._conn.write(wire.result(self._conn.answer(message["attribute"], message.get("args") or [""])))
            return
        entry = self._pending.pop(uid, None) if isinstance(uid, str) else None
        if entry is None:
            if message.get("error"):
                log.error("the Manager sent an error: %s", message.get("message"))
            return
        future, label = entry
        if future.done():
            return
        if message.get("error"):
            future.set_exception(_remote_error(message, label))
        else:
            future.set_result(message.get("result"))

    def _notify(self, message: dict[str, Any]) -> None:
        try:
            args, kwargs = message["result"]
        except (KeyError, TypeError, ValueError):
            return
        links = [link for link in self._links if link.service_name == message.get("service")]
        if not links:
            return
        if self._notify_pool is None:  # handlers run off the event loop, one at a time, in order
            self._notify_pool = concurrent.futures.ThreadPoolExecutor(1, f"{self._name}-notify")
        for link in links:
            self._notify_pool.submit(link.notification_handler, *args, **kwargs)

    def _on_lost(self) -> None:
        pending, self._pending = self._pending, {}
        for future, label in pending.values():
            if future.done():
                continue
            if label == f"Manager.{wire.SHUTDOWN_MANAGER}":
                future.set_result(None)
            else:
                future.set_exception(ConnectError(f"the Manager at {self.address_manager} closed the "
                                                  f"connection before answering {label}"))
        if self._notify_pool is not None:
            self._notify_pool.shutdown(wait=False)

    # -- the Manager's API ---------------------------------------------------------------
    def link(self, service: str, *, timeout: float | None = None) -> Link:
        """Link with ``service``: the returned :class:`Link` calls it by attribute."""
        identity = self._send("Manager", "link", [service], {}, timeout=timeout)
        link = Link(self, service, identity)
        self._links.append(link)
        return link

    def unlink(self, link: Link, *, timeout: float | None = None) -> None:
        if not isinstance(link, Link):
            raise TypeError(f"unlink() needs a Link, not {type(link).__name__}")
        self._send("Manager", "unlink", [link.service_name], {}, timeout=timeout)
        if link in self._links:
            self._links.remove(link)

    def identities(self, *, as_string: bool = False, indent: int = 2, timeout: float | None = None) -> Any:
        """The Manager's identity: its clients and its services with their attributes."""
        identity = self._send("Manager", "identity", [], {}, timeout=timeout)
        if not as_string:
            return identity
        from .identities import format_identities

        return format_identities(identity, indent)

    def admin_request(self, attrib: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """An admin request (``shutdown_manager``, ``users_table.usernames``, ...).

        The Manager checks the ``username``/``password`` this client connected
        with (or its login); nothing is prompted for.
        """
        return self._send("Manager", attrib, args, kwargs, timeout=timeout)

    def spawn(self, name: str = "Client") -> Client:
        """A new client connected to the same Manager with the same options."""
        return connect(name=name, **self._options)

    def disconnect(self, timeout: float | None = 10) -> None:
        """Close the connection (waiting up to ``timeout`` s for the Manager to see it)."""
        conn, self._conn = self._conn, None
        if conn is None or conn.closed.done():
            return
        for link in list(self._links):
            link._client = None
        self._links.clear()

        async def close() -> None:
            conn.write(wire.request(self._name, wire.DISCONNECT_REQUEST))
            conn.close()
            await conn.closed

        try:
            portal.call(_wait_for, close(), timeout)
        except TimeoutError:
            log.warning("%s: the connection did not close within %s s", self._name, timeout)


async def _wait_for(coro: Any, timeout: float | None) -> None:
    await asyncio.wait_for(coro, timeout)


def _remote_error(message: dict[str, Any], label: str) -> RemoteError:
    text = str(message.get("message") or "UnknownError: no message")
    type_name = text.split(":", 1)[0] if ":" in text else ""
    trace = message.get("traceback") or []
    return RemoteError(text, type_name, [str(t) for t in trace], label.split(".", 1)[0])
