"""The safe value codec: what crosses the wire between tether and its remote peers.

Nothing on the wire is ever unpickled. This codec knows eleven shapes and
nothing else, so decoding hostile bytes can at worst raise :class:`CodecError`::

    None  bool  int  float  str  bytes  list  tuple  dict  set  frozenset

>>> decode(encode({"n": [1, 2, 3], "blob": b"\\x00", "k": (None, 1.5)}))
{'n': [1, 2, 3], 'blob': b'\\x00', 'k': (None, 1.5)}

Layout: one tag byte, then the payload. Lengths and counts are unsigned
32-bit little-endian. A list of small ints (the common bulk case) is packed as
one int64 array, so 100k ints encode in a few milliseconds.

This module imports only the standard library and nothing from tether at
import time that it cannot do without: the agent ships its source to a remote
interpreter that has nothing but the stdlib.
"""

from __future__ import annotations

import struct
import sys
from array import array
from typing import Any

if __name__.startswith("tether."):  # the same class under tether's error root
    from tether.exceptions import TetherError as _ErrorBase
else:  # pragma: no cover - shipped to a remote agent (see tether.agent.bootstrap): stdlib only

    class _ErrorBase(Exception):  # type: ignore[no-redef]
        pass

__all__ = ["MAX_DEPTH", "CodecError", "decode", "encode"]

#: how deeply containers may nest (a guard against stack exhaustion on decode)
MAX_DEPTH = 64

_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")
_LITTLE = sys.byteorder == "little"

_NONE, _TRUE, _FALSE = b"N", b"T", b"F"
_INT, _BIGINT, _FLOAT = b"i", b"I", b"f"
_STR, _BYTES = b"s", b"b"
_LIST, _TUPLE, _DICT, _SET, _FROZENSET = b"l", b"t", b"d", b"S", b"Z"
_PACKED_INTS = b"q"


class CodecError(_ErrorBase, ValueError):
    """A value the codec cannot carry, or bytes that are not a valid encoding."""


def encode(value: Any) -> bytes:
    """Serialize *value* (the eleven shapes above, nested) to bytes.

    Raises :class:`CodecError` naming the first unsupported type and where it sat.
    """
    parts: list[bytes] = []
    _encode(value, parts.append, 0, "value")
    return b"".join(parts)


def decode(data: bytes | bytearray | memoryview) -> Any:
    """The value *data* encodes; :class:`CodecError` if it is malformed or has trailing bytes."""
    view = memoryview(data).cast("B")
    try:
        value, end = _decode(view, 0, 0)
    except (struct.error, IndexError, UnicodeDecodeError, OverflowError) as exc:
        raise CodecError(f"malformed encoding: {exc}") from None
    except RecursionError:
        raise CodecError("malformed encoding: nested too deeply") from None
    if end != len(view):
        raise CodecError(f"malformed encoding: {len(view) - end} trailing bytes")
    return value


def _encode(value: Any, emit: Any, depth: int, where: str) -> None:
    kind = type(value)
    if value is None:
        emit(_NONE)
    elif kind is bool:
        emit(_TRUE if value else _FALSE)
    elif kind is int:
        if -(1 << 63) <= value < (1 << 63):
            emit(_INT + _I64.pack(value))
        else:
            raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
            emit(_BIGINT + _U32.pack(len(raw)) + raw)
    elif kind is float:
        emit(_FLOAT + _F64.pack(value))
    elif kind is str:
        raw = value.encode("utf-8", "surrogatepass")
        emit(_STR + _U32.pack(len(raw)))
        emit(raw)
    elif kind is bytes or kind is bytearray or kind is memoryview:
        raw = bytes(value) if kind is not bytes else value
        emit(_BYTES + _U32.pack(len(raw)))
        emit(raw)
    elif kind in _CONTAINER_TAGS:
        if depth >= MAX_DEPTH:
            raise CodecError(f"{where} nests deeper than {MAX_DEPTH} levels")
        if kind is list and _emit_packed_ints(value, emit):
            return
        emit(_CONTAINER_TAGS[kind] + _U32.pack(len(value)))
        if kind is dict:
            for key, item in value.items():
                _encode(key, emit, depth + 1, f"{where} key")
                _encode(item, emit, depth + 1, f"{where}[{key!r}]")
        else:
            for index, item in enumerate(value):
                _encode(item, emit, depth + 1, f"{where}[{index}]")
    else:
        raise CodecError(
            f"{where} is a {kind.__module__}.{kind.__qualname__}, which tether does not send "
            "(None, bool, int, float, str, bytes, list, tuple, dict, set and frozenset only)"
        )


