"""Tunnels: bytes through a forward, and the cost of one forwarded connection.

The far end is a server in a process of its own on loopback (this host IS
the remote: the sshd fixture's), so no variant shares its interpreter with
the server. ``sink`` reads everything and answers with the byte count, so a
sample ends only once every byte has crossed; ``echo`` sends back what it
reads. Variants: tether's three machines (``rem.tunnel`` and
``rem.connect_sock``), OpenSSH's own ``ssh -L`` (its own connection), and
direct channels of paramiko and asyncssh (no local socket in between).
"""

from __future__ import annotations

from harness import Case, NoSlowerThan, Variant

MIB = 256  # MiB per throughput sample

_SERVER = r'''
import socket, subprocess, sys
_CODE = """
import socket, sys, threading
srv = socket.create_server(("127.0.0.1", 0))
print(srv.getsockname()[1], flush=True)
def sink(c):
    n, buf = 0, bytearray(1 << 20)
    while k := c.recv_into(buf):
        n += k
    c.sendall(n.to_bytes(8, "big")); c.close()
def echo(c):
    while d := c.recv(65536):
        c.sendall(d)
    c.close()
handler = sink if sys.argv[1] == "sink" else echo
while True:
    c, _ = srv.accept()
    threading.Thread(target=handler, args=(c,), daemon=True).start()
"""
server = subprocess.Popen([sys.executable, "-c", _CODE, MODE], stdout=subprocess.PIPE, text=True)
PORT = int(server.stdout.readline())
CHUNK = bytes(1 << 20)

def push(sock, close_write):
    for _ in range(TOTAL_MIB):
        sock.sendall(CHUNK)
    close_write()
    ack = b""
    while len(ack) < 8:
        data = sock.recv(8 - len(ack))
        assert data, "the sink hung up early"
        ack += data
    assert int.from_bytes(ack, "big") == TOTAL_MIB << 20

def push_to(address):
    with socket.create_connection(address) as s:
        push(s, lambda: s.shutdown(socket.SHUT_WR))

def ping(sock):
    sock.sendall(b"x")
    assert sock.recv(1) == b"x"

def ping_at(address):
    with socket.create_connection(address) as s:
        ping(s)
'''

_STOP_SERVER = "server.kill(); server.wait()"

_TETHER_KW = "user=fixture['user'], port=fixture['port'], keyfile=fixture['keyfile'], known_hosts=fixture['known_hosts']"


def _head(mode: str) -> str:
    return f"MODE = {mode!r}\nTOTAL_MIB = {MIB}\n" + _SERVER


def tether_tunnel(cls: str, mode: str, stmt: str) -> Variant:
    setup = _head(mode) + (
        f"from tether import {cls}\nrem = {cls}(fixture['host'], {_TETHER_KW})\n"
        "tun = rem.tunnel(0, PORT, dhost='127.0.0.1')\nADDRESS = ('127.0.0.1', tun.lport)\n"
    )
    return Variant(f"tether {cls} tunnel", "tether", setup, stmt, f"tun.close(); rem.close(); {_STOP_SERVER}")


def tether_connect_sock(cls: str, mode: str, stmt: str) -> Variant:
    setup = _head(mode) + f"from tether import {cls}\nrem = {cls}(fixture['host'], {_TETHER_KW})\n"
    return Variant(f"tether {cls} connect_sock", "tether", setup, stmt, f"rem.close(); {_STOP_SERVER}")


def ssh_dash_l(mode: str, stmt: str) -> Variant:
    setup = _head(mode) + """
import time
with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0)); LPORT = probe.getsockname()[1]
forward = subprocess.Popen(['ssh', '-F', fixture['ssh_config'], '-N', '-o', 'ExitOnForwardFailure=yes',
                            '-L', f'127.0.0.1:{LPORT}:127.0.0.1:{PORT}', 'tether-test'])
while True:
    try:
        socket.create_connection(('127.0.0.1', LPORT)).close(); break
    except ConnectionRefusedError:
        assert forward.poll() is None, 'ssh -L exited'; time.sleep(0.02)
ADDRESS = ('127.0.0.1', LPORT)
"""
    return Variant("ssh -L", "tether", setup, stmt, f"forward.terminate(); forward.wait(); {_STOP_SERVER}")


