"""The safe value codec: what crosses the wire between tether and its remote peers.

Nothing on the wire is ever unpickled. This codec knows eleven shapes and
nothing else, so decoding hostile bytes can at worst raise :class:`CodecError`::

    None  bool  int  float  str  bytes  list  tuple  dict  set  frozenset

>>> decode(encode({"n": [1, 2, 3], "blob": b"\\x00", "k": (None, 1.5)}))
{'n': [1, 2, 3], 'blob': b'\\x00', 'k': (None, 1.5)}

Layout: one tag byte, then the payload. Lengths and counts are unsigned
32-bit little-endian. The common bulk lists are packed: int64-range ints as
one int64 array, strings as one array of lengths plus one UTF-8 blob, so
100k of either cross in a few milliseconds.

This module imports only the standard library and nothing from tether at
import time that it cannot do without: the agent ships its source to a remote
interpreter that has nothing but the stdlib.
"""

from __future__ import annotations

import struct
import sys
from array import array
from itertools import accumulate
from typing import Any

if __name__.startswith("tether."):  # the same class under tether's error root
    from tether.exceptions import TetherError as _ErrorBase
else:  # pragma: no cover - shipped to a remote agent (see tether.agent.bootstrap): stdlib only

    class _ErrorBase(Exception):  # type: ignore[no-redef]
        pass

__all__ = ["MAX_DEPTH", "CodecError", "decode", "encode", "encode_parts", "list_header"]

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
_PACKED_STRS = b"L"
_T_INT, _T_BIGINT, _T_FLOAT, _T_STR, _T_BYTES = _INT[0], _BIGINT[0], _FLOAT[0], _STR[0], _BYTES[0]
_T_NONE, _T_TRUE, _T_FALSE = _NONE[0], _TRUE[0], _FALSE[0]
_T_LIST, _T_TUPLE, _T_DICT, _T_SET = _LIST[0], _TUPLE[0], _DICT[0], _SET[0]
_T_CONTAINERS = frozenset(tag[0] for tag in (_LIST, _TUPLE, _DICT, _SET, _FROZENSET))
_T_PACKED_INTS, _T_PACKED_STRS = _PACKED_INTS[0], _PACKED_STRS[0]
_ONLY_INT, _ONLY_STR = {int}, {str}
_TAGGED_U32 = struct.Struct("<cI")
_TAGGED_I64 = struct.Struct("<cq")
_TAGGED_F64 = struct.Struct("<cd")


class CodecError(_ErrorBase, ValueError):
    """A value the codec cannot carry, or bytes that are not a valid encoding."""


def encode(value: Any) -> bytes:
    """Serialize *value* (the eleven shapes above, nested) to bytes.

    Raises :class:`CodecError` naming the first unsupported type and where it sat.
    """
    return b"".join(encode_parts(value))


def encode_parts(value: Any) -> list[bytes]:
    """:func:`encode` as a list of pieces, for a caller that joins them with more (one copy, not two)."""
    parts: list[bytes] = []
    try:
        _encode(value, parts.append, 0)
    except _Unsupported as exc:
        kind = exc.kind
        where = "value" + "".join(reversed(exc.path))
        raise CodecError(
            f"{where} is a {kind.__module__}.{kind.__qualname__}, which tether does not send "
            "(None, bool, int, float, str, bytes, list, tuple, dict, set and frozenset only)"
        ) from None
    return parts


def list_header(count: int) -> bytes:
    """The first bytes of a list of ``count`` items: followed by their encodings, a valid encoding.

    Lets a caller encode the parts of a list that never change once, and
    only the rest per use.
    """
    return _TAGGED_U32.pack(_LIST, count)


class _Unsupported(Exception):
    """Raised at the leaf; each container on the way out adds where it was (no cost on success)."""

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.path: list[str] = []


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


def _encode(value: Any, emit: Any, depth: int) -> None:
    # the common shapes first, each packed with its tag in one struct call
    kind = type(value)
    if kind is int:
        if -(1 << 63) <= value < (1 << 63):
            emit(_TAGGED_I64.pack(_INT, value))
        else:
            raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
            emit(_TAGGED_U32.pack(_BIGINT, len(raw)))
            emit(raw)
    elif kind is str:
        raw = value.encode("utf-8", "surrogatepass")
        emit(_TAGGED_U32.pack(_STR, len(raw)))
        emit(raw)
    elif value is None:
        emit(_NONE)
    elif kind is bool:
        emit(_TRUE if value else _FALSE)
    elif kind is float:
        emit(_TAGGED_F64.pack(_FLOAT, value))
    elif kind is bytes or kind is bytearray or kind is memoryview:
        raw = bytes(value) if kind is not bytes else value
        emit(_TAGGED_U32.pack(_BYTES, len(raw)))
        emit(raw)
    elif kind in _CONTAINER_TAGS:
        if depth >= MAX_DEPTH:
            raise CodecError(f"the value nests deeper than {MAX_DEPTH} levels")
        if kind is list and len(value) >= 8 and (_emit_packed_ints(value, emit) or _emit_packed_strs(value, emit)):
            return
        emit(_TAGGED_U32.pack(_CONTAINER_TAGS[kind], len(value)))
        depth += 1
        if kind is dict:
            for key, item in value.items():
                try:
                    _encode(key, emit, depth)
                except _Unsupported as exc:
                    exc.path.append(" key")
                    raise
                try:
                    _encode(item, emit, depth)
                except _Unsupported as exc:
                    exc.path.append(f"[{key!r}]")
                    raise
        else:
            for index, item in enumerate(value):
                try:
                    _encode(item, emit, depth)
                except _Unsupported as exc:
                    exc.path.append(f"[{index}]")
                    raise
    else:
        raise _Unsupported(kind)


