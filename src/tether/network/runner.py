"""Start a Manager in this process: ``run_forever`` (Manager only) and ``run_services``.

``run_services(*services, **kwargs)`` starts a Manager, connects each service
to it, and returns once every service has disconnected (for example after a
client's ``shutdown_service``), taking the Manager down with it. Keyword
arguments are shared: the Manager takes its options (``port``,
``auth_login``, ``cert_file``...), the services take theirs (``username``,
``password``...), so one ``**kwargs`` from ``ssh.parse_console_script_kwargs()``
serves both.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from .._portal import portal
from . import certs, wire
from .auth import Authenticator
from .manager import Manager
from .service import Service
from .users import Database

log = logging.getLogger(__name__)

#: printed (and logged) once the Manager listens; ssh.start_manager waits for it
READY_PREFIX = "Network Manager running on"

MANAGER_OPTIONS = ("host", "port", "auth_hostname", "auth_login", "auth_password", "database", "disable_tls",
                   "cert_file", "key_file", "key_file_password", "log_level", "log_file")
SERVICE_OPTIONS = ("host", "port", "timeout", "username", "password", "password_manager", "disable_tls",
                   "cert_file", "assert_hostname", "fingerprint")


def _read_secret(value: str | None) -> str | None:
    """A password given as a path to a file holding it (keeps it off the command line)."""
    if value and os.path.isfile(value):
        with open(value) as fh:
            return fh.readline().strip()
    return value


def _setup_logging(log_level: str | int = "INFO", log_file: str | None = None) -> None:
    level = log_level.upper() if isinstance(log_level, str) else log_level
    logger = logging.getLogger("tether.network")
    logger.setLevel(level)
    if log_file and not any(isinstance(h, logging.FileHandler) for h in logger.handlers):
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)-5s] %(name)s - %(message)s"))
        logger.addHandler(handler)


async def create_manager(*, host: str | None = None, port: int = wire.PORT, auth_hostname: bool = False,
                         auth_login: bool = False, auth_password: str | None = None, database: str | None = None,
                         disable_tls: bool = False, cert_file: str | None = None, key_file: str | None = None,
                         key_file_password: str | None = None, log_level: str | int = "INFO",
                         log_file: str | None = None) -> Manager:
    """A started Manager (bound, listening) with the options of ``tether network start``."""
    _setup_logging(log_level, log_file)
    db = Database(database)
    try:
        auth = Authenticator.from_options(db, auth_hostname, auth_login, _read_secret(auth_password))
        context = None
        if not disable_tls:
            password = _read_secret(key_file_password)
            cert, key = certs.ensure_server_files(host, cert_file, key_file, password)
            context = certs.server_context(cert, key, password)
            log.info("loaded certificate %s", cert)
        manager = Manager(host, int(port), authenticator=auth, database=db, ssl_context=context)
        await manager.start()
    except BaseException:
        db.close()
        raise
    manager.cert_file = str(cert) if context else None
    return manager


def _announce(manager: Manager) -> None:
    tls = "ENABLED" if manager.ssl_context else "DISABLED"
    cert = manager.cert_file
    line = f"{READY_PREFIX} {manager.host or 'all interfaces'}:{manager.port} (TLS {tls})"
    print(line + (f" certificate {cert}" if cert else ""), flush=True)


def _pick(kwargs: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k in names}


def run_forever(**kwargs: Any) -> None:
    """Run a Manager until ``shutdown_manager`` (admin) or ^C. Options as ``tether network start``."""
    async def main() -> None:
        manager = await create_manager(**_pick(kwargs, MANAGER_OPTIONS))
        _announce(manager)
        try:
            await manager.wait_closed()
        finally:
            await manager.aclose()

    portal.call(main)


def run_services(*services: Service, **kwargs: Any) -> None:
    """Start a Manager and these services on it; return when all services are gone."""
    if not services:
        raise ValueError("run_services() needs at least one Service")
    for service in services:
        if not isinstance(service, Service):
            raise TypeError(f"run_services() takes Service objects, not {type(service).__name__}")
    manager_kwargs = _pick(kwargs, MANAGER_OPTIONS)
    if "password_manager" in kwargs and "auth_password" not in manager_kwargs:
        manager_kwargs["auth_password"] = kwargs["password_manager"]
    service_kwargs = _pick(kwargs, SERVICE_OPTIONS)
    service_kwargs.setdefault("host", "localhost")
    if "auth_password" in kwargs and "password_manager" not in service_kwargs:
        service_kwargs["password_manager"] = kwargs["auth_password"]
    manager: Manager = portal.call(lambda: create_manager(**manager_kwargs))
    service_kwargs["port"] = manager.port
    if manager.ssl_context is not None and not service_kwargs.get("cert_file"):
        service_kwargs["cert_file"] = manager.cert_file
        service_kwargs["host"] = "localhost"
    errors: list[BaseException] = []

    def serve(service: Service) -> None:
        try:
            service.start(**service_kwargs)
        except BaseException as exc:
            errors.append(exc)
            log.error("%s stopped: %s", service.name, exc)

    threads = [threading.Thread(target=serve, args=(s,), name=f"service-{s.name}", daemon=True) for s in services]
    for thread in threads:
        thread.start()
    _announce(manager)
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
                if manager.closed:
                    break
    finally:
        portal.call(manager.aclose)
    if errors and len(errors) == len(services):
        raise errors[0]