_PARAMIKO = """
import paramiko
client = paramiko.SSHClient()
client.load_host_keys(fixture['known_hosts'])
client.set_missing_host_key_policy(paramiko.RejectPolicy())
client.connect(fixture['host'], port=fixture['port'], username=fixture['user'], key_filename=fixture['keyfile'],
               look_for_keys=False, allow_agent=False)
transport = client.get_transport()
def channel():
    return transport.open_channel('direct-tcpip', ('127.0.0.1', PORT), ('127.0.0.1', 0))
"""

_ASYNCSSH = """
import asyncio, asyncssh
loop = asyncio.new_event_loop()
conn = loop.run_until_complete(asyncssh.connect(
    fixture['host'], port=fixture['port'], username=fixture['user'], client_keys=[fixture['keyfile']],
    known_hosts=fixture['known_hosts']))
async def apush():
    reader, writer = await conn.open_connection('127.0.0.1', PORT)
    for _ in range(TOTAL_MIB):
        writer.write(CHUNK)
        await writer.drain()
    writer.write_eof()
    assert int.from_bytes(await reader.readexactly(8), 'big') == TOTAL_MIB << 20
    writer.close()
async def aping():
    reader, writer = await conn.open_connection('127.0.0.1', PORT)
    writer.write(b'x')
    assert await reader.readexactly(1) == b'x'
    writer.close()
"""


def _variants(mode: str, through: str, sock: str, paramiko: str, asyncssh: str) -> list[Variant]:
    """The same work done every way: through a tunnel, ``connect_sock``, ``ssh -L``, peers' channels."""
    return [
        tether_tunnel("SshMachine", mode, through),
        tether_tunnel("NativeSshMachine", mode, through),
        tether_tunnel("PuttyMachine", mode, through),
        tether_connect_sock("SshMachine", mode, sock),
        tether_connect_sock("NativeSshMachine", mode, sock),
        ssh_dash_l(mode, through),
        Variant("paramiko channel", "peers", _head(mode) + _PARAMIKO, paramiko,
                f"client.close(); {_STOP_SERVER}", requires=("paramiko",)),
        Variant("asyncssh channel", "peers", _head(mode) + _ASYNCSSH, asyncssh,
                f"conn.close(); {_STOP_SERVER}", requires=("asyncssh",)),
    ]


CASES = [
    Case(
        name="tunnel.throughput-256MiB",
        title=f"{MIB} MiB through a local forward to a sink on the remote",
        variants=_variants(
            "sink", "push_to(ADDRESS)",
            "s = rem.connect_sock(PORT, '127.0.0.1'); push(s, lambda: s.shutdown(socket.SHUT_WR)); s.close()",
            "c = channel(); push(c, c.shutdown_write); c.close()",
            "loop.run_until_complete(apush())",
        ),
        goals=[NoSlowerThan("ssh -L", 1.1), NoSlowerThan("paramiko channel"), NoSlowerThan("asyncssh channel")],
        reference="tether SshMachine tunnel",
        samples=7, number=1, warmup=1, budget=240, timeout=600, needs_sshd=True,
    ),
    Case(
        name="tunnel.connection",
        title="one connection through a forward: connect, 1 byte there and back, close",
        variants=_variants(
            "echo", "ping_at(ADDRESS)",
            "s = rem.connect_sock(PORT, '127.0.0.1'); ping(s); s.close()",
            "c = channel(); ping(c); c.close()",
            "loop.run_until_complete(aping())",
        ),
        goals=[NoSlowerThan("ssh -L", 1.5), NoSlowerThan("paramiko channel"), NoSlowerThan("asyncssh channel")],
        reference="tether SshMachine tunnel",
        samples=30, number=5, warmup=3, budget=120, needs_sshd=True,
    ),
]
