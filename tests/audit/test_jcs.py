"""RFC 8785 canonical JSON: the RFC's own examples, the cyberphone suite, and properties."""

from __future__ import annotations

import json
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runwell.audit.jcs import MAX_SAFE_INTEGER, canonicalize, format_number

# RFC 8785 §3.2.2: the sample input, and §3.2.4: its canonical form as UTF-8 bytes.
RFC_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC_OUTPUT_HEX = (
    "7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72"
    " 75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a"
    " 5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31"
    " 65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37"
    " 5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30"
    " 30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d"
)

# RFC 8785 Appendix B: IEEE 754 bit patterns and their ECMAScript serialization.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


def test_rfc_sample_canonicalizes_to_the_rfc_bytes() -> None:
    assert canonicalize(json.loads(RFC_INPUT)) == bytes.fromhex(RFC_OUTPUT_HEX.replace(" ", ""))


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_appendix_b_numbers(bits: str, expected: str) -> None:
    assert format_number(_double(bits)) == expected
    assert canonicalize([_double(bits)]) == f"[{expected}]".encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_appendix_b_nan_and_infinity_are_rejected(bits: str) -> None:
    with pytest.raises(ValueError, match="no JSON representation"):
        canonicalize({"x": _double(bits)})


def test_rfc_sorting_example_orders_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: U+1F600 (surrogates D83D DE00) sorts *before* U+FB33 in UTF-16.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    names = [k for k in json.loads(canonicalize(value))]
    assert names == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert canonicalize(value).startswith(b'{"\\r":"Carriage Return","1":"One","\xc2\x80":"Control"')


def test_cyberphone_weird_names() -> None:
    # cyberphone/json-canonicalization testdata/input/weird.json -> output/weird.json
    value = json.loads(
        '{"\\u20ac":"Euro Sign","1":"One","\\u0080":"Control\\u007f","\\ud83d\\ude02":"Smiley",'
        '"\\u00f6":"Latin Small Letter O With Diaeresis","\\ufb33":"Hebrew Letter Dalet With Dagesh",'
        '"</script>":"Browser Challenge"}'
    )
    expected = (
        '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\U0001f602":"Smiley",'
        '"\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonicalize(value) == expected.encode("utf-8")


def test_cyberphone_values() -> None:
    # cyberphone/json-canonicalization testdata/input/values.json -> output/values.json
    value = json.loads(
        r"""{
  "numbers": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],
  "escaping": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
    )
    expected = r"""{"escaping":"€$\u000f\nA'B\"\\\\\"/","literals":[null,true,false],"numbers":[1e+30,4.5,333333333.3333333,0.002,1e-27]}"""
    assert canonicalize(value) == expected.encode("utf-8")


def test_string_escapes_are_minimal() -> None:
    text = '\b\t\n\f\r\x00\x1f\x7f\u2028"\\/é'
    assert canonicalize(text) == '"\\b\\t\\n\\f\\r\\u0000\\u001f\x7f\u2028\\"\\\\/é"'.encode()


def test_integers_print_as_integers_up_to_2_to_53() -> None:
    assert canonicalize([0, -1, 100.0, 1e15, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == (
        b"[0,-1,100,1000000000000000,9007199254740992,-9007199254740992]"
    )


@pytest.mark.parametrize("bad", [MAX_SAFE_INTEGER + 1, 2**60, -(2**64), 10**400])
def test_integers_no_double_prints_as_are_rejected(bad: int) -> None:
    with pytest.raises(ValueError, match="beyond 2\\*\\*53"):
        canonicalize({"n": bad})


def test_large_integers_that_are_a_doubles_canonical_text_are_kept() -> None:
    # 2**53 + 2 is a double; 1152921504606847000 is how ECMAScript prints the double 2**60.
    assert (
        canonicalize([MAX_SAFE_INTEGER + 2, 1152921504606847000]) == b"[9007199254740994,1152921504606847000]"
    )


def test_non_json_values_are_rejected() -> None:
    with pytest.raises(TypeError, match="names must be strings"):
        canonicalize({1: "x"})
    with pytest.raises(TypeError, match="not a JSON type"):
        canonicalize({"x": b"bytes"})
    with pytest.raises(TypeError, match="not a JSON type"):
        canonicalize({"x": {1, 2}})


def test_lone_surrogates_are_rejected() -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        canonicalize({"x": "a\ud800b"})
    with pytest.raises(ValueError, match="lone surrogate"):
        canonicalize({"\udc00": 1})


def test_tuples_are_arrays_and_nesting_sorts_every_level() -> None:
    assert (
        canonicalize({"b": (1, {"z": None, "a": [True]}), "a": {}})
        == b'{"a":{},"b":[1,{"a":[true],"z":null}]}'
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=30,
)


def _as_doubles(value: object) -> object:
    """Every number as a double: JSON numbers are doubles, json.loads may return an int."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):
        return {k: _as_doubles(v) for k, v in value.items()}
    assert isinstance(value, list | tuple)
    return [_as_doubles(v) for v in value]


@given(json_values)
def test_round_trips_through_json_and_is_idempotent(value: object) -> None:
    encoded = canonicalize(value)
    decoded = json.loads(encoded)
    assert _as_doubles(decoded) == _as_doubles(value)
    assert canonicalize(decoded) == encoded


@given(st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER))
def test_safe_integers_round_trip_exactly(value: int) -> None:
    assert json.loads(canonicalize(value)) == value


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_double_round_trips_and_follows_ecmascript_layout(value: float) -> None:
    text = format_number(value)
    assert float(text) == value
    magnitude = abs(value)
    if magnitude == 0 or 1e-6 <= magnitude < 1e21:
        assert "e" not in text
    else:
        assert "e" in text and ".e" not in text and "e+0" not in text
    if value == math.floor(value) and magnitude < 1e21:
        assert "." not in text


# --- the orjson fast path gives the reference bytes -------------------------------------------

from hypothesis import given, settings  # noqa: E402  (kept beside the tests they serve)
from hypothesis import strategies as st  # noqa: E402

from runwell.audit import jcs  # noqa: E402

_NAMES = st.text(st.characters(codec="utf-8"), max_size=6) | st.sampled_from(
    ["\ue000", "\U0001f600", "a", "é"]
)
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(st.characters(codec="utf-8"), max_size=12)
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_NAMES, inner, max_size=4),
    max_leaves=20,
)


def _reference(value: object) -> bytes:
    return jcs._encode(value).encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_the_fast_path_is_byte_identical_to_the_reference(value: object) -> None:
    assert canonicalize(value) == _reference(value)


def test_names_that_order_differently_in_utf16_take_the_reference_path() -> None:
    value = {"\ue000": 1, "\U0001f600": 2}
    assert not jcs._fast_path_ok(value)
    assert canonicalize(value) == _reference(value) == '{"\U0001f600":2,"\ue000":1}'.encode()
    assert not jcs._fast_path_ok({"x": 1.5}) and canonicalize({"x": 1.5}) == b'{"x":1.5}'
