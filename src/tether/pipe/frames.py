"""The pipe's wire format, with no I/O: length-prefixed frames of codec-encoded values.

::

    frame := length (4 bytes, big-endian, unsigned) + payload (length bytes)
    payload := tether.codec.encode(value)

Caller to handler, each frame's value is one message (any value the codec
carries; the term message is a plain string). Handler to caller, each value
is a ``(kind, data)`` pair:

    ("ready", {"pid": int, "python": str})    the handler's loop is listening
    ("out", bytes)                            what the handler wrote to its stdout
    ("log", {...})                            a log record's fields (see record_fields)
    ("exit", {"code": int, "error": str})     the loop ended; the process exits with code

Payloads are decoded by the receiver so that one unreadable message can be
told from a broken stream (a length beyond :data:`MAX_FRAME`).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from typing import Any

from ..codec import CodecError, decode, encode

__all__ = ["EXIT", "LOG", "MAX_FRAME", "OUT", "READY", "FrameReader", "frame", "record_fields", "reply"]

#: the longest payload either side accepts (a longer length means the stream is not ours)
MAX_FRAME = 256 << 20

READY, OUT, LOG, EXIT = "ready", "out", "log", "exit"
_KINDS = {READY, OUT, LOG, EXIT}
_HEADER = struct.Struct(">I")


def frame(value: Any) -> bytes:
    """``value`` as one frame; :class:`CodecError` (and no bytes) if the codec cannot carry it."""
    payload = encode(value)
    if len(payload) > MAX_FRAME:
        raise CodecError(f"a message of {len(payload)} bytes is over the pipe's limit of {MAX_FRAME}")
    return _HEADER.pack(len(payload)) + payload


class FrameReader:
    """Bytes in (``feed``), whole payloads out (``payloads``), in order."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def payloads(self) -> Iterator[bytes]:
        """The complete payloads fed so far; :class:`CodecError` if a length is impossible."""
        buffer, start = self._buffer, 0
        try:
            while len(buffer) - start >= _HEADER.size:
                (size,) = _HEADER.unpack_from(buffer, start)
                if size > MAX_FRAME:
                    head = bytes(buffer[start : start + 16])
                    raise CodecError(f"not a pipe frame: length {size} is over {MAX_FRAME} (stream starts {head!r})")
                end = start + _HEADER.size + size
                if len(buffer) < end:
                    return
                payload = bytes(buffer[start + _HEADER.size : end])
                start = end
                yield payload
        finally:
            del buffer[:start]  # once per batch, not per frame

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still waiting for the rest."""
        return len(self._buffer)


def reply(payload: bytes) -> tuple[str, Any]:
    """A handler's ``(kind, data)`` frame, checked; :class:`CodecError` if it is not one."""
    value = decode(payload)
    if not (isinstance(value, tuple) and len(value) == 2 and value[0] in _KINDS):
        raise CodecError(f"not a pipe handler frame: {str(value)[:80]!r}")
    return value[0], value[1]


_RECORD_FIELDS = (
    "name", "levelno", "levelname", "pathname", "filename", "module", "lineno", "funcName", "created", "msecs",
    "relativeCreated", "thread", "threadName", "process", "processName",
)  # fmt: skip


def record_fields(record: logging.LogRecord, host: str) -> dict:
    """What of a log record crosses the pipe: plain fields, the message already formatted."""
    fields = {name: getattr(record, name, None) for name in _RECORD_FIELDS}
    message = record.getMessage()
    if record.exc_info:
        message += "\n" + logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        message += "\n" + record.exc_text
    fields.update(msg=message, host=host)
    return {key: value for key, value in fields.items() if isinstance(value, (str, int, float))}
