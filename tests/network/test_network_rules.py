"""The Manager enforces its rules on every request: links, locks, max_clients, auth, admin, TLS, limits."""

from __future__ import annotations

import socket
import ssl
import time

import pytest

from tether.exceptions import AuthenticationError, CertificateError, ConnectError, RemoteError
from tether.network import Service, certs
from tether.network.users import Database


class Echo(Service):
    def echo(self, value):
        return value


def test_requests_from_a_client_that_is_not_linked_are_refused(manager):
    manager.start_service(Echo())
    client = manager.connect()
    with pytest.raises(RemoteError) as info:
        client._send("Echo", "echo", [1], {})  # straight to the service, no link
    assert info.value.type_name == "PermissionError" and "not linked" in str(info.value)
    assert client.link("Echo").echo(1) == 1


def test_max_clients_is_enforced_and_a_freed_slot_can_be_reused(manager):
    manager.start_service(Echo(max_clients=1))
    first = manager.connect(name="First").link("Echo")
    second = manager.connect(name="Second")
    with pytest.raises(RemoteError, match="maximum number of Clients"):
        second.link("Echo")
    first.unlink()
    assert second.link("Echo").echo("mine") == "mine"


def test_locks_exclusive_needs_a_sole_link_and_any_lock_stops_new_links(manager):
    manager.start_service(Echo())
    a_client = manager.connect(name="A")
    a = a_client.link("Echo")
    b_client = manager.connect(name="B")
    b = b_client.link("Echo")
    with pytest.raises(RemoteError, match="exclusive lock"):
        a.acquire_lock()
    assert len(a.acquire_lock(shared=True)) == 2
    assert b.echo("still linked") == "still linked"  # a shared lock lets linked clients carry on
    with pytest.raises(RemoteError, match="locked"):
        manager.connect(name="C").link("Echo")
    assert a.release_lock() == []
    b.unlink()
    a.acquire_lock()  # exclusive, now that A is the only link
    with pytest.raises(RemoteError, match="locked"):
        b_client.link("Echo")
    # a client that disconnects gives its lock back
    a_client.disconnect()
    assert b_client.link("Echo").echo(2) == 2


def test_password_mode_accepts_the_password_and_refuses_others(start_manager):
    handle = start_manager(auth_password="s3cret pass")
    handle.start_service(Echo(), password_manager="s3cret pass")
    assert handle.connect(password_manager="s3cret pass").link("Echo").echo(1) == 1
    with pytest.raises(AuthenticationError, match="password"):
        handle.connect(password_manager="wrong")
    with pytest.raises(AuthenticationError, match="password_manager="):
        handle.connect()  # asked, but nothing given: a clear error, no prompt


def test_login_mode_checks_users_and_admin_requests_need_an_admin(start_manager, network_home):
    db = Database(network_home / "users.sqlite3")
    db.add_user("admin", "adminpw", is_admin=True)
    db.add_user("alice", "alicepw")
    db.close()
    handle = start_manager(auth_login=True, database=str(network_home / "users.sqlite3"))
    with pytest.raises(AuthenticationError):
        handle.connect(username="alice", password="nope")
    with pytest.raises(AuthenticationError):
        handle.connect(username="mallory", password="x")
    alice = handle.connect(username="alice", password="alicepw")
    with pytest.raises(RemoteError, match="administrator"):
        alice.admin_request("users_table.usernames")
    admin = handle.connect(username="admin", password="adminpw")
    assert admin.admin_request("users_table.usernames") == ["admin", "alice"]
    assert admin.admin_request("users_table.users") == [["admin", True], ["alice", False]]
    with pytest.raises(RemoteError, match="no admin request"):
        admin.admin_request("database.close")  # only the listed requests exist
    audit = [row[4] for row in admin.admin_request("connections_table.connections")]
    assert "rejected: wrong login" in audit and "connected as a client" in audit
    assert admin.admin_request("shutdown_manager") is None
    deadline = time.monotonic() + 10
    while alice.is_connected():
        assert time.monotonic() < deadline, "shutdown_manager did not disconnect the clients"
        time.sleep(0.02)


def test_admin_request_without_login_uses_the_credentials_given_to_connect(manager, network_home):
    manager.manager.database.add_user("root", "rootpw", is_admin=True)
    anonymous = manager.connect()
    with pytest.raises(RemoteError, match="administrator"):
        anonymous.admin_request("users_table.usernames")
    admin = manager.connect(username="root", password="rootpw")
    assert admin.admin_request("users_table.usernames") == ["root"]


