"""The pipe's frames (no I/O) and PipeHandler's exit codes, driven with raw bytes by a real local process."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap

import pytest

from tether.codec import CodecError, encode
from tether.pipe import EXIT_OK, EXIT_UNREADABLE
from tether.pipe.frames import MAX_FRAME, FrameReader, frame, reply

GARBAGE = struct.pack(">I", 2) + b"\xee\x01"  # a well-formed frame whose payload no codec reads


def test_frames_split_anywhere_come_out_whole_and_in_order():
    stream = b"".join(frame(v) for v in ["a", {"b": [1, 2]}, b"\x00" * 70_000])
    reader, out = FrameReader(), []
    for at in range(0, len(stream), 7):
        reader.feed(stream[at : at + 7])
        out += list(reader.payloads())
    assert out == [encode("a"), encode({"b": [1, 2]}), encode(b"\x00" * 70_000)]
    assert reader.pending == 0


def test_an_impossible_length_is_refused_and_a_bad_reply_named():
    reader = FrameReader()
    reader.feed(struct.pack(">I", MAX_FRAME + 1) + b"x")
    with pytest.raises(CodecError, match="not a pipe frame"):
        list(reader.payloads())
    with pytest.raises(CodecError, match="not a pipe handler frame"):
        reply(encode(("bogus", 1)))
    with pytest.raises(CodecError, match="object"):
        frame(object())


HANDLER = textwrap.dedent("""
    import sys
    from tether.pipe import PipeHandler

    class Collect(PipeHandler):
        def handle(self, received):
            print("handled", repr(received))
        def atexit(self, received):
            print("atexit", repr(received))

    Collect(tolerance=int(sys.argv[1])).service_loop()
""")


def _run_handler(tmp_path, stdin: bytes, tolerance: int = 0) -> tuple[int, list, bytes]:
    script = tmp_path / "handler.py"
    script.write_text(HANDLER)
    done = subprocess.run(
        [sys.executable, str(script), str(tolerance)], input=stdin, capture_output=True, timeout=60, check=False
    )
    reader = FrameReader()
    reader.feed(done.stdout)
    replies = [reply(payload) for payload in reader.payloads()]
    return done.returncode, replies, done.stderr


def _printed(replies) -> str:
    return b"".join(data for kind, data in replies if kind == "out").decode()


def test_ready_first_stdout_inside_frames_exit_last(tmp_path):
    code, replies, _ = _run_handler(tmp_path, frame("one") + frame([2]) + frame("STOP") + frame("ignored"))
    assert code == EXIT_OK
    assert replies[0][0] == "ready" and replies[-1] == ("exit", {"code": 0, "error": ""})
    assert _printed(replies) == "handled 'one'\nhandled [2]\natexit 'STOP'\n"


def test_end_of_input_without_term_message_still_runs_atexit(tmp_path):
    code, replies, _ = _run_handler(tmp_path, frame("only"))
    assert code == EXIT_OK and _printed(replies) == "handled 'only'\natexit None\n"


@pytest.mark.parametrize(("tolerance", "expected_code", "handled"), [(0, EXIT_UNREADABLE, 1), (2, EXIT_OK, 2), (-1, EXIT_OK, 2)])
def test_tolerance_counts_unreadable_messages(tmp_path, tolerance, expected_code, handled):
    stream = frame("a") + GARBAGE + GARBAGE + frame("b") + frame("TERM")
    code, replies, stderr = _run_handler(tmp_path, stream, tolerance)
    assert code == expected_code
    assert _printed(replies).count("handled") == handled
    assert (b"decoding message 1" in stderr) == (expected_code == EXIT_UNREADABLE)
    warnings = [data["msg"] for kind, data in replies if kind == "log" and data["levelname"] == "WARNING"]
    assert warnings[0].endswith("unreadable message 1 skipped")  # and the caller hears of it


def test_a_broken_stream_ends_the_handler_at_once(tmp_path):
    code, replies, stderr = _run_handler(tmp_path, frame("a") + b"\xff\xff\xff\xff" + frame("b"), tolerance=-1)
    assert code == EXIT_UNREADABLE and b"reading the input stream" in stderr
    assert _printed(replies) == "handled 'a'\natexit None\n"
