"""``tether network ...``: the tables, keys and certificates, and a Manager run from the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tether.cli import main
from tether.exceptions import RemoteError
from tether.network import certs, connect
from tether.network.users import Database
from tether.testing.server import free_port


def run(*args, input=None):
    result = CliRunner().invoke(main, ["network", *args], input=input, catch_exceptions=False)
    return result


def test_user_and_hostname_tables(network_home, tmp_path):
    db_path = str(tmp_path / "m.sqlite3")
    result = run("user", "add", "ada", "--admin", "--database", db_path, input="pw one\npw one\n")
    assert result.exit_code == 0, result.output
    assert "pw one" not in result.output
    secret = tmp_path / "secret"
    secret.write_text("bob's pw\n")
    assert run("user", "add", "bob", "--password-file", str(secret), "--database", db_path).exit_code == 0
    assert run("user", "add", "bob", "--password-file", str(secret), "--database", db_path).exit_code == 1
    listed = run("user", "list", "--database", db_path).output.splitlines()
    assert listed == ["ada  (admin)", "bob"]
    assert run("user", "update", "bob", "--admin", "--database", db_path).exit_code == 0
    db = Database(db_path)
    assert db.verify("ada", "pw one") and db.verify("bob", "bob's pw") and db.is_admin("bob")
    db.close()
    assert run("user", "remove", "ada", "--database", db_path).exit_code == 0
    missing = run("user", "remove", "ada", "--database", db_path)
    assert missing.exit_code == 1 and "no user named 'ada'" in missing.output
    assert run("hostname", "add", "pi", "lab-pc", "--database", db_path).exit_code == 0
    assert run("hostname", "list", "--database", db_path).output.split() == ["lab-pc", "pi"]
    assert run("hostname", "remove", "pi", "--database", db_path).exit_code == 0
    assert run("hostname", "list", "--database", db_path).output.split() == ["lab-pc"]


def test_keygen_certgen_certdump_and_delete(network_home, tmp_path):
    assert run("keygen").exit_code == 0
    key = certs.default_key_path()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    out = tmp_path / "pi.crt"
    result = run("certgen", str(out), "--name", "raspberrypi", "--name", "192.168.1.65")
    assert result.exit_code == 0, result.output
    dump = run("certdump", str(out)).output
    assert "raspberrypi" in dump and "192.168.1.65" in dump
    assert certs.fingerprint(certs.load_certificate(out)) in dump
    assert run("delete").exit_code == 2  # says what it needs
    assert run("delete", "--keys", "--yes").exit_code == 0
    assert not key.exists()


def test_start_runs_a_manager_that_an_admin_shuts_down(network_home, tmp_path):
    db_path = tmp_path / "m.sqlite3"
    db = Database(db_path)
    db.add_user("root", "rootpw", is_admin=True)
    db.close()
    port = free_port()
    env = {**os.environ, "TETHER_NETWORK_HOME": str(network_home)}
    proc = subprocess.Popen([sys.executable, "-m", "tether.cli", "network", "start", "--port", str(port),
                             "--auth-login", "--database", str(db_path), "--log-level", "WARNING"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "Network Manager running on" in line, line + proc.stderr.read()
        cert_file = line.split(" certificate ", 1)[1].strip()
        with pytest.raises(Exception, match="refused"):
            connect(port=port, cert_file=cert_file, username="root", password="wrong")
        cxn = connect(port=port, cert_file=cert_file, username="root", password="rootpw")
        assert cxn.admin_request("users_table.usernames") == ["root"]
        with pytest.raises(RemoteError):
            cxn.admin_request("users_table.insert", "eve")  # a bad request is an error, not a crash
        cxn.admin_request("shutdown_manager")
        assert proc.wait(15) == 0
        cxn.disconnect()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_start_refuses_login_mode_with_no_users(network_home, tmp_path):
    result = CliRunner().invoke(main, ["network", "start", "--port", str(free_port()), "--auth-login",
                                       "--database", str(tmp_path / "empty.sqlite3")])
    assert result.exit_code == 1 and "users table" in result.output and "tether network user add" in result.output
