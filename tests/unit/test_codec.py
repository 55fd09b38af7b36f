"""The safe codec: every supported value round-trips; hostile bytes only ever raise CodecError."""

from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.codec import MAX_DEPTH, CodecError, decode, encode
from tether.exceptions import TetherError

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
)
hashables = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=4), max_leaves=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=12)
    | st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=8, max_size=40)
    | st.tuples(inner, inner)
    | st.dictionaries(hashables, inner, max_size=5)
    | st.sets(hashables, max_size=5)
    | st.frozensets(hashables, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400)
@given(values)
def test_every_supported_value_round_trips_with_its_exact_types(value):
    decoded = decode(encode(value))
    assert decoded == value
    assert _shape(decoded) == _shape(value)


def _shape(value):
    """The value with every node's type kept, so 1 vs True vs 1.0 and list vs tuple differ."""
    if isinstance(value, dict):
        return ("dict", sorted((repr(_shape(k)), repr(_shape(v))) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, sorted(repr(_shape(v)) for v in value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_shape(v) for v in value])
    return (type(value).__name__, value)


def test_big_int_lists_and_mixed_lists_keep_every_item():
    edge = [0, -1, 2**63 - 1, -(2**63), 5, 6, 7, 8]
    assert decode(encode(edge)) == edge
    overflow = [*edge, 2**63]
    assert decode(encode(overflow)) == overflow
    with_bool = [1, 2, 3, 4, 5, 6, 7, True]
    assert [type(v) for v in decode(encode(with_bool))] == [int] * 7 + [bool]


def test_floats_keep_nan_infinity_and_negative_zero():
    nan, inf, negzero = decode(encode([math.nan, math.inf, -0.0]))
    assert math.isnan(nan) and inf == math.inf and math.copysign(1, negzero) == -1


def test_strings_with_lone_surrogates_survive():
    text = "a\udcffb\x00"
    assert decode(encode(text)) == text


def test_an_unsupported_type_is_named_with_where_it_sat():
    with pytest.raises(CodecError, match=r"value\['f'\]\[1\] is a builtins.object"):
        encode({"f": [1, object()]})
    with pytest.raises(CodecError, match="pathlib"):
        from pathlib import Path

        encode(Path("/tmp"))


def test_nesting_beyond_the_limit_is_refused_both_ways():
    deep: list = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(CodecError, match="nests deeper"):
        encode(deep)
    hostile = b"l\x01\x00\x00\x00" * (MAX_DEPTH + 1) + b"N"
    with pytest.raises(CodecError, match="deeper"):
        decode(hostile)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "malformed"),
        (b"X", "unknown tag"),
        (b"NN", "trailing"),
        (b"s\xff\xff\xff\x7fabc", "runs past the end"),
        (b"l\xff\xff\xff\x7fN", "cannot fit"),
        (b"q\x10\x00\x00\x00abc", "run past the end"),
        (b"d\x01\x00\x00\x00l\x00\x00\x00\x00N", "used as a key"),
        (b"i\x01\x02", "malformed"),
    ],
)
def test_malformed_bytes_raise_a_codec_error_saying_why(data, reason):
    with pytest.raises(CodecError, match=reason):
        decode(data)


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_random_bytes_never_raise_anything_but_codec_error(data):
    try:
        decode(data)
    except CodecError:
        pass


def test_codec_error_is_a_tether_error_and_a_value_error_and_pickles():
    error = CodecError("malformed encoding: x")
    assert isinstance(error, TetherError) and isinstance(error, ValueError)
    assert str(pickle.loads(pickle.dumps(error))) == "malformed encoding: x"


def test_the_module_runs_with_the_standard_library_alone(tmp_path):
    """The agent ships this source to a bare interpreter: it must work without tether."""
    import inspect
    import subprocess
    import sys

    import tether.codec

    script = tmp_path / "codec_alone.py"
    script.write_text(inspect.getsource(tether.codec) + "\nprint(decode(encode({'a': [1, 2.5, b'x']})))\n")
    out = subprocess.run([sys.executable, "-I", "-S", str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "{'a': [1, 2.5, b'x']}"
