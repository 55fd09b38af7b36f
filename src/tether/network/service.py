"""Service: a class whose public methods and attributes Clients call through a Manager.

::

    class Calculator(Service):
        def add(self, a, b):
            return a + b

    Calculator(max_clients=2).start(host="localhost")   # blocks until shut down

Requests run concurrently in a thread pool, so a slow method does not hold
up the others. Names starting with ``_`` and names passed to
``ignore_attributes`` are neither advertised nor callable. A method named
``shutdown_service`` (optional) lets a linked client shut the service down:
it runs, the requests still running finish, then the service says goodbye.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import logging
import platform
from collections.abc import Awaitable, Iterable
from typing import Any

from .._portal import portal
from ..exceptions import ConnectError
from . import wire
from .connection import Connection, open_connection

log = logging.getLogger("tether.network.service")

#: the Service API itself: never exposed to clients
_OWN_NAMES = frozenset({
    "add_tasks", "address_manager", "emit_notification", "emit_notification_threadsafe", "identity",
    "ignore_attributes", "loop_thread_id", "max_clients", "name", "port", "shutdown_handler", "start",
})


class Service:
    def __init__(self, *, name: str | None = None, max_clients: int | None = None,
                 ignore_attributes: str | Iterable[str] | None = None) -> None:
        self._name = name or type(self).__name__
        self._max_clients = int(max_clients) if max_clients and max_clients > 0 else -1
        self._ignored: set[str] = set(_OWN_NAMES)
        if ignore_attributes is not None:
            names = [ignore_attributes] if isinstance(ignore_attributes, str) else ignore_attributes
            self._ignored.update(names)
        self._tasks: list[Awaitable[Any]] = []
        self._conn: Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: set[concurrent.futures.Future[Any]] = set()  # requests in the thread pool
        self._background: set[asyncio.Future[Any]] = set()  # a shutdown_service in progress
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._address_manager: str | None = None
        self._refusal: str | None = None  # why the Manager closed on us, if it said

    # -- what clients see ------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def max_clients(self) -> int:
        """How many clients may link at once (-1: no limit); the Manager enforces it."""
        return self._max_clients

    @property
    def port(self) -> int | None:
        return self._conn.port if self._conn else None

    @property
    def address_manager(self) -> str | None:
        return self._address_manager

    def ignore_attributes(self, *names: str) -> None:
        """Hide these public names from clients and refuse requests for them."""
        self._ignored.update(names)

    def _exposed(self, name: str) -> bool:
        return not name.startswith("_") and name not in self._ignored

    def identity(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        for name in dir(self):
            if not self._exposed(name):
                continue
            try:
                value = getattr(self, name)
                attributes[name] = str(inspect.signature(value)) if callable(value) else value
                json.dumps(attributes[name])
            except (TypeError, ValueError, AttributeError) as exc:
                attributes.pop(name, None)
                log.debug("not advertising %r: %s", name, exc)
        return {"type": "service", "name": self._name, "attributes": attributes,
                "max_clients": self._max_clients, "language": f"Python {platform.python_version()}",
                "os": f"{platform.system()} {platform.release()} {platform.machine()}"}

    # -- hooks -----------------------------------------------------------------------------
    def add_tasks(self, *coros_or_futures: Awaitable[Any]) -> None:
        """Extra coroutines to run in the event loop while the service is connected."""
        self._tasks.extend(coros_or_futures)

    def shutdown_handler(self) -> None:
        """Called after the connection to the Manager is gone; override to clean up."""

    def emit_notification(self, *args: Any, **kwargs: Any) -> None:
        """Send ``(args, kwargs)`` to every linked client's ``notification_handler`` (any thread)."""
        conn, loop = self._conn, self._loop
        if conn is None or loop is None:
            raise RuntimeError(f"{self._name} is not connected to a Manager")
        message = wire.notification(self._name, args, kwargs)
        if portal.in_loop_thread():
            conn.write(message)
        else:
            conn.write_threadsafe(wire.encode(message))

    def emit_notification_threadsafe(self, *args: Any, **kwargs: Any) -> None:
        """The same as :meth:`emit_notification` (kept for msl-network's name)."""
        self.emit_notification(*args, **kwargs)

    # -- running -------------------------------------------------------------------------
    def start(self, *, name: str | None = None, host: str = "localhost", port: int = wire.PORT,
              timeout: float | None = 10, username: str | None = None, password: str | None = None,
              password_manager: str | None = None, disable_tls: bool = False, cert_file: str | None = None,
              assert_hostname: bool = True, fingerprint: str | None = None) -> None:
        """Connect to the Manager and serve requests until disconnected (blocks)."""
        if name is not None:
            self._name = name
        portal.call(self._serve, dict(host=host, port=port, timeout=timeout, username=username, password=password,
                                      password_manager=password_manager, disable_tls=disable_tls,
                                      cert_file=cert_file, assert_hostname=assert_hostname,
                                      fingerprint=fingerprint))

    async def _serve(self, options: dict[str, Any]) -> None:
        self._loop = asyncio.get_running_loop()
        conn = await open_connection(self.identity(), **options)
        self._executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix=self._name)
        self._conn = conn
        self._address_manager = f"{options['host']}:{options['port']}"
        conn.on_message = self._on_message
        log.info("%s connected to the Manager at %s", self._name, self._address_manager)
        tasks = [asyncio.ensure_future(t) for t in self._tasks]
        self._refusal = None
        try:
            await conn.closed
            if self._refusal:
                raise ConnectError(f"the Manager at {self._address_manager} refused {self._name}: {self._refusal}")
        finally:
            for task in tasks:
                task.cancel()
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._conn = None
            self.shutdown_handler()

    def _reply(self, request: dict[str, Any], value: Any = None, error: BaseException | None = None) -> None:
        conn = self._conn
        if conn is None:
            return
        requester, uid = request.get("requester"), request.get("uid", "")
        if error is not None:
            conn.write(wire.error(error, requester, uid))
            return
        try:
            conn.write(wire.result(value, requester, uid))
        except (TypeError, ValueError) as exc:
            conn.write(wire.error(TypeError(f"{request.get('attribute')!r} is not JSON-serializable: {exc}"),
                                  requester, uid, False))

    def _on_message(self, request: dict[str, Any]) -> None:
        if wire.is_reply(request):
            if request.get("error"):
                log.error("the Manager sent an error: %s", request.get("message"))
                if not request.get("uid"):  # the Manager's own word, e.g. a refused identity
                    self._refusal = str(request.get("message"))
            return
        attribute = request.get("attribute")
        if not isinstance(attribute, str) or not self._exposed(attribute):
            error = PermissionError(f"{self._name} does not expose {attribute!r}")
            self._reply(request, error=error)
            return
        try:
            target = getattr(self, attribute)
        except AttributeError as exc:
            self._reply(request, error=exc)
            return
        if attribute == wire.SHUTDOWN_SERVICE:
            task = asyncio.ensure_future(self._shutdown(target, request))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        elif callable(target):
            assert self._loop is not None and self._executor is not None
            future = self._executor.submit(self._execute, target, request)
            self._running.add(future)
            future.add_done_callback(self._running.discard)
        else:
            self._reply(request, target)

    def _execute(self, method: Any, request: dict[str, Any]) -> None:
        """In a pool thread: call, encode the reply here, hand the bytes to the loop (batched)."""
        requester, uid = request.get("requester"), request.get("uid", "")
        try:
            value = _call(method, request)
        except Exception as exc:
            data = wire.encode(wire.error(exc, requester, uid))
        else:
            try:
                data = wire.encode(wire.result(value, requester, uid))
            except (TypeError, ValueError) as exc:
                data = wire.encode(wire.error(TypeError(
                    f"the result of {request.get('attribute')!r} is not JSON-serializable: {exc}"),
                    requester, uid, False))
        conn = self._conn
        if conn is not None:
            conn.write_threadsafe(data)

    async def _shutdown(self, method: Any, request: dict[str, Any]) -> None:
        assert self._loop is not None
        try:
            value = await self._loop.run_in_executor(self._executor, _call, method, request)
        except Exception as exc:
            self._reply(request, error=exc)
            return
        if self._running:
            await asyncio.wait([asyncio.wrap_future(f) for f in list(self._running)])
        self._reply(request, value)
        if self._conn is not None:
            self._conn.write({"service": self._name, "attribute": wire.DISCONNECT_REQUEST})


def _call(method: Any, request: dict[str, Any]) -> Any:
    args, kwargs = request.get("args") or [], request.get("kwargs") or {}
    return method(*args, **kwargs)
