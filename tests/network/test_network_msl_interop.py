"""Wire compatibility with msl-network 1.0, both ways, with its real code.

- msl-network's Client and Service talk through tether's Manager;
- tether's Client and Service talk through msl-network's Manager, started as a
  subprocess (``msl-network start``) on a free port and stopped by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tether.exceptions import RemoteError
from tether.network import Service, connect
from tether.testing.server import free_port

msl_network = pytest.importorskip("msl.network", reason="msl-network (the test extra) is not installed")


class CalcMethods:
    """The same service on either library (both have emit_notification_threadsafe)."""

    def add_numbers(self, a, b, c, d):
        return a + b + c + d

    def power(self, a, n=2):
        return a**n

    def shout(self, text):
        self.emit_notification_threadsafe(text.upper())
        return True

    def divide(self, a, b):
        return a / b


class MslCalc(CalcMethods, msl_network.Service):
    pass


class TetherCalc(CalcMethods, Service):
    pass


def _start_msl_service(service, **kwargs):
    thread = threading.Thread(target=service.start, kwargs=kwargs, daemon=True, name="msl-service")
    thread.start()
    return thread


def test_msl_client_and_service_work_through_a_tether_manager(manager):
    thread = _start_msl_service(MslCalc(), host="localhost", port=manager.port, cert_file=manager.cert_file)
    manager.wait_for_service("MslCalc")
    client = msl_network.connect(host="localhost", port=manager.port, cert_file=manager.cert_file)
    try:
        calc = client.link("MslCalc")
        assert calc.add_numbers(1, 2, 3, 4) == 10
        assert calc.power(5, n=3) == 125
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            calc.divide(1, 0)
        got = threading.Event()
        calc.notification_handler = lambda *args, **kwargs: got.set() if args == ("HI",) else None
        assert calc.shout("hi") is True
        assert got.wait(10)
        # tether's client and msl's service, same Manager
        ours = manager.connect().link("MslCalc")
        assert ours.power(4) == 16
        identity = client.identities()
        assert "MslCalc" in identity["services"] and len(identity["clients"]) == 2
    finally:
        client.disconnect()
    manager.close()  # the msl service sees EOF and returns
    thread.join(10)
    assert not thread.is_alive()


def test_a_tether_service_serves_an_msl_client(manager):
    manager.start_service(TetherCalc())
    client = msl_network.connect(host="localhost", port=manager.port, cert_file=manager.cert_file)
    try:
        calc = client.link("TetherCalc")
        assert calc.add_numbers(1, 2, 3, 4) == 10
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            calc.divide(1, 0)
    finally:
        client.disconnect()


@pytest.fixture(scope="module")
def msl_manager(tmp_path_factory):
    """msl-network's own Manager in a subprocess (TLS on, its own home), stopped by PID."""
    home = tmp_path_factory.mktemp("msl-home")
    port = free_port()
    env = {**os.environ, "MSL_NETWORK_HOME": str(home)}
    script = "import sys; from msl.network.cli import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", script, "start", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Network Manager running on" in line:
                break
            if not line and proc.poll() is not None:
                break
        else:
            pytest.fail("msl-network's Manager did not start:\n" + "".join(lines))
        assert proc.poll() is None, "msl-network's Manager exited:\n" + "".join(lines)
        # drain its log so it never blocks on a full pipe
        stdout = proc.stdout
        threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
        certs = list((home / "certs").glob("*.crt"))
        assert certs, "msl-network's Manager made no certificate"
        yield {"port": port, "cert_file": str(certs[0])}
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_tether_client_and_service_work_through_an_msl_manager(msl_manager):
    # msl-network's certificate names the host but not "localhost": trust the file, skip the name
    options = dict(host="localhost", port=msl_manager["port"], cert_file=msl_manager["cert_file"],
                   assert_hostname=False)
    service = TetherCalc(name="TetherCalcViaMsl")
    thread = threading.Thread(target=service.start, kwargs=options, daemon=True)
    thread.start()
    client = connect(**options)
    try:
        deadline = time.monotonic() + 10
        while "TetherCalcViaMsl" not in client.identities()["services"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        calc = client.link("TetherCalcViaMsl")
        assert calc.add_numbers(1, 2, 3, 4) == 10 and calc.power(5, n=3) == 125
        with pytest.raises(RemoteError) as info:
            calc.divide(1, 0)
        assert info.value.type_name == "ZeroDivisionError"
        got = threading.Event()
        calc.notification_handler = lambda *args, **kwargs: got.set() if args == ("HI",) else None
        assert calc.shout("hi") is True
        assert got.wait(10)
        futures = [calc.power(i, asynchronous=True) for i in range(100)]
        assert [f.result(10) for f in futures] == [i**2 for i in range(100)]
    finally:
        if service._conn is not None:
            service._conn.close()
        client.disconnect()
    thread.join(10)
    assert not thread.is_alive()


def test_msl_service_serves_a_tether_client_through_an_msl_manager(msl_manager):
    options = dict(host="localhost", port=msl_manager["port"], cert_file=msl_manager["cert_file"],
                   assert_hostname=False)
    _start_msl_service(MslCalc(name="MslCalcViaMsl"), **options)
    client = connect(**options)
    try:
        deadline = time.monotonic() + 10
        while "MslCalcViaMsl" not in client.identities()["services"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        calc = client.link("MslCalcViaMsl")
        assert calc.power(4) == 16
        with pytest.raises(RemoteError, match="ZeroDivisionError"):
            calc.divide(1, 0)
    finally:
        client.disconnect()
