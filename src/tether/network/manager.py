"""The Manager: a TLS broker between Clients and Services (msl-network's wire protocol).

::

    Client --link/request--> Manager --request--> Service
    Client <----result------ Manager <--result--- Service
    Clients linked to S <--- Manager <--notify--- Service S

Unlike msl-network, the rules are enforced on every request, not just on
``link``: a client must be linked with a service to call it, a locked
service answers only its lock holders, ``max_clients`` caps the links, and
a request that is still waiting when its service goes away is answered with
an error rather than left to hang.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import platform
import socket
import ssl
from typing import Any

from . import wire
from .auth import Authenticator, AuthMode
from .peer import HOSTNAME, PeerProtocol
from .routing import route
from .users import Database

log = logging.getLogger("tether.network.manager")


class Manager:
    """Accepts peers, checks who they are, and routes their messages.

    ``await Manager(...).start()`` binds; ``port=0`` picks a free port (see
    :attr:`port`). ``await manager.wait_closed()`` returns after
    ``shutdown_manager`` or :meth:`close`.
    """

    def __init__(self, host: str | None = None, port: int = wire.PORT, *,
                 authenticator: Authenticator | None = None, database: Database | None = None,
                 ssl_context: ssl.SSLContext | None = None, handshake_timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.database = database or (authenticator.database if authenticator else Database())
        self.auth = authenticator or Authenticator(self.database)
        self.ssl_context = ssl_context
        self.cert_file: str | None = None  # what clients should trust (set by create_manager)
        self.handshake_timeout = handshake_timeout
        self.network_name = f"Manager[{HOSTNAME}:{port}]"
        self.clients: dict[str, dict[str, Any]] = {}
        self.services: dict[str, dict[str, Any]] = {}
        self.client_peers: dict[str, PeerProtocol] = {}
        self.service_peers: dict[str, PeerProtocol] = {}
        self.links: dict[str, set[str]] = {}
        self.locks: dict[str, set[str]] = {}
        # requests forwarded to a service and not yet answered: service -> {uid: client name}
        self.in_flight: dict[str, dict[str, str]] = {}
        self._server: asyncio.base_events.Server | None = None
        # peers written to while one data_received is routed: flushed together at its end
        self.dirty: list[PeerProtocol] | None = None
        self._closed = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> Manager:
        loop = asyncio.get_running_loop()
        where: dict[str, Any] = {"host": self.host, "port": self.port}
        if not self.host:
            # every interface on ONE port (port=0 would give IPv4 and IPv6 different ones)
            where = {"sock": _any_interface_socket(self.port)}
        self._server = await loop.create_server(
            lambda: PeerProtocol(self), ssl=self.ssl_context,
            ssl_handshake_timeout=self.handshake_timeout if self.ssl_context else None, **where)
        self.port = self._server.sockets[0].getsockname()[1]
        self.network_name = f"Manager[{HOSTNAME}:{self.port}]"
        tls = "ENABLED" if self.ssl_context else "DISABLED"
        log.info("Network Manager running on %s:%d (TLS %s, auth %s)", self.host or HOSTNAME, self.port,
                 tls, self.auth.mode.value)
        return self

    def close(self) -> None:
        for peer in [*self.client_peers.values(), *self.service_peers.values()]:
            peer.close()
        if self._server is not None:
            self._server.close()
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def aclose(self) -> None:
        """Close, wait until the server has stopped, then close the database (peers are done with it)."""
        self.close()
        await self.wait_closed()
        self.database.close()

    def identity(self) -> dict[str, Any]:
        return {
            "hostname": HOSTNAME, "port": self.port,
            "attributes": {"identity": "() -> dict", "link": "(service: str) -> bool"},
            "language": f"Python {platform.python_version()}",
            "os": f"{platform.system()} {platform.release()} {platform.machine()}",
            "clients": self.clients, "services": self.services,
        }

    def audit(self, peer: PeerProtocol, message: str) -> None:
        try:
            self.database.log_connection(peer.ip_address, peer.port, message)
        except Exception as exc:  # the audit must never take the broker down
            log.warning("could not write the connections table: %s", exc)

    # -- handshake ---------------------------------------------------------------
    async def handshake(self, peer: PeerProtocol) -> None:
        try:
            ok = await asyncio.wait_for(self._authenticate_and_identify(peer), self.handshake_timeout)
        except asyncio.TimeoutError:
            self.audit(peer, "rejected: handshake timed out")
            ok = False
        if not ok:
            peer.close()
            return
        peer.end_handshake()

    async def _authenticate_and_identify(self, peer: PeerProtocol) -> bool:
        mode = self.auth.mode
        if mode is AuthMode.PASSWORD:
            ok = await self.auth.check_password(peer.ip_address, await peer.ask("password", self.network_name))
            if not ok:
                return self._refuse(peer, "wrong Manager password", ValueError("Wrong Manager password"))
        elif mode is AuthMode.HOSTNAME:
            names = await self._hostnames_of(peer.ip_address)
            if not self.auth.is_trusted_hostname(*names):
                return self._refuse(peer, "untrusted hostname",
                                    ValueError(f"{names[0]!r} is not a trusted hostname"))
        elif mode is AuthMode.LOGIN and not await self._login(peer):
            return self._refuse(peer, "wrong login", ValueError("Wrong username or password"))
        return self._identify(peer, await peer.ask("identity"))

    async def _hostnames_of(self, ip: str) -> list[str]:
        loop = asyncio.get_running_loop()
        fqdn = await loop.run_in_executor(None, socket.getfqdn, ip)
        names = [ip, fqdn, fqdn.split(".")[0]]
        if ip in ("127.0.0.1", "::1"):
            names += ["localhost", HOSTNAME]
        return names

    async def _login(self, peer: PeerProtocol) -> bool:
        username = await peer.ask("username", self.network_name)
        password = await peer.ask("password", username if isinstance(username, str) else "")
        ok = await self.auth.check_login(peer.ip_address, username, password)
        if ok:
            peer.is_admin = self.database.is_admin(username)
        return ok

    def _refuse(self, peer: PeerProtocol, reason: str, error: Exception) -> bool:
        log.info("%s rejected: %s", peer.address, reason)
        self.audit(peer, f"rejected: {reason}")
        peer.write(wire.error(error, self.network_name, with_traceback=False))
        return False

    def _identify(self, peer: PeerProtocol, identity: Any) -> bool:
        if identity is None:
            return False  # hung up (often: a certificate fetch)
        if not isinstance(identity, dict) or not isinstance(identity.get("name"), str):
            return self._refuse(peer, "invalid identity", TypeError("identity must be an object with a name"))
        kind = str(identity.get("type", "")).lower()
        name = identity["name"]
        peer.network_name = f"{name}[{peer.address}]"
        language, os_name = identity.get("language", "unknown"), identity.get("os", "unknown")
        if kind == "client":
            self.clients[peer.network_name] = {"name": name, "address": peer.address,
                                               "language": language, "os": os_name}
            self.client_peers[peer.network_name] = peer
        elif kind == "service":
            if name in self.services:
                return self._refuse(peer, "duplicate service",
                                    NameError(f"A {name!r} service is already running on the Manager"))
            attributes = identity.get("attributes")
            if not isinstance(attributes, dict):
                return self._refuse(peer, "invalid identity", TypeError("a service identity needs attributes"))
            max_clients = identity.get("max_clients", -1)
            self.services[name] = {"attributes": attributes, "address": peer.address, "language": language,
                                   "os": os_name, "max_clients": max_clients if isinstance(max_clients, int) else -1}
            self.service_peers[name] = peer
            self.links[name], self.locks[name], self.in_flight[name] = set(), set(), {}
            peer.service_name = name
        else:
            return self._refuse(peer, "invalid identity",
                                TypeError(f"Unknown connection type {kind!r}. Must be 'client' or 'service'"))
        peer.kind = kind
        self.audit(peer, f"connected as a {kind}")
        log.info("%s connected as a %s", peer.network_name, kind)
        return True

    def forget(self, peer: PeerProtocol) -> None:
        """The peer's connection is gone: drop it from every table."""
        name = peer.network_name
        if peer.kind == "client" and self.client_peers.get(name) is peer:
            del self.client_peers[name], self.clients[name]
            for service in self.links:
                self.links[service].discard(name)
                self.locks[service].discard(name)
        elif peer.kind == "service" and self.service_peers.get(peer.service_name) is peer:
            service = peer.service_name
            del self.service_peers[service], self.services[service]
            del self.links[service], self.locks[service]
            for uid, client in self.in_flight.pop(service, {}).items():
                target = self.client_peers.get(client)
                if target is not None:
                    target.write(wire.error(ConnectionAbortedError(
                        f"the {service!r} service disconnected before answering"), client, uid, False))
        if peer.kind:
            self.audit(peer, "disconnected")
            log.info("%s disconnected", name)

    def route(self, peer: PeerProtocol, line: bytes) -> None:
        route(self, peer, line)


def _any_interface_socket(port: int) -> socket.socket:
    if socket.has_dualstack_ipv6():
        try:
            return socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True,
                                        reuse_port=False, backlog=1024)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:  # say so rather than falling back
                raise
    return socket.create_server(("0.0.0.0", port), backlog=1024)
