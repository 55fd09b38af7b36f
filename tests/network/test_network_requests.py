"""Clients call services through a real Manager over TLS: results, errors, timeouts, concurrency."""

from __future__ import annotations

import threading
import time

import pytest

from tether.exceptions import ClosedError, RemoteError, RequestTimedOut
from tether.network import LinkedClient, Service


class Calc(Service):
    unit = "m"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.release = threading.Event()

    def add_numbers(self, a, b, c, d):
        return a + b + c + d

    def power(self, a, n=2):
        return a**n

    def divide(self, a, b):
        return a / b

    def wait(self, timeout):
        """A service keyword that happens to be called ``timeout``."""
        return f"waited {timeout}"

    def block(self):
        self.release.wait(10)
        return "released"

    def opaque(self):
        return object()

    def secret(self):
        return "hidden"

    def _private(self):
        return "private"

    def shout(self, text):
        self.emit_notification(text.upper(), source="shout")
        return True


def test_link_calls_methods_and_reads_attributes_with_signatures_advertised(manager):
    manager.start_service(Calc(ignore_attributes=["secret"]))
    client = manager.connect()
    calc = client.link("Calc")
    assert calc.add_numbers(1, 2, 3, 4) == 10
    assert calc.power(4) == 16 and calc.power(5, n=3) == 125
    assert calc.unit() == "m"  # msl-network's rule: an attribute is read by a request too
    assert calc.service_attributes["power"] == "(a, n=2)"
    assert "secret" not in calc.service_attributes and "_private" not in calc.service_attributes
    assert "start" not in calc.service_attributes  # the Service API is not the service's


def test_private_and_ignored_names_are_refused_not_just_hidden(manager):
    manager.start_service(Calc(ignore_attributes="secret"))
    calc = manager.connect().link("Calc")
    with pytest.raises(RemoteError) as info:
        calc.secret()
    assert info.value.type_name == "PermissionError"
    with pytest.raises(RemoteError, match="PermissionError"):
        calc.request("_private")
    with pytest.raises(RemoteError, match="AttributeError"):
        calc.no_such_method()


def test_remote_exception_keeps_type_name_and_traceback(manager):
    manager.start_service(Calc())
    calc = manager.connect().link("Calc")
    with pytest.raises(RemoteError) as info:
        calc.divide(1, 0)
    error = info.value
    assert isinstance(error, RuntimeError)
    assert error.type_name == "ZeroDivisionError" and error.source == "Calc"
    assert any("in divide" in line for line in error.remote_traceback)
    assert "division by zero" in str(error)


def test_timeout_is_per_request_and_a_service_kwarg_named_timeout_still_arrives(manager):
    service = Calc()
    manager.start_service(service)
    calc = manager.connect().link("Calc")
    with pytest.raises(RequestTimedOut) as info:
        calc.block(timeout=0.2)
    assert isinstance(info.value, TimeoutError) and info.value.request == "Calc.block"
    service.release.set()
    assert calc.request("wait", kwargs={"timeout": 7}) == "waited 7"
    assert calc.power(3, timeout=5) == 9  # the connection is still good


def test_asynchronous_requests_run_concurrently_in_the_service(manager):
    service = Calc()
    manager.start_service(service)
    calc = manager.connect().link("Calc")
    blocked = calc.block(asynchronous=True)
    # a blocked request does not hold up the others
    futures = [calc.power(i, asynchronous=True) for i in range(200)]
    assert [f.result(10) for f in futures] == [i**2 for i in range(200)]
    assert not blocked.done()
    service.release.set()
    assert blocked.result(10) == "released"


def test_notifications_reach_a_linked_client_handler(manager):
    manager.start_service(Calc())
    received = []
    got = threading.Event()

    class Watcher(LinkedClient):
        def notification_handler(self, *args, **kwargs):
            received.append((args, kwargs))
            got.set()

    watcher = Watcher("Calc", **manager.options())
    try:
        other = manager.connect(name="Other").link("Calc")
        assert other.shout("hi") is True
        assert got.wait(10)
        assert received == [(("HI",), {"source": "shout"})]
    finally:
        watcher.disconnect()


def test_a_request_in_flight_when_the_service_dies_fails_instead_of_hanging(manager):
    service = Calc()
    manager.start_service(service)
    calc = manager.connect().link("Calc")
    future = calc.block(asynchronous=True)
    time.sleep(0.1)
    service._conn.close()  # the service's connection drops
    with pytest.raises(RemoteError, match="disconnected before answering"):
        future.result(10)
    service.release.set()


def test_shutdown_service_finishes_and_the_service_leaves(manager):
    class Stoppable(Calc):
        def shutdown_service(self, reason=""):
            return f"stopping: {reason}"

    thread = manager.start_service(Stoppable(name="Stoppable"))
    client = manager.connect()
    link = client.link("Stoppable")
    assert link.shutdown_service(reason="done") == "stopping: done"
    thread.join(10)
    assert not thread.is_alive()
    assert "Stoppable" not in client.identities()["services"]
    with pytest.raises(ClosedError):
        link.power(2)


def test_identities_as_string_lists_clients_and_services(manager):
    manager.start_service(Calc())
    client = manager.connect(name="Reader")
    text = client.identities(as_string=True)
    assert "Services [1]:" in text and "power(a, n=2)" in text and "Reader[" in text


def test_disconnected_client_says_so(manager):
    manager.start_service(Calc())
    client = manager.connect()
    link = client.link("Calc")
    client.disconnect()
    assert not client.is_connected()
    with pytest.raises(ClosedError):
        client.identities()
    with pytest.raises(ClosedError):
        link.power(2)


def test_a_result_json_cannot_carry_is_an_error_not_a_hang(manager):
    manager.start_service(Calc())
    calc = manager.connect().link("Calc")
    with pytest.raises(RemoteError) as info:
        calc.opaque(timeout=10)
    assert info.value.type_name == "TypeError" and "not JSON-serializable" in str(info.value)


def test_add_tasks_run_while_connected_and_shutdown_handler_runs_after(start_manager):
    import asyncio

    handle = start_manager()
    ticked = threading.Event()
    cleaned = threading.Event()

    class Ticker(Service):
        def __init__(self):
            super().__init__()
            self.add_tasks(self.tick())

        async def tick(self):
            while True:
                self.emit_notification("tick")
                ticked.set()
                await asyncio.sleep(0.05)

        def shutdown_handler(self):
            cleaned.set()

    thread = handle.start_service(Ticker())
    assert ticked.wait(10)
    got = threading.Event()
    link = handle.connect().link("Ticker")
    link.notification_handler = lambda *args: got.set() if args == ("tick",) else None
    assert got.wait(10)
    spawned = handle.clients[0].spawn("Second")
    handle.clients.append(spawned)
    assert "Second" in str(spawned.identities()["clients"])
    handle.close()
    thread.join(10)
    assert cleaned.is_set()