def test_failed_logins_are_slowed_per_source(start_manager, network_home):
    db = Database(network_home / "db.sqlite3")
    db.add_user("bob", "bobpw")
    db.close()
    handle = start_manager(auth_login=True, database=str(network_home / "db.sqlite3"))
    throttle = handle.manager.auth.throttle
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            handle.connect(username="bob", password="guess")
    assert throttle.delay("127.0.0.1") > 0 or throttle.delay("::1") > 0
    handle.connect(username="bob", password="bobpw")  # the right password still works, and resets


def test_trusted_hostnames_mode(start_manager, network_home):
    handle = start_manager(auth_hostname=True)
    with pytest.raises(AuthenticationError, match="trusted"):
        handle.connect()
    handle.manager.database.add_hostname("localhost")
    assert handle.connect().is_connected()


def test_tls_verifies_the_manager_by_ca_file_or_pinned_fingerprint(manager, network_home, tmp_path):
    with pytest.raises(CertificateError, match=r"cert_file=|fingerprint="):
        manager.connect(cert_file=None)  # self-signed and not trusted: refused, no prompt
    pin = certs.fingerprint(certs.load_certificate(manager.cert_file))
    assert manager.connect(cert_file=None, fingerprint=pin).is_connected()
    wrong = ":".join(["AB"] * 32)
    with pytest.raises(CertificateError, match="does not match"):
        manager.connect(cert_file=None, fingerprint=wrong)
    other_key = certs.generate_key(tmp_path / "other.key")
    other_cert = certs.generate_certificate(tmp_path / "other.crt", other_key)
    with pytest.raises(CertificateError):
        manager.connect(cert_file=str(other_cert))
    with pytest.raises(ConnectError):
        manager.connect(cert_file=None, disable_tls=True, timeout=1)


def test_tls_is_at_least_1_2_on_the_wire(manager):
    with _raw_tls(manager.port) as sock:
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
    assert manager.manager.ssl_context.minimum_version >= ssl.TLSVersion.TLSv1_2


def _raw_tls(port):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = socket.create_connection(("localhost", port), timeout=10)
    return context.wrap_socket(sock, server_hostname="localhost")


def _read_until_closed(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_an_unidentified_peer_cannot_send_a_huge_line(manager):
    with _raw_tls(manager.port) as sock:
        assert b'"attribute":"identity"' in sock.recv(4096)
        try:
            sock.sendall(b"x" * (200 * 1024))
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            pass
        assert _read_until_closed(sock) == b""
    rows = manager.manager.database.connections()
    assert any("exceeds the limit" in row[4] or "longer than the limit" in row[4] for row in rows)


def test_a_silent_peer_is_dropped_after_the_handshake_timeout(manager):
    manager.manager.handshake_timeout = 0.3
    with _raw_tls(manager.port) as sock:
        sock.settimeout(10)
        _read_until_closed(sock)  # returns only because the Manager hung up
    assert any(row[4] == "rejected: handshake timed out" for row in manager.manager.database.connections())


def test_a_second_manager_on_the_same_port_says_address_in_use(start_manager, manager):
    with pytest.raises(OSError) as info:
        start_manager(port=manager.port)
    assert info.value.errno == 98 or "in use" in str(info.value)


def test_a_second_service_with_a_taken_name_is_refused_with_the_reason(manager):
    manager.start_service(Echo())
    with pytest.raises(ConnectError, match="already running"):
        Echo().start(**manager.options(timeout=10))


def test_bad_input_is_named_and_leaves_nothing_pending(manager):
    from tether.testing.server import free_port

    with pytest.raises(ConnectError, match=r"cannot connect to the Manager at localhost:\d+"):
        manager.connect(port=free_port(), timeout=5)
    manager.start_service(Echo())
    client = manager.connect()
    with pytest.raises(RemoteError, match="'Nope' service does not exist") as info:
        client.link("Nope")
    assert info.value.type_name == "KeyError"
    echo = client.link("Echo")
    with pytest.raises(TypeError, match="not JSON serializable"):
        echo.echo(object())
    assert client._pending == {}  # nothing was sent, nothing waits
    assert echo.echo([1, "two", None]) == [1, "two", None]