_CONTAINER_TAGS: dict[type, bytes] = {list: _LIST, tuple: _TUPLE, dict: _DICT, set: _SET, frozenset: _FROZENSET}


def _emit_packed_ints(items: list, emit: Any) -> bool:
    """Emit a list of int64-range ints as one array; False (nothing emitted) otherwise."""
    if type(items[0]) is not int or set(map(type, items)) != _ONLY_INT:  # (bool must not pass as int)
        return False
    try:
        packed = array("q", items)
    except OverflowError:
        return False
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        packed.byteswap()
    emit(_TAGGED_U32.pack(_PACKED_INTS, len(items)))
    emit(packed.tobytes())
    return True


def _emit_packed_strs(items: list, emit: Any) -> bool:
    """Emit a list of str as one length array and one UTF-8 blob; False (nothing emitted) otherwise."""
    if type(items[0]) is not str or set(map(type, items)) != _ONLY_STR:
        return False
    raws = [item.encode("utf-8", "surrogatepass") for item in items]
    lengths = array("I", map(len, raws))
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        lengths.byteswap()
    emit(_TAGGED_U32.pack(_PACKED_STRS, len(items)))
    emit(lengths.tobytes())
    emit(b"".join(raws))
    return True


def _decode_packed_strs(view: memoryview, pos: int) -> tuple[list, int]:
    count = _U32.unpack_from(view, pos)[0]
    start = pos + 4
    if start + 4 * count > len(view):
        raise CodecError(f"malformed encoding: {count} string lengths run past the end")
    lengths = array("I")
    lengths.frombytes(view[start : start + 4 * count])
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        lengths.byteswap()
    start += 4 * count
    end = start + sum(lengths)
    if end > len(view):
        raise CodecError("malformed encoding: packed strings run past the end")
    blob = view[start:end].tobytes()
    offsets = [0]
    offsets.extend(accumulate(lengths))
    if blob.isascii():  # one decode, then slices: byte offsets are character offsets
        text = blob.decode("ascii")
        return [text[offsets[i] : offsets[i + 1]] for i in range(count)], end
    return [str(blob[offsets[i] : offsets[i + 1]], "utf-8", "surrogatepass") for i in range(count)], end


def _decode(view: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    tag = view[pos]  # an int: comparing ints is the cheapest dispatch here
    pos += 1
    if tag == _T_INT:
        return _I64.unpack_from(view, pos)[0], pos + 8
    if tag in (_T_STR, _T_BYTES, _T_BIGINT):
        size = _U32.unpack_from(view, pos)[0]
        start, end = pos + 4, pos + 4 + size
        if end > len(view):
            raise CodecError(f"malformed encoding: a {size}-byte field runs past the end")
        raw = view[start:end]
        if tag == _T_STR:
            return str(raw, "utf-8", "surrogatepass"), end
        if tag == _T_BYTES:
            return raw.tobytes(), end
        return int.from_bytes(raw, "little", signed=True), end
    if tag == _T_NONE:
        return None, pos
    if tag == _T_TRUE:
        return True, pos
    if tag == _T_FALSE:
        return False, pos
    if tag == _T_FLOAT:
        return _F64.unpack_from(view, pos)[0], pos + 8
    if tag == _T_PACKED_STRS:
        return _decode_packed_strs(view, pos)
    if tag == _T_PACKED_INTS:
        count = _U32.unpack_from(view, pos)[0]
        start, end = pos + 4, pos + 4 + 8 * count
        if end > len(view):
            raise CodecError(f"malformed encoding: {count} packed ints run past the end")
        packed = array("q")
        packed.frombytes(view[start:end])
        if not _LITTLE:  # pragma: no cover - big-endian hosts
            packed.byteswap()
        return packed.tolist(), end
    if tag in _T_CONTAINERS:
        if depth >= MAX_DEPTH:
            raise CodecError(f"malformed encoding: nested deeper than {MAX_DEPTH} levels")
        count = _U32.unpack_from(view, pos)[0]
        pos += 4
        if count > len(view) - pos:  # every item takes at least one byte
            raise CodecError(f"malformed encoding: {count} items cannot fit in what is left")
        depth += 1
        if tag == _T_DICT:
            mapping = {}
            for _ in range(count):
                key, pos = _decode(view, pos, depth)
                mapping[_hashable(key)], pos = _decode(view, pos, depth)
            return mapping, pos
        items: list = []
        append = items.append
        for _ in range(count):
            item, pos = _decode(view, pos, depth)
            append(item)
        if tag == _T_LIST:
            return items, pos
        if tag == _T_TUPLE:
            return tuple(items), pos
        members = [_hashable(item) for item in items]
        return (set(members) if tag == _T_SET else frozenset(members)), pos
    raise CodecError(f"malformed encoding: unknown tag {bytes([tag])!r} at byte {pos - 1}")


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        raise CodecError(f"malformed encoding: a {type(value).__name__} used as a key") from None
    return value
