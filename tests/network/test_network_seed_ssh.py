"""Seed 004's example, run as written against the fixture's real sshd as the "Raspberry Pi".

``mypackage`` is written out exactly as the seed shows it (with ``tether.network``
in place of ``msl.network``); only the values the seed says to change are
changed: the console script path, the SSH user, and the SSH connection
details of the test server (``ssh_port``/``ssh_keyfile``/``ssh_known_hosts``,
which ``start_manager`` keeps for itself). The Manager uses a free port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from tether.exceptions import ProcessExecutionError
from tether.network import ssh
from tether.network.users import Database
from tether.testing.server import free_port

pytestmark = pytest.mark.sshd

INIT = '''
from tether.network import run_services, ssh, LinkedClient

from .rpi_service import RPiService
from .my_client import MyClient

def connect(*, host='raspberrypi', rpi_password=None, timeout=10, **kwargs):
    console_script_path = {script!r}
    ssh.start_manager(host, console_script_path, ssh_username={user!r},
                      ssh_password=rpi_password, timeout=timeout, **kwargs)

    kwargs['host'] = host
    return MyClient('RPiService', **kwargs)

def start_service_on_rpi():
    kwargs = ssh.parse_console_script_kwargs()
    if kwargs.get('auth_login', False) and ('username' not in kwargs or 'password' not in kwargs):
        raise ValueError(
            'The Manager is using a login for authentication but RPiService '
            'does not know the username and password to use to connect to the Manager'
        )
    run_services(RPiService(), **kwargs)
'''

RPI_SERVICE = '''
from tether.network import Service

class RPiService(Service):

    def __init__(self):
        super(RPiService, self).__init__()

    def shutdown_service(self, *args, **kwargs):
        pass

    def add_numbers(self, a, b, c, d):
        return a + b + c + d

    def power(self, a, n=2):
        return a ** n
'''

MY_CLIENT = '''
from tether.network import LinkedClient

class MyClient(LinkedClient):

    def __init__(self, service_name, **kwargs):
        super(MyClient, self).__init__(service_name, **kwargs)

    def disconnect(self):
        self.shutdown_service()
        super(MyClient, self).disconnect()

    def service_error_handler(self):
        self.disconnect()
'''


@pytest.fixture
def mypackage(tmp_path, sshd_server, network_home, monkeypatch):
    root = tmp_path / "mypackage"
    package = root / "mypackage"
    package.mkdir(parents=True)
    script = root / "bin" / "mypackage"
    script.parent.mkdir()
    # the console script pip would write: this Python, then mypackage:start_service_on_rpi
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(root)!r})\n"
                      "from mypackage import start_service_on_rpi\nsys.exit(start_service_on_rpi())\n")
    script.chmod(0o755)
    (package / "__init__.py").write_text(INIT.format(script=str(script), user=sshd_server.user))
    (package / "rpi_service.py").write_text(RPI_SERVICE)
    (package / "my_client.py").write_text(MY_CLIENT)
    monkeypatch.syspath_prepend(str(root))
    for name in [m for m in sys.modules if m == "mypackage" or m.startswith("mypackage.")]:
        del sys.modules[name]
    import mypackage

    mypackage.SCRIPT = str(script)
    yield mypackage
    # whatever a failed test left running on the "Pi": stopped by PID
    for pid in subprocess.run(["pgrep", "-f", str(script)], capture_output=True, text=True).stdout.split():
        os.kill(int(pid), signal.SIGKILL)


def _ssh(sshd_server):
    return dict(ssh_port=sshd_server.port, ssh_keyfile=str(sshd_server.client_key),
                ssh_known_hosts=str(sshd_server.known_hosts))


def _wait_port_closed(port, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_the_seed_example_runs_as_written(mypackage, sshd_server):
    from mypackage import connect

    port = free_port()
    rpi = connect(host=sshd_server.host, assert_hostname=False, port=port, **_ssh(sshd_server))
    assert rpi.add_numbers(1, 2, 3, 4) == 10
    assert rpi.power(4) == 16
    assert rpi.power(5, n=3) == 125
    rpi.disconnect()
    # the service, and with it the Manager on the "Pi", shut down
    assert _wait_port_closed(port), "the Manager is still listening after disconnect()"


def test_tip_address_in_use_then_admin_shutdown_then_kill(mypackage, sshd_server, network_home, tmp_path):
    from mypackage import connect

    port = free_port()
    database = tmp_path / "manager.sqlite3"
    db = Database(database)
    db.add_user("pi-admin", "raspberry", is_admin=True)
    db.close()
    rpi = connect(host=sshd_server.host, assert_hostname=False, port=port, database=str(database),
                  **_ssh(sshd_server))
    assert rpi.power(3) == 9
    # a second Manager on the same port: a clear error (not a silent return)
    with pytest.raises(ProcessExecutionError, match=r"(?i)address already in use"):
        connect(host=sshd_server.host, assert_hostname=False, port=port, **_ssh(sshd_server))
    # (2) an administrator shuts the Manager down
    from tether.network import connect as network_connect

    cxn = network_connect(host=sshd_server.host, assert_hostname=False, port=port,
                          username="pi-admin", password="raspberry")
    cxn.admin_request("shutdown_manager")
    assert _wait_port_closed(port)
    cxn.disconnect()

    # (3) find and kill the process with exec_command
    port = free_port()
    rpi = connect(host=sshd_server.host, assert_hostname=False, port=port, **_ssh(sshd_server))
    ssh_client = ssh.connect(f"{sshd_server.user}@{sshd_server.host}", port=sshd_server.port,
                             keyfile=str(sshd_server.client_key), known_hosts=str(sshd_server.known_hosts))
    try:
        out = ssh.exec_command(ssh_client, "ps aux | grep mypackage")
        pids = [line.split()[1] for line in out if mypackage.SCRIPT in line and "grep" not in line]
        assert len(pids) == 1, out
        assert ssh.exec_command(ssh_client, f"kill -9 {pids[0]}") == []
        assert _wait_port_closed(port)
        with pytest.raises(ProcessExecutionError) as info:
            ssh.exec_command(ssh_client, "echo oops >&2; exit 3")
        assert info.value.retcode == 3 and "oops" in str(info.value)
    finally:
        ssh_client.close()


def test_start_manager_as_sudo_watches_the_script_as_root_too(mypackage, sshd_server):
    """``as_sudo``: the script, and the looks at its log and pid, all go through ``sudo -n``."""
    if not shutil.which("sudo"):
        pytest.skip("sudo is not installed (make system-deps installs it)")
    from mypackage.my_client import MyClient

    port = free_port()
    # no TLS: a Manager run by root would write its key under root's own home
    ssh.start_manager(sshd_server.host, mypackage.SCRIPT, ssh_username=sshd_server.user, as_sudo=True,
                      port=port, disable_tls=True, **_ssh(sshd_server))
    rpi = MyClient("RPiService", host=sshd_server.host, port=port, disable_tls=True)
    assert rpi.add_numbers(1, 2, 3, 4) == 10
    rpi.disconnect()
    assert _wait_port_closed(port), "the Manager is still listening after disconnect()"


def test_start_manager_times_out_and_kills_a_script_that_never_starts_one(sshd_server, tmp_path, network_home):
    script = tmp_path / "sleeper"
    pid_file = tmp_path / "sleeper.pid"
    script.write_text(f"#!/bin/sh\necho $$ > {pid_file}\necho starting\nexec sleep 60\n")
    script.chmod(0o755)
    from tether.exceptions import ProcessTimedOut

    with pytest.raises(ProcessTimedOut):
        ssh.start_manager(sshd_server.host, str(script), ssh_username=sshd_server.user, timeout=1,
                          **_ssh(sshd_server))
    rem = ssh.connect(sshd_server.host, sshd_server.user, port=sshd_server.port,
                      keyfile=str(sshd_server.client_key), known_hosts=str(sshd_server.known_hosts))
    try:
        deadline = time.monotonic() + 10
        pid = int(pid_file.read_text())
        while ssh.exec_command(rem, f"kill -0 {pid} 2>/dev/null && echo running || true"):
            assert time.monotonic() < deadline, "the script was left running"
            time.sleep(0.1)
    finally:
        rem.close()


def test_ssh_connect_refuses_an_unknown_host_key(sshd_server, tmp_path):
    from tether.exceptions import HostKeyError

    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError):
        rem = ssh.connect(sshd_server.host, sshd_server.user, port=sshd_server.port,
                          keyfile=str(sshd_server.client_key), known_hosts=str(empty))
        rem["true"]()


def test_parse_console_script_kwargs_reads_and_deletes_the_private_file(tmp_path):
    path = tmp_path / "kwargs"
    path.write_text('{"port": 1876, "password": "not on any command line"}')
    assert ssh.parse_console_script_kwargs(["--tether-network-kwargs", str(path)]) == {
        "port": 1876, "password": "not on any command line"}
    assert not path.exists()
    assert ssh.parse_console_script_kwargs([]) == {}
