"""Link (a client's handle on one service) and LinkedClient (a client plus one link).

Attribute access on a link becomes a request: ``link.power(5, n=3)``. Two
keyword arguments belong to tether, not the service: ``timeout`` (seconds to
wait for the reply) and ``asynchronous`` (return a Future). To pass a service
keyword of either name, use :meth:`Link.request` with an explicit ``kwargs``
dict, which is sent untouched.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..exceptions import ClosedError, RequestTimedOut
from . import wire

if TYPE_CHECKING:
    from .client import Client


class Link:
    def __init__(self, client: Client, service: str, identity: dict[str, Any]) -> None:
        self._client: Client | None = client
        self._service_name = service
        self._service_identity = identity

    def __repr__(self) -> str:
        state = "Link with" if self._client else "Un-Linked from"
        return f"<{state} {self._service_name}[{self.service_address}]>"

    def _require(self, what: str) -> Client:
        if self._client is None:
            raise ClosedError(f"cannot use {what!r}: the link with {self._service_name!r} is broken")
        return self._client

    def request(self, attribute: str, args: Any = (), kwargs: dict[str, Any] | None = None, *,
                timeout: float | None = None, asynchronous: bool = False) -> Any:
        """Call ``attribute`` with exactly ``args`` and ``kwargs`` (any names allowed in ``kwargs``)."""
        return self._require(attribute)._send(self._service_name, attribute, args, kwargs,
                                              timeout=timeout, asynchronous=asynchronous)

    def __getattr__(self, item: str) -> Any:
        if item.startswith("_"):
            raise AttributeError(item)
        self._require(item)

        def call(*args: Any, timeout: float | None = None, asynchronous: bool = False, **kwargs: Any) -> Any:
            return self.request(item, args, kwargs, timeout=timeout, asynchronous=asynchronous)

        call.__name__ = item
        return call

    # -- the service's identity ------------------------------------------------------
    @property
    def service_name(self) -> str:
        return self._service_name

    @property
    def service_address(self) -> str:
        return self._service_identity.get("address", "")

    @property
    def service_attributes(self) -> dict[str, Any]:
        return self._service_identity.get("attributes", {})

    @property
    def service_language(self) -> str:
        return self._service_identity.get("language", "unknown")

    @property
    def service_os(self) -> str:
        return self._service_identity.get("os", "unknown")

    @property
    def service_max_clients(self) -> int:
        return self._service_identity.get("max_clients", -1)

    # -- the Manager's rules -----------------------------------------------------------
    def acquire_lock(self, shared: bool = False, timeout: float | None = None) -> list[str]:
        """Lock the service: no new links; exclusive only when this client is its only link."""
        return self._require("acquire_lock")._send("Manager", "acquire_lock", [self._service_name],
                                                   {"shared": shared}, timeout=timeout)

    def release_lock(self, timeout: float | None = None) -> list[str]:
        return self._require("release_lock")._send("Manager", "release_lock", [self._service_name], {},
                                                   timeout=timeout)

    def notification_handler(self, *args: Any, **kwargs: Any) -> None:
        """Called (on a notification thread) for each ``emit_notification`` of the service."""

    def shutdown_service(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        client = self._require(wire.SHUTDOWN_SERVICE)
        out = client._send(self._service_name, wire.SHUTDOWN_SERVICE, args, kwargs, timeout=timeout)
        if self in client._links:
            client._links.remove(self)
        self._client = None
        return out

    def unlink(self, timeout: float | None = None) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected():
            client.unlink(self, timeout=timeout)

    disconnect = unlink


class LinkedClient:
    """A client linked with one service; the service's attributes are its own.

    Waits up to ``timeout`` seconds for ``service_name`` to appear on the
    Manager. When a request raises, :meth:`service_error_handler` runs before
    the error propagates. Setting ``notification_handler`` on an instance
    (or overriding it) receives the service's notifications.
    """

    def __init__(self, service_name: str, **kwargs: Any) -> None:
        from .client import CONNECT_OPTIONS, connect

        self._client: Client | None = None
        self._link: Link | None = None
        kwargs.setdefault("name", type(self).__name__)
        kwargs.setdefault("timeout", 10)
        self._kwargs = {k: v for k, v in kwargs.items() if k in CONNECT_OPTIONS}
        self._service_name = service_name
        self._client = client = connect(**self._kwargs)
        try:
            deadline = time.monotonic() + (self._kwargs["timeout"] or 0)
            while service_name not in client.identities()["services"]:
                if time.monotonic() > deadline:
                    raise RequestTimedOut(f"waiting for the {service_name!r} service", self._kwargs["timeout"])
                time.sleep(0.05)
            self._link = client.link(service_name)
        except BaseException:
            client.disconnect()
            raise
        # route notifications to this object's handler (overridden or set later)
        self._link.notification_handler = self._dispatch_notification  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} linked with {self._service_name}: {self._link!r}>"

    def _dispatch_notification(self, *args: Any, **kwargs: Any) -> None:
        self.notification_handler(*args, **kwargs)

    def notification_handler(self, *args: Any, **kwargs: Any) -> None:
        """Override (or assign) to receive the service's notifications."""

    def service_error_handler(self) -> None:
        """Called when a request to the service raises, before the error propagates."""

    @property
    def client(self) -> Client | None:
        return self._client

    @property
    def link(self) -> Link | None:
        return self._link

    @property
    def service_name(self) -> str:
        return self._service_name

    def _require_link(self, what: str) -> Link:
        if self._link is None:
            raise ClosedError(f"cannot use {what!r}: {type(self).__name__} is disconnected")
        return self._link

    def __getattr__(self, item: str) -> Any:
        if item.startswith("_"):
            raise AttributeError(item)
        attr = getattr(self._require_link(item), item)
        if item.startswith("service_") and not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except Exception:
                self.service_error_handler()
                raise

        return call

    def acquire_lock(self, shared: bool = False, timeout: float | None = None) -> list[str]:
        return self._require_link("acquire_lock").acquire_lock(shared, timeout)

    def release_lock(self, timeout: float | None = None) -> list[str]:
        return self._require_link("release_lock").release_lock(timeout)

    def shutdown_service(self, *args: Any, **kwargs: Any) -> Any:
        return self._require_link(wire.SHUTDOWN_SERVICE).shutdown_service(*args, **kwargs)

    def identities(self, *, as_string: bool = False, indent: int = 2, timeout: float | None = None) -> Any:
        if self._client is None:
            raise ClosedError(f"{type(self).__name__} is disconnected")
        return self._client.identities(as_string=as_string, indent=indent, timeout=timeout)

    def admin_request(self, attrib: str, *args: Any, **kwargs: Any) -> Any:
        if self._client is None:
            raise ClosedError(f"{type(self).__name__} is disconnected")
        return self._client.admin_request(attrib, *args, **kwargs)

    def spawn(self, name: str = "LinkedClient") -> LinkedClient:
        return LinkedClient(self._service_name, **{**self._kwargs, "name": name})

    def is_connected(self) -> bool:
        return self._client is not None and self._client.is_connected()

    def unlink(self, timeout: float | None = None) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.unlink(timeout)

    def disconnect(self, timeout: float | None = 10) -> None:
        client, self._client, self._link = self._client, None, None
        if client is not None:
            client.disconnect(timeout)

    def __enter__(self) -> LinkedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()
