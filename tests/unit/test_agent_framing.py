"""The agent's sans-IO parts: framing, the handshake line, remote errors, the json model's parsing."""

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.agent import framing
from tether.agent.calls import module_source
from tether.agent.json_model import call_script, outcome
from tether.exceptions import AgentError, FrameTooLarge, RemoteCallError, remote_error_class


def test_frames_come_out_as_they_went_in_whatever_the_chunking():
    frames = [(framing.CALL, 1, b"abc"), (framing.RESULT, 2**32 - 1, b""), (framing.DATA, 7, bytes(range(256)) * 40)]
    wire = b"".join(framing.pack(*f) for f in frames)
    for step in (1, 2, 9, 10, 1000, len(wire)):
        decoder = framing.FrameDecoder()
        out = []
        for i in range(0, len(wire), step):
            out += decoder.feed(wire[i : i + step])
        assert out == frames and decoder.pending == 0


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 2**32 - 1), st.binary(max_size=300))),
       st.lists(st.integers(1, 50), min_size=1))
def test_any_frames_any_split(frames, cuts):
    wire = b"".join(framing.pack(*f) for f in frames)
    decoder = framing.FrameDecoder()
    out, pos, i = [], 0, 0
    while pos < len(wire):
        size = cuts[i % len(cuts)]
        out += decoder.feed(wire[pos : pos + size])
        pos, i = pos + size, i + 1
    assert out == frames


def test_an_oversized_frame_is_refused_before_it_is_sent_or_buffered():
    with pytest.raises(FrameTooLarge, match="1025-byte agent frame exceeds the 1024-byte limit"):
        framing.pack(framing.DATA, 1, b"x" * 1025, limit=1024)
    assert framing.pack(framing.DATA, 1, b"x" * 1024, limit=1024)
    decoder = framing.FrameDecoder(limit=1024)
    header = framing.HEADER.pack(2**31, framing.DATA, 1)  # claims 2 GiB: refused on the header alone
    with pytest.raises(FrameTooLarge) as info:
        decoder.feed(header)
    assert info.value.direction == "receive" and info.value.size == 2**31


def test_the_ready_line_is_found_and_checked():
    line = framing.ready_line(1234, "3.11.2")
    assert line.startswith(framing.MAGIC) and line.endswith(b"\n")
    assert framing.parse_ready(line) == (framing.PROTOCOL_VERSION, 1234, "3.11.2")
    assert framing.parse_ready(b"Welcome to the server\n") is None
    assert framing.parse_ready(framing.MAGIC + b"x READY 1\n") is None
    assert framing.parse_ready(framing.MAGIC + b"99 READY 5 3.12\n") == (99, 5, "3.12")


def test_remote_builtin_errors_are_also_the_builtin_and_pickle():
    cls = remote_error_class("FileNotFoundError")
    error = cls("FileNotFoundError", "[Errno 2] gone: 'x'", "Traceback\n  boom\n", "h", (2, "gone", "x"))
    assert isinstance(error, FileNotFoundError) and isinstance(error, RemoteCallError)
    assert (error.errno, error.filename) == (2, "x")
    assert "Remote traceback" in str(error) and "FileNotFoundError on h" in str(error)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is cls and clone.remote_traceback == error.remote_traceback and clone.errno == 2
    assert remote_error_class("KeyError") is remote_error_class("KeyError")
    assert remote_error_class(None) is RemoteCallError
    assert remote_error_class("print") is RemoteCallError  # not an exception class
    assert remote_error_class("BaseException") is RemoteCallError  # ^C-like classes stay plain


def test_module_source_takes_modules_names_and_text():
    import json

    name, source = module_source(json)
    assert name == "json" and "def dumps" in source
    assert module_source("json")[0] == "json"
    assert module_source("x = 1\n") == ("<source>", "x = 1\n")
    with pytest.raises(TypeError, match="not int"):
        module_source(3)


def test_json_model_result_and_errors_are_parsed_from_the_marked_line():
    script = call_script("def f(a):\n    return a\n", "f", (1,), {})
    namespace = {"__name__": "__main__"}
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print("noise")
        exec(script, namespace)
    assert outcome(0, out.getvalue(), "", None) == 1
    with pytest.raises(AgentError, match="printed no result"):
        outcome(1, "noise only\n", "Traceback\nSyntaxError: bad\n", "h")
