"""The network's message codec, sans-IO: JSON objects, one per ``\\r\\n``-terminated line.

This is msl-network 1.x's wire format, so its peers and ours interoperate::

    request   {"args": [...], "attribute": "power", "error": false,
               "kwargs": {...}, "service": "RPiService", "uid": "<uuid4>"}
    result    {"error": false, "requester": "Client[host:port]", "result": 16, "uid": "..."}
    error     {"error": true, "message": "ValueError: ...", "requester": ...,
               "result": null, "traceback": ["Traceback ...", ...], "uid": "..."}
    notify    {"error": false, "result": [args, kwargs], "service": "S", "uid": "notification"}

During the handshake the Manager sends requests with no ``service`` and an
empty ``uid`` (``identity``, ``username``, ``password``); the peer answers
with a result message. Nothing here touches a socket: :class:`LineDecoder`
is fed bytes and hands back complete lines, refusing any line longer than
its limit (64 KiB before login, so an unauthenticated peer cannot make the
Manager buffer without bound).
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from ..exceptions import FrameError

#: the Manager's default port (the year the BIPM was founded, as in msl-network)
PORT = 1875
NOTIFICATION_UID = "notification"
DISCONNECT_REQUEST = "__disconnect__"
SHUTDOWN_SERVICE = "shutdown_service"
SHUTDOWN_MANAGER = "shutdown_manager"
TERMINATOR = b"\r\n"

#: longest line accepted before a peer has identified (and logged in)
HANDSHAKE_LINE_LIMIT = 64 * 1024
#: longest line accepted afterwards (a 10 MB payload fits many times)
LINE_LIMIT = 1 << 30

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.loads


class LineDecoder:
    """Split a byte stream into lines; never buffer more than ``limit`` bytes of one line."""

    def __init__(self, limit: int = HANDSHAKE_LINE_LIMIT) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._scanned = 0  # bytes already searched for b"\n", so big lines are scanned once

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer
        buffer += data
        lines = []
        start = 0
        search = self._scanned
        while True:
            end = buffer.find(b"\n", search)
            if end < 0:
                break
            if end - start > self.limit:
                raise FrameError(f"line of {end - start} bytes exceeds the limit of {self.limit}")
            lines.append(bytes(buffer[start:end + 1]))
            start = search = end + 1
        if start:
            del buffer[:start]
        self._scanned = len(buffer)
        if self._scanned > self.limit:
            raise FrameError(f"line longer than the limit of {self.limit} bytes")
        return lines


def encode(message: dict[str, Any]) -> bytes:
    """One message as a wire line; ``to_json()`` is used for objects JSON cannot encode."""
    try:
        text = _dumps(message)
    except TypeError:
        result = message.get("result")
        to_json = getattr(result, "to_json", None)
        if to_json is None:
            raise
        text = _dumps({**message, "result": to_json()})
    return text.encode("utf-8") + TERMINATOR


def decode(line: bytes | str) -> dict[str, Any]:
    """Parse one line; anything but a JSON object is a :class:`FrameError`."""
    try:
        message = _loads(line)
    except ValueError as exc:
        raise FrameError(f"not valid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise FrameError(f"expected a JSON object, got {type(message).__name__}")
    return message


def request(service: str, attribute: str, args: Any = (), kwargs: dict | None = None,
            uid: str = "") -> dict[str, Any]:
    return {"args": list(args), "attribute": attribute, "error": False,
            "kwargs": kwargs or {}, "service": service, "uid": uid}


def manager_request(requester: str, attribute: str, *args: Any) -> dict[str, Any]:
    """A handshake question from the Manager (``identity``, ``username``, ``password``)."""
    return {"args": list(args), "attribute": attribute, "error": False, "kwargs": {},
            "requester": requester, "uid": ""}


def result(value: Any, requester: str | None = None, uid: str = "") -> dict[str, Any]:
    return {"error": False, "requester": requester, "result": value, "uid": uid}


def error(exc: BaseException, requester: str | None = None, uid: str = "",
          with_traceback: bool = True) -> dict[str, Any]:
    """An error reply; the type name and traceback travel as text (never pickled)."""
    lines: list[str] = []
    if with_traceback and exc.__traceback__ is not None:
        lines = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).splitlines()
    return {"error": True, "message": f"{type(exc).__name__}: {exc}", "requester": requester,
            "result": None, "traceback": lines, "uid": uid}


def notification(service: str, args: Any, kwargs: dict) -> dict[str, Any]:
    return {"error": False, "result": [list(args), kwargs], "service": service,
            "uid": NOTIFICATION_UID}


def is_reply(message: dict[str, Any]) -> bool:
    """A result/error (or notification) rather than a request."""
    return "result" in message or bool(message.get("error"))
