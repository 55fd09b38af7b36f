"""Fixtures for tether.network: a real Manager over real TLS on a free loopback port.

Each test gets its own TETHER_NETWORK_HOME (certificates, database), so no
test sees another's users or keys.
"""

from __future__ import annotations

import threading
import time

import pytest

from tether._portal import portal
from tether.network import Service, certs, connect, create_manager


@pytest.fixture
def network_home(tmp_path, monkeypatch):
    home = tmp_path / "network-home"
    monkeypatch.setattr(certs, "HOME", home)
    monkeypatch.setenv("TETHER_NETWORK_HOME", str(home))
    return home


class ManagerHandle:
    """A started Manager plus helpers that connect clients and services to it."""

    def __init__(self, manager):
        self.manager = manager
        self.port = manager.port
        self.cert_file = manager.cert_file
        self.threads: list[threading.Thread] = []
        self.clients: list = []
        self.errors: list[BaseException] = []

    def options(self, **kwargs):
        base = {"host": "localhost", "port": self.port}
        if self.cert_file:
            base["cert_file"] = self.cert_file
        else:
            base["disable_tls"] = True
        base.update(kwargs)
        return base

    def connect(self, **kwargs):
        client = connect(**self.options(**kwargs))
        self.clients.append(client)
        return client

    def start_service(self, service: Service, wait: bool = True, **kwargs):
        def run():
            try:
                service.start(**self.options(**kwargs))
            except BaseException as exc:  # surfaced by the test that expects it
                self.errors.append(exc)

        thread = threading.Thread(target=run, daemon=True, name=f"service-{service.name}")
        thread.start()
        self.threads.append(thread)
        if wait:
            self.wait_for_service(service.name)
        return thread

    def wait_for_service(self, name, timeout=10.0):
        deadline = time.monotonic() + timeout
        while name not in self.manager.services:
            if self.errors:
                raise self.errors[-1]
            assert time.monotonic() < deadline, f"{name} never registered"
            time.sleep(0.02)

    def close(self):
        for client in self.clients:
            client.disconnect()

        portal.call(self.manager.aclose)
        for thread in self.threads:
            thread.join(10)
            assert not thread.is_alive(), f"{thread.name} did not stop when the Manager closed"


@pytest.fixture
def start_manager(network_home):
    """``start_manager(**options)`` -> ManagerHandle; every one is closed after the test."""
    handles: list[ManagerHandle] = []

    def start(**options):
        options.setdefault("port", 0)
        manager = portal.call(lambda: create_manager(**options))
        handle = ManagerHandle(manager)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.close()


@pytest.fixture
def manager(start_manager):
    return start_manager()