_CONTAINER_TAGS: dict[type, bytes] = {list: _LIST, tuple: _TUPLE, dict: _DICT, set: _SET, frozenset: _FROZENSET}


def _emit_packed_ints(items: list, emit: Any) -> bool:
    """Emit a list of int64-range ints as one array; False (nothing emitted) otherwise."""
    if len(items) < 8 or not all(type(item) is int for item in items):
        return False
    try:
        packed = array("q", items)
    except OverflowError:
        return False
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        packed.byteswap()
    emit(_PACKED_INTS + _U32.pack(len(items)))
    emit(packed.tobytes())
    return True


def _decode(view: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    tag = bytes(view[pos : pos + 1])
    pos += 1
    if tag == _INT:
        return _I64.unpack_from(view, pos)[0], pos + 8
    if tag in (_STR, _BYTES, _BIGINT):
        size = _U32.unpack_from(view, pos)[0]
        start, end = pos + 4, pos + 4 + size
        if end > len(view):
            raise CodecError(f"malformed encoding: a {size}-byte field runs past the end")
        raw = view[start:end]
        if tag == _STR:
            return str(raw, "utf-8", "surrogatepass"), end
        if tag == _BYTES:
            return raw.tobytes(), end
        return int.from_bytes(raw, "little", signed=True), end
    if tag == _NONE:
        return None, pos
    if tag == _TRUE:
        return True, pos
    if tag == _FALSE:
        return False, pos
    if tag == _FLOAT:
        return _F64.unpack_from(view, pos)[0], pos + 8
    if tag == _PACKED_INTS:
        count = _U32.unpack_from(view, pos)[0]
        start, end = pos + 4, pos + 4 + 8 * count
        if end > len(view):
            raise CodecError(f"malformed encoding: {count} packed ints run past the end")
        packed = array("q")
        packed.frombytes(view[start:end])
        if not _LITTLE:  # pragma: no cover - big-endian hosts
            packed.byteswap()
        return packed.tolist(), end
    if tag in (_LIST, _TUPLE, _SET, _FROZENSET, _DICT):
        if depth >= MAX_DEPTH:
            raise CodecError(f"malformed encoding: nested deeper than {MAX_DEPTH} levels")
        count = _U32.unpack_from(view, pos)[0]
        pos += 4
        if count > len(view) - pos:  # every item takes at least one byte
            raise CodecError(f"malformed encoding: {count} items cannot fit in what is left")
        if tag == _DICT:
            mapping = {}
            for _ in range(count):
                key, pos = _decode(view, pos, depth + 1)
                mapping[_hashable(key)], pos = _decode(view, pos, depth + 1)
            return mapping, pos
        items = []
        for _ in range(count):
            item, pos = _decode(view, pos, depth + 1)
            items.append(item)
        if tag == _LIST:
            return items, pos
        if tag == _TUPLE:
            return tuple(items), pos
        members = [_hashable(item) for item in items]
        return (set(members) if tag == _SET else frozenset(members)), pos
    raise CodecError(f"malformed encoding: unknown tag {tag!r} at byte {pos - 1}")


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        raise CodecError(f"malformed encoding: a {type(value).__name__} used as a key") from None
    return value
