"""Tunnels and connect_sock on the three remote machines, against the real sshd of the fixture.

The remote is this same host, so a server the test starts on loopback is
"on the remote" as much as "here": which side listens and which connects
is what each test checks.
"""

import asyncio
import os
import shutil
import socket
import socketserver
import threading
import time

import pytest

import tether.aio
from tether import NativeSshMachine, PuttyMachine, SshMachine, TunnelError
from tether.machines.tunnel import Tunnel

pytestmark = pytest.mark.sshd

MACHINES = {"ssh": SshMachine, "native": NativeSshMachine, "putty": PuttyMachine}
PAYLOAD = os.urandom(3 * 1024 * 1024 + 17)  # several windows and chunks, an odd length


def connect(server, kind, cls=None):
    if kind == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    cls = cls or MACHINES[kind]
    return cls(server.host, user=server.user, port=server.port, keyfile=server.client_key, known_hosts=server.known_hosts)


@pytest.fixture(scope="module", params=list(MACHINES))
def rem(request, sshd_server):
    with connect(sshd_server, request.param) as machine:
        yield machine


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _TcpEcho(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _UnixEcho(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture(scope="module")
def echo_port():
    server = _serve(_TcpEcho(("127.0.0.1", 0), _Echo))
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def echo_through(address, payload=PAYLOAD, family=socket.AF_INET):
    """Send ``payload``, half-close, and return everything that comes back."""
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(20)
        sock.connect(address)
        sender = threading.Thread(target=lambda: (sock.sendall(payload), sock.shutdown(socket.SHUT_WR)))
        sender.start()
        received = bytearray()
        while chunk := sock.recv(1 << 16):
            received += chunk
        sender.join()
    return bytes(received)


def hung_up(address):
    """True if a connection to ``address`` is accepted, then ended without a byte of answer."""
    with socket.create_connection(address, timeout=10) as sock:
        try:
            sock.sendall(b"anyone there?")
            return sock.recv(100) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True


def eventually_refused(address, family=socket.AF_INET, patience=10.0):
    """True once connecting to ``address`` is refused (a listener's end reaches the kernel a moment later)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(address)
            except (ConnectionRefusedError, FileNotFoundError):
                return True
        time.sleep(0.02)
    return False


def our_state():
    """Our child processes and open descriptors: what a tunnel must give back when closed."""
    children = sorted(
        int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _parent_of(pid) == os.getpid()
    )
    return children, sorted(os.listdir("/proc/self/fd"), key=int)


def _parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@pytest.fixture
def before(rem, echo_port):
    """Our state once what lives on has started (tether's SSH loop thread): a tunnel each way, used and closed."""
    with rem.tunnel(0, echo_port, dhost="127.0.0.1") as tun:
        echo_through(("127.0.0.1", tun.lport), b"warm")
    with rem.tunnel(echo_port, 0, lhost="127.0.0.1", reverse=True) as tun:
        echo_through(("127.0.0.1", tun.dport), b"warm")
    return settled(our_state())


def settled(expected, patience=10.0):
    deadline = time.monotonic() + patience
    while our_state() != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return our_state()


# -- the seed's Tunneling section -----------------------------------------------------------
def test_seed_tunneling_examples(rem, echo_port):
    # the seed's ports 6666 and 8888, made free ones: 8888 is the echo server
    lport = _free_port()
    tun = rem.tunnel(lport, echo_port)
    # ...
    assert echo_through(("localhost", lport), b"machine-B") == b"machine-B"
    tun.close()

    with rem.tunnel(lport, echo_port):
        pass
    assert eventually_refused(("127.0.0.1", lport))


def _carrot_server():
    """On the remote (here), the seed's "sophisticated server" (notice it's bound to localhost)."""
    s = socket.socket()
    s.bind(("localhost", 0))  # the seed's 12345, made a free port
    s.listen(1)

    def serve():
        with s:
            s2, _ = s.accept()
            while True:
                data = s2.recv(1000)
                if not data:
                    break
                s2.send(b"I eat " + data)
            s2.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    return s.getsockname()[1], server


def test_seed_connect_sock_i_eat_carrot(rem):
    port, server = _carrot_server()
    s = rem.connect_sock(port)
    assert s.send("carrot") == 6
    assert s.recv(1000) == b"I eat carrot"
    assert s.send("babies") == 6
    assert s.recv(1000) == b"I eat babies"
    s.close()
    server.join(10)
    assert not server.is_alive()  # the server saw the connection end


# -- forwards ---------------------------------------------------------------------------------
def test_local_forward_carries_data_both_ways_and_lport_0_is_a_real_port(rem, echo_port):
    with rem.tunnel(0, echo_port, dhost="127.0.0.1") as tun:
        assert isinstance(tun.lport, int) and tun.lport > 0 and tun.dport == echo_port
        assert echo_through(("127.0.0.1", tun.lport)) == PAYLOAD
        # several at once, each its own connection
        results = [None] * 4
        threads = [
            threading.Thread(target=lambda i=i: results.__setitem__(i, echo_through(("127.0.0.1", tun.lport), bytes([i]) * 100_000)))
            for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [bytes([i]) * 100_000 for i in range(4)]


def test_reverse_forward_carries_data_both_ways_and_dport_0_is_a_real_port(rem, echo_port):
    with rem.tunnel(echo_port, 0, lhost="127.0.0.1", reverse=True) as tun:
        assert isinstance(tun.dport, int) and tun.dport > 0 and tun.lport == echo_port
        # the remote (this host's sshd) listens on dport and connects back to us
        assert echo_through(("127.0.0.1", tun.dport)) == PAYLOAD
        assert echo_through(("127.0.0.1", tun.dport), b"again") == b"again"
    assert eventually_refused(("127.0.0.1", tun.dport))


@pytest.mark.parametrize("reverse", [False, True], ids=["local", "reverse"])
def test_close_drops_active_connections_frees_the_port_and_leaks_nothing(rem, echo_port, reverse, before):
    if reverse:
        tun = rem.tunnel(echo_port, 0, lhost="127.0.0.1", reverse=True)
        address = ("127.0.0.1", tun.dport)
    else:
        tun = rem.tunnel(0, echo_port, dhost="127.0.0.1")
        address = ("127.0.0.1", tun.lport)
    client = socket.create_connection(address, timeout=10)
    client.sendall(b"ping")
    assert client.recv(10) == b"ping"
    tun.close()
    try:  # the active connection is dropped: EOF or reset, not silence
        assert client.recv(10) == b""
    except ConnectionResetError:
        pass
    client.close()
    assert eventually_refused(address)
    if not reverse:  # the port is free to listen on again at once (as servers do, with SO_REUSEADDR)
        with socket.socket() as again:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(address)
    assert settled(before) == before
    tun.close()  # a second close does nothing


@pytest.mark.parametrize("kind", list(MACHINES))
def test_machine_close_ends_its_tunnels(sshd_server, echo_port, kind):
    machine = connect(sshd_server, kind)
    tun = machine.tunnel(0, echo_port)
    assert echo_through(("127.0.0.1", tun.lport), b"x") == b"x"
    machine.close()
    assert tun.closed and eventually_refused(("127.0.0.1", tun.lport))


class _Tcp6Echo(_TcpEcho):
    address_family = socket.AF_INET6


def test_ipv6_addresses_at_both_ends(rem):
    try:
        server = _serve(_Tcp6Echo(("::1", 0), _Echo))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        port = server.server_address[1]
        with rem.tunnel(0, port, lhost="::1", dhost="::1") as tun:
            assert echo_through(("::1", tun.lport), b"six", socket.AF_INET6) == b"six"
            assert repr(tun).startswith(f"<Tunnel [::1]:{tun.lport} -> ")
        with rem.connect_sock(port, "::1") as s:
            s.sendall(b"v6")
            assert s.recv(10) == b"v6"
    finally:
        server.shutdown()
        server.server_close()


# -- unix sockets -------------------------------------------------------------------------------
@pytest.fixture
def unix_echo(tmp_path):
    path = str(tmp_path / "echo.sock")
    server = _serve(_UnixEcho(path, _Echo))
    yield path
    server.shutdown()
    server.server_close()


def test_unix_sockets_at_either_end(rem, unix_echo, echo_port, tmp_path, sshd_server):
    if sshd_server.kind == "embedded":
        pytest.skip("the embedded test server forwards TCP only (OpenSSH's sshd forwards unix sockets)")
    listen_here = str(tmp_path / "here.sock")
    listen_there = str(tmp_path / "there.sock")
    if isinstance(rem, PuttyMachine):
        with pytest.raises(TunnelError, match="unix socket"):
            rem.tunnel(0, unix_echo)
        with pytest.raises(TunnelError, match="unix socket"):
            rem.tunnel(echo_port, listen_there, reverse=True)
        # this side is ours: a local unix listener works with plink too
        with rem.tunnel(listen_here, echo_port) as tun:
            assert tun.lport == listen_here
            assert os.stat(listen_here).st_mode & 0o777 == 0o600  # ours alone, as with ssh
            assert echo_through(listen_here, b"unix", socket.AF_UNIX) == b"unix"
        assert not os.path.exists(listen_here)
        return
    with rem.tunnel(listen_here, unix_echo) as tun:
        assert (tun.lport, tun.dport) == (listen_here, unix_echo)
        assert os.stat(listen_here).st_mode & 0o777 == 0o600  # ours alone, as with ssh
        assert echo_through(listen_here, family=socket.AF_UNIX) == PAYLOAD
    assert not os.path.exists(listen_here)  # closing removes the socket file it made
    with rem.tunnel(unix_echo, listen_there, reverse=True) as tun:
        assert tun.dport == listen_there
        assert echo_through(listen_there, b"back", socket.AF_UNIX) == b"back"
    assert not os.path.exists(listen_there)  # sshd leaves it; closing removes it, so the path can serve again
    with rem.tunnel(unix_echo, listen_there, reverse=True):
        assert echo_through(listen_there, b"again", socket.AF_UNIX) == b"again"
    s = rem.connect_sock(unix_echo)
    s.sendall(b"to a unix socket")
    assert s.recv(100) == b"to a unix socket"
    s.close()


# -- bad input ---------------------------------------------------------------------------------
def test_bad_ports_and_hosts_are_clear_errors(rem, echo_port, before):
    with pytest.raises(ValueError, match="lport"):
        rem.tunnel(70000, echo_port)
    with pytest.raises(ValueError, match="dport"):
        rem.tunnel(0, 0)
    with pytest.raises(ValueError, match="lport"):
        rem.tunnel(0, echo_port, reverse=True)
    with pytest.raises(ValueError, match="host"):
        rem.tunnel(0, echo_port, dhost="x; rm -rf /")
    with pytest.raises(ValueError, match="port"):
        rem.connect_sock(-1)
    taken = socket.create_server(("127.0.0.1", 0))
    with taken, pytest.raises(TunnelError, match=r"cannot listen on 127\.0\.0\.1:.*in use"):
        rem.tunnel(taken.getsockname()[1], echo_port, lhost="127.0.0.1")
    with taken_remote_port() as port, pytest.raises(TunnelError, match="refused to listen"):
        rem.tunnel(echo_port, port, dhost="127.0.0.1", reverse=True)
    closed = _free_port()
    with pytest.raises(TunnelError, match=f"could not connect to localhost:{closed}") as info:
        rem.connect_sock(closed)
    assert info.value.host == rem.host and isinstance(info.value, OSError)
    with pytest.raises(TunnelError, match=r"could not connect to no-such-host\.invalid:80"):
        rem.connect_sock(80, "no-such-host.invalid")
    # a refused connection through a tunnel ends that connection, not the tunnel
    with rem.tunnel(0, closed) as tun:
        assert hung_up(("127.0.0.1", tun.lport))
        assert hung_up(("127.0.0.1", tun.lport))  # the tunnel still listens
    assert settled(before) == before


class taken_remote_port:
    """A port something already listens on (the remote is this host)."""

    def __enter__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- connect_sock ----------------------------------------------------------------------------------
def test_connect_sock_is_a_real_socket(rem, echo_port):
    with rem.connect_sock(echo_port, "127.0.0.1") as s:
        assert s.fileno() >= 0
        s.settimeout(10)
        stream = s.makefile("rwb")
        stream.write(b"line one\n")
        stream.flush()
        assert stream.readline() == b"line one\n"
        stream.close()
        s.sendall(PAYLOAD)
        s.shutdown(socket.SHUT_WR)
        received = bytearray()
        while chunk := s.recv(1 << 16):
            received += chunk
        assert bytes(received) == PAYLOAD


@pytest.mark.parametrize("kind", list(MACHINES))
def test_async_twins(sshd_server, echo_port, kind):
    async def main():
        async with connect(sshd_server, kind, getattr(tether.aio, MACHINES[kind].__name__)) as machine:
            async with await machine.tunnel(0, echo_port) as tun:
                assert isinstance(tun, Tunnel)
                reader, writer = await asyncio.open_connection("127.0.0.1", tun.lport)
                writer.write(b"async")
                writer.write_eof()
                assert await reader.read() == b"async"
                writer.close()
            assert tun.closed
            sock = await machine.connect_sock(echo_port)
            reader, writer = await asyncio.open_connection(sock=sock)
            writer.write(b"sock")
            assert await reader.readexactly(4) == b"sock"
            writer.close()
            await machine.close()

    asyncio.run(main())
