"""What the Manager does with each line once a peer has identified.

Replies from a service go back to the client that asked (the same bytes);
notifications fan out to the service's linked clients; requests to a
service are forwarded only when the client is linked (a lock stops new links:
an exclusive one needs its holder to be the only link, a shared one lets the
clients already linked carry on);
requests to the Manager itself (``link``, ``unlink``, locks, ``identity``)
are answered here, and anything else addressed to the Manager is an admin
request, allowed to admins only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..exceptions import FrameError
from . import wire
from .admin import admin_request

if TYPE_CHECKING:
    from .manager import Manager
    from .peer import PeerProtocol

log = logging.getLogger(__name__)


def route(manager: Manager, peer: PeerProtocol, line: bytes) -> None:
    try:
        message = wire.decode(line)
    except FrameError as exc:
        peer.write(wire.error(exc, peer.network_name, with_traceback=False))
        return
    if peer.kind == "service":
        _from_service(manager, peer, message, line)
        return
    if wire.is_reply(message):
        peer.answer(message.get("result"))  # admin credentials (ignored if not asked)
        return
    service = message.get("service")
    attribute = message.get("attribute")
    uid = message.get("uid", "")
    if not isinstance(attribute, str) or not isinstance(service, str):
        peer.write(wire.error(ValueError("a request needs a 'service' and an 'attribute'"),
                              peer.network_name, uid, False))
        return
    if attribute == wire.DISCONNECT_REQUEST:
        peer.close()
    elif service == "Manager":
        _to_manager(manager, peer, attribute, message, uid)
    else:
        _to_service(manager, peer, service, attribute, message, uid)


def _from_service(manager: Manager, peer: PeerProtocol, message: dict[str, Any], line: bytes) -> None:
    name = peer.service_name
    uid = message.get("uid")
    if uid == wire.NOTIFICATION_UID:
        for client in manager.links.get(name, ()):
            target = manager.client_peers.get(client)
            if target is not None:
                target.write_line(line)
    elif wire.is_reply(message):
        requester = manager.in_flight[name].pop(uid, None) if isinstance(uid, str) else None
        target = manager.client_peers.get(requester or message.get("requester") or "")
        if target is not None:
            target.write_line(line)
    elif message.get("attribute") == wire.DISCONNECT_REQUEST:
        peer.close()  # the shutdown_service convention: the service says goodbye


def _refuse(peer: PeerProtocol, error: Exception, uid: str) -> None:
    log.info("%s: %s", peer.network_name, error)
    peer.write(wire.error(error, peer.network_name, uid, with_traceback=False))


def _to_service(manager: Manager, peer: PeerProtocol, service: str, attribute: str,
                message: dict[str, Any], uid: str) -> None:
    target = manager.service_peers.get(service)
    client = peer.network_name
    if target is None:
        _refuse(peer, KeyError(f"the {service!r} Service is not connected to {manager.network_name}"), uid)
        return
    if client not in manager.links[service]:
        _refuse(peer, PermissionError(f"{client} is not linked with the {service!r} service; link first"), uid)
        return
    if not isinstance(uid, str) or not uid or uid in manager.in_flight[service]:
        _refuse(peer, ValueError("a request needs a unique 'uid'"), uid)
        return
    message["requester"] = client
    manager.in_flight[service][uid] = client
    target.write(message)


def _to_manager(manager: Manager, peer: PeerProtocol, attribute: str, message: dict[str, Any], uid: str) -> None:
    args = message.get("args") or []
    kwargs = message.get("kwargs") or {}
    name = peer.network_name
    try:
        if attribute == "identity":
            peer.write(wire.result(manager.identity(), name, uid))
        elif attribute == "link":
            peer.write(wire.result(_link(manager, name, args[0]), name, uid))
        elif attribute == "unlink":
            peer.write(wire.result(_unlink(manager, name, args[0]), name, uid))
        elif attribute == "acquire_lock":
            peer.write(wire.result(_acquire(manager, name, args[0], bool(kwargs.get("shared"))), name, uid))
        elif attribute == "release_lock":
            locks = _service_table(manager.locks, args[0])
            locks.discard(name)
            peer.write(wire.result(sorted(locks), name, uid))
        else:
            peer.background(admin_request(manager, peer, attribute, args, kwargs, uid))
    except (KeyError, PermissionError, IndexError, TypeError) as exc:
        _refuse(peer, exc, uid)


def _service_table(table: dict[str, set[str]], service: Any) -> set[str]:
    if not isinstance(service, str) or service not in table:
        raise KeyError(f"the {service!r} service does not exist")
    return table[service]


def _link(manager: Manager, client: str, service: str) -> dict[str, Any]:
    links = _service_table(manager.links, service)
    identity = manager.services[service]
    if client in links:
        return identity
    if manager.locks[service]:
        raise PermissionError(f"the {service!r} service is locked")
    limit = identity["max_clients"]
    if 0 < limit <= len(links):
        raise PermissionError(f"The maximum number of Clients ({limit}) are already linked with {service!r}")
    links.add(client)
    return identity


def _unlink(manager: Manager, client: str, service: str) -> bool:
    if service not in manager.links:
        return True
    links = manager.links[service]
    if client not in links:
        raise KeyError(f"cannot unlink {client}, it was not linked with {service!r}")
    links.discard(client)
    manager.locks[service].discard(client)
    return True


def _acquire(manager: Manager, client: str, service: str, shared: bool) -> list[str]:
    links = _service_table(manager.links, service)
    locks = manager.locks[service]
    if client not in links:
        raise PermissionError(f"{client} cannot lock {service!r}: it is not linked with it")
    if not shared and len(links) > 1:
        raise PermissionError(f"{client} cannot acquire an exclusive lock: {len(links)} clients "
                              f"are linked with {service!r} ({', '.join(sorted(links))})")
    locks.add(client)
    return sorted(links)
