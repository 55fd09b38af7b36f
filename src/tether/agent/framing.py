"""The agent's wire framing, sans-IO: bytes in, frames out, and the READY handshake.

Both ends use this module: the controller imports it, and the bootstrap ships
its source to the remote interpreter (so it needs nothing but the stdlib).

After the remote interpreter has started it writes ONE handshake line, then
only frames::

    TETHER-AGENT/1 READY <pid> <python version>\\n
    [u32 payload length][u8 kind][u32 id][payload: a tether.codec encoding]...

A line is used for the handshake because a remote login shell may print
noise (a banner, a ``.bashrc`` echo) before the interpreter runs: the
controller skips lines until it sees the magic prefix. Every frame length is
checked against a limit (16 MiB by default) BEFORE its payload is buffered,
so a corrupted or hostile length cannot make either side allocate gigabytes.
"""

from __future__ import annotations

import struct

if __name__.startswith("tether."):  # the same class under tether's error root
    from tether.exceptions import FrameTooLarge
else:  # pragma: no cover - shipped to the remote agent: stdlib only

    class FrameTooLarge(ValueError):  # type: ignore[no-redef]
        def __init__(self, size, limit, direction="send"):
            super().__init__(f"a {size}-byte agent frame exceeds the {limit}-byte limit ({direction})")
            self.size, self.limit, self.direction = size, limit, direction


#: bump when frames or their payloads change shape; both ends must agree
PROTOCOL_VERSION = 1
MAGIC = b"TETHER-AGENT/"
DEFAULT_MAX_FRAME = 16 * 1024 * 1024
#: how much noise before the READY line we tolerate before giving up
MAX_PREAMBLE = 64 * 1024

HEADER = struct.Struct("<IBI")

# frame kinds (one byte). Calls and channels share the id space of their opener.
LOAD = 1  # controller -> agent: [name, source] ; reply RESULT(None) or ERROR
CALL = 2  # controller -> agent: [module id, function name, args, kwargs]
RESULT = 3  # agent -> controller: the value
ERROR = 4  # agent -> controller: [type name, builtin base or None, message, traceback, args]
YIELD = 5  # agent -> controller: one item of a generator result
GENERATOR = 6  # agent -> controller: the call returned a generator; YIELDs follow, then END
END = 7  # agent -> controller: a generator is exhausted
OPEN = 8  # controller -> agent: [source, name] : run it with a channel
DATA = 9  # both ways: one item on channel id
CLOSE = 10  # both ways: channel id is closed; payload None or an ERROR payload
LOG = 11  # agent -> controller: [logger name, levelno, message, pathname, lineno, funcName]
PING = 12  # both ways: heartbeat
EXIT = 13  # controller -> agent: shut down now
CANCEL = 14  # controller -> agent: stop streaming generator id


def ready_line(pid: int, python: str) -> bytes:
    return MAGIC + b"%d READY %d %s\n" % (PROTOCOL_VERSION, pid, python.encode("ascii", "replace"))


def parse_ready(line: bytes) -> tuple[int, int, str] | None:
    """``(version, pid, python version)`` if ``line`` is a handshake line, else None."""
    if not line.startswith(MAGIC):
        return None
    fields = line[len(MAGIC) :].split()
    if len(fields) < 3 or fields[1] != b"READY" or not fields[0].isdigit() or not fields[2].isdigit():
        return None
    python = fields[3].decode("ascii", "replace") if len(fields) > 3 else "?"
    return int(fields[0]), int(fields[2]), python


def pack(kind: int, ident: int, payload, limit: int = DEFAULT_MAX_FRAME) -> bytes:
    """One frame's bytes; FrameTooLarge (nothing sent) when the payload is over ``limit``.

    ``payload`` is bytes, or a list of pieces (joined with the header in one copy).
    """
    if isinstance(payload, list):
        size = sum(map(len, payload))
        if size > limit:
            raise FrameTooLarge(size, limit, "send")
        return b"".join([HEADER.pack(size, kind, ident), *payload])
    if len(payload) > limit:
        raise FrameTooLarge(len(payload), limit, "send")
    return HEADER.pack(len(payload), kind, ident) + payload


class FrameDecoder:
    """Feed it bytes as they arrive; it returns the complete frames, in order.

    ``decoder.feed(chunk)`` -> ``[(kind, id, payload bytes), ...]``. A length
    over ``limit`` raises FrameTooLarge at once: the stream cannot be trusted
    after that, so the caller tears the connection down.
    """

    def __init__(self, limit: int = DEFAULT_MAX_FRAME) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._need = HEADER.size  # bytes the next step needs in the buffer
        self._frame: tuple[int, int, int] | None = None  # (size, kind, id) of a frame being read

    def feed(self, data: bytes) -> list:
        buffer = self._buffer
        buffer += data
        frames = []
        pos = 0
        end = len(buffer)
        header = HEADER
        while True:
            if self._frame is None:
                if end - pos < header.size:
                    break
                size, kind, ident = header.unpack_from(buffer, pos)
                if size > self.limit:
                    raise FrameTooLarge(size, self.limit, "receive")
                pos += header.size
                self._frame = (size, kind, ident)
            size, kind, ident = self._frame
            if end - pos < size:
                break
            with memoryview(buffer) as view:  # one copy out of the buffer, not two
                frames.append((kind, ident, bytes(view[pos : pos + size])))
            pos += size
            self._frame = None
        if pos:
            del buffer[:pos]
        return frames

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as a frame."""
        return len(self._buffer)
