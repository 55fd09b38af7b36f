"""Requests to the Manager that only administrators may make.

A peer that logged in as an admin is trusted for the session; any other peer
is asked for a username and password (its client answers from the
credentials given to ``connect``; nothing prompts). Only the names in
``_table`` (and ``shutdown_manager``) exist: no attribute of the Manager is reachable by
name otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import wire

if TYPE_CHECKING:
    from .manager import Manager
    from .peer import PeerProtocol

log = logging.getLogger(__name__)


def _table(manager: Manager) -> dict[str, Callable[..., Any]]:
    db = manager.database
    return {
        "users_table.usernames": db.usernames,
        "users_table.users": db.users,
        "users_table.insert": db.add_user,
        "users_table.update": db.update_user,
        "users_table.delete": db.remove_user,
        "users_table.is_admin": db.is_admin,
        "hostnames_table.hostnames": db.hostnames,
        "hostnames_table.insert": db.add_hostname,
        "hostnames_table.delete": db.remove_hostname,
        "connections_table.connections": db.connections,
    }


async def _is_admin(manager: Manager, peer: PeerProtocol) -> bool:
    if peer.is_admin:
        return True
    username = await peer.ask("username", manager.network_name)
    password = await peer.ask("password", username if isinstance(username, str) else "")
    if await manager.auth.check_login(peer.ip_address, username, password) and manager.database.is_admin(username):
        peer.is_admin = True
        manager.audit(peer, f"admin login as {username}")
    return peer.is_admin


async def admin_request(manager: Manager, peer: PeerProtocol, attribute: str, args: list, kwargs: dict,
                        uid: str) -> None:
    name = peer.network_name
    log.info("%s sent the admin request %r", name, attribute)
    if not await _is_admin(manager, peer):
        manager.audit(peer, f"refused admin request {attribute}")
        peer.write(wire.error(PermissionError("You must be an administrator to send this request to the Manager"),
                              name, uid, False))
        return
    if attribute == wire.SHUTDOWN_MANAGER:
        manager.audit(peer, "shutdown_manager")
        peer.write(wire.result(None, name, uid))
        manager.close()
        return
    handler = _table(manager).get(attribute)
    if handler is None:
        peer.write(wire.error(AttributeError(f"the Manager has no admin request {attribute!r}"), name, uid, False))
        return
    try:
        value = handler(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        peer.write(wire.error(exc, name, uid, False))
    else:
        peer.write(wire.result(value, name, uid))
