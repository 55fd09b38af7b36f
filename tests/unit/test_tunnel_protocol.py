"""Tunnel pieces that need no server: the ControlMaster mux codec, argument checks, forward specs."""

import socket
import struct

import pytest

from tether.machines.tunnel import TunnelSocket, endpoint
from tether.transports import openssh_mux as mux
from tether.transports.forwarding import Endpoint


def _fields(packet):
    (length,) = struct.unpack(">I", packet[:4])
    assert length == len(packet) - 4
    return packet[4:]


def test_stdio_forward_request_is_what_ssh_dash_w_sends():
    body = _fields(mux.stdio_forward_request(7, Endpoint("db.internal", 5432)))
    kind, request_id = struct.unpack(">II", body[:8])
    assert (kind, request_id) == (mux.C_NEW_STDIO_FWD, 7)
    rest = body[8:]
    assert rest[:4] == b"\0\0\0\0"  # the reserved string, empty
    (n,) = struct.unpack(">I", rest[4:8])
    assert rest[8 : 8 + n] == b"db.internal"
    assert struct.unpack(">I", rest[8 + n :]) == (5432,)


def test_unix_destination_uses_openssh_streamlocal_port():
    body = _fields(mux.stdio_forward_request(1, Endpoint(None, 0, "/run/app.sock")))
    assert body.endswith(b"/run/app.sock" + struct.pack(">I", mux.PORT_STREAMLOCAL))


def test_replies_decode_with_their_reason():
    failure = struct.pack(">III", mux.S_FAILURE, 3, 11) + b"refused now"
    assert mux.decode_reply(failure) == (mux.S_FAILURE, 3, "refused now")
    opened = struct.pack(">III", mux.S_SESSION_OPENED, 3, 9)
    assert mux.decode_reply(opened) == (mux.S_SESSION_OPENED, 3, "")
    with pytest.raises(ValueError, match="short"):
        mux.decode_reply(b"\0\0")
    assert _fields(mux.hello()) == struct.pack(">II", mux.MSG_HELLO, 4)


def test_remote_forward_specs():
    assert mux.forward_spec(Endpoint("localhost", 0), "/d/r0") == "localhost:0:/d/r0"
    assert mux.forward_spec(Endpoint("::1", 80), "/d/r0") == "[::1]:80:/d/r0"
    assert mux.forward_spec(Endpoint(None, 0, "/tmp/x.sock"), "/d/r0") == "/tmp/x.sock:/d/r0"
    with pytest.raises(ValueError, match="':'"):
        mux.forward_spec(Endpoint(None, 0, "/tmp/a:b"), "/d/r0")


@pytest.mark.parametrize(
    "port, host, message",
    [
        (70000, "localhost", "0-65535"),
        (-1, "localhost", "0-65535"),
        (True, "localhost", "port number"),
        (1.5, "localhost", "port number"),
        ("", "localhost", "unix socket path"),
        ("8080", "localhost", "unix socket path"),  # a number in a str is a mistake, not a path
        (22, "-oProxyCommand=x", "host"),
        (22, "a b", "host"),
        (22, "x;y", "host"),
    ],
)
def test_bad_endpoints_name_what_is_wrong(port, host, message):
    with pytest.raises(ValueError, match=message):
        endpoint(port, host, "lport", zero_ok=True)


def test_zero_only_where_something_listens():
    assert endpoint(0, "localhost", "lport", zero_ok=True) == Endpoint("localhost", 0)
    with pytest.raises(ValueError, match="dport cannot be 0"):
        endpoint(0, "localhost", "dport", zero_ok=False)
    assert endpoint("/tmp/s", "ignored", "dport", zero_ok=False) == Endpoint(None, 0, "/tmp/s")


def test_tunnel_socket_is_a_socket_that_releases_its_link_once():
    released = []
    ours, theirs = socket.socketpair()
    s = TunnelSocket(ours, lambda: released.append(1))
    with s:
        assert s.send("héllo") == 6  # str goes as UTF-8
        assert theirs.recv(10) == "héllo".encode()
        f = s.makefile("rb")
        s.close()  # the file still holds it: not released yet
        assert released == []
        f.close()
    assert released == [1]
    theirs.close()
