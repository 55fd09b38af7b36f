"""What runs is visible under logging.getLogger("tether"): connects, closes, each command, transfers; never a password."""

import logging
import re

import pytest

from tether import NativeSshMachine, SshMachine, local
from tether.testing import start_embedded_server

pytestmark = pytest.mark.sshd


def messages(caplog, name):
    return [r.getMessage() for r in caplog.records if r.name == name]


def test_machines_log_connect_each_command_and_close_without_the_password(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="tether")
    secret = "s3cret-Pa55word"
    with start_embedded_server(tmp_path / "srv", password=secret) as s:
        rem = NativeSshMachine(s.host, user=s.user, port=s.port, password=secret, known_hosts=s.known_hosts)
        rem["echo"]("hi there")
        rem["sh"]["-c", "exit 3"].run(retcode=None)
        (tmp_path / "up.txt").write_text("x" * 1000)
        rem.upload(tmp_path / "up.txt", str(tmp_path / "there.txt"))
        rem.close()
    machines = messages(caplog, "tether.machines")
    host = s.host
    assert f"[{host}] connecting (AsyncNativeSshMachine)" in machines
    assert any(m.startswith(f"[{host}] connected in ") for m in machines)
    assert any(re.match(rf"\[{host}\] /\S*/echo 'hi there' -> exit 0 in ", m) for m in machines), machines
    assert any(re.match(rf"\[{host}\] /\S*/sh -c 'exit 3' -> exit 3 in ", m) for m in machines), machines
    assert machines[-1] == f"[{host}] closed"
    transfers = messages(caplog, "tether.transfer")
    assert any("up.txt -> " in m and "there.txt on " in m and ": 1000 bytes in" in m for m in transfers), transfers
    assert secret not in caplog.text


def test_local_and_ssh_commands_log_the_same_way(sshd_server, caplog):
    caplog.set_level(logging.DEBUG, logger="tether.machines")
    s = sshd_server
    local["true"]()
    with SshMachine(s.host, user=s.user, port=s.port, keyfile=s.client_key, known_hosts=s.known_hosts) as rem:
        (rem["echo"]["a"] | rem["cat"])()
    machines = messages(caplog, "tether.machines")
    assert any(m.startswith("[local] ") and " -> exit 0 in " in m for m in machines), machines
    assert any(m.startswith(f"[{s.host}] ") and "echo a | " in m and " -> exit 0 in " in m for m in machines), machines
