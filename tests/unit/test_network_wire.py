"""The network's sans-IO parts: line framing, the message codec, password hashing, throttling."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.exceptions import FrameError
from tether.network import wire
from tether.network.auth import Throttle
from tether.network.users import check_password, hash_password


@given(st.lists(st.binary(max_size=50).map(lambda b: b.replace(b"\n", b"")), max_size=20),
       st.integers(min_value=1, max_value=7))
def test_decoder_returns_every_line_whole_whatever_the_chunking(lines, chunk):
    data = b"".join(line + b"\r\n" for line in lines)
    decoder = wire.LineDecoder(limit=1000)
    got = []
    for i in range(0, len(data), chunk):
        got += decoder.feed(data[i:i + chunk])
    assert got == [line + b"\r\n" for line in lines]


def test_decoder_refuses_a_line_over_its_limit_even_before_the_newline():
    decoder = wire.LineDecoder(limit=100)
    assert decoder.feed(b"x" * 50) == []
    with pytest.raises(FrameError, match="limit of 100"):
        decoder.feed(b"x" * 60)
    with pytest.raises(FrameError):
        wire.LineDecoder(limit=10).feed(b"y" * 20 + b"\n")


def test_messages_match_msl_networks_shapes():
    request = wire.request("RPiService", "power", [5], {"n": 3}, "u1")
    assert request == {"args": [5], "attribute": "power", "error": False, "kwargs": {"n": 3},
                       "service": "RPiService", "uid": "u1"}
    line = wire.encode(wire.result(125, "Client[h:1]", "u1"))
    assert line.endswith(b"\r\n") and json.loads(line) == {"error": False, "requester": "Client[h:1]",
                                                            "result": 125, "uid": "u1"}
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError as exc:
        error = wire.error(exc, "C", "u2")
    assert error["error"] is True and error["result"] is None
    assert error["message"] == "ZeroDivisionError: division by zero"
    assert error["traceback"][0].startswith("Traceback") and error["uid"] == "u2"
    assert wire.notification("S", (1,), {"a": 2}) == {"error": False, "result": [[1], {"a": 2}],
                                                     "service": "S", "uid": "notification"}
    assert wire.decode(line)["result"] == 125
    with pytest.raises(FrameError):
        wire.decode(b"[1, 2]")
    with pytest.raises(FrameError):
        wire.decode(b"{not json")


def test_results_with_to_json_are_encoded_and_others_refused():
    class Point:
        def to_json(self):
            return [1, 2]

    assert json.loads(wire.encode(wire.result(Point())))["result"] == [1, 2]
    with pytest.raises(TypeError):
        wire.encode(wire.result(object()))


def test_scrypt_hashes_are_salted_and_checked():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert stored != hash_password("correct horse")
    assert check_password("correct horse", stored)
    assert not check_password("wrong", stored)
    assert not check_password("correct horse", "md5$abc")


def test_throttle_doubles_per_failure_and_forgets_on_success():
    throttle = Throttle(base=0.1, cap=0.5)
    assert throttle.delay("10.0.0.1") == 0
    for expected in (0.1, 0.2, 0.4, 0.5):
        throttle.failed("10.0.0.1")
        assert throttle.delay("10.0.0.1") == pytest.approx(expected)
    assert throttle.delay("10.0.0.2") == 0
    throttle.succeeded("10.0.0.1")
    assert throttle.delay("10.0.0.1") == 0
