"""RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value.

Audit leaves are hashed and signed, so two implementations (ours and an auditor's, in any
language) must turn the same entry into the same bytes. RFC 8785 fixes the three things plain
JSON leaves open:

* object members sorted by their names as arrays of UTF-16 code units (not code points: the
  two orders differ for characters above U+FFFF versus U+E000..U+FFFF);
* no insignificant whitespace, and strings escaped minimally (§3.2.2.2): ``"`` and ``\\``,
  the five short control escapes, ``\\u00xx`` (lower-case hex) for the other controls, and every
  other character as itself in UTF-8;
* numbers printed as ECMAScript's ``Number.prototype.toString`` prints an IEEE 754 double
  (§3.2.2.3): shortest round-trip digits, plain notation for 1e-7 < |x| < 1e21, otherwise
  ``d.ddde±x``.

Python ``int`` values up to 2**53 in magnitude are exact doubles and print as integers. A
larger one is accepted only if it is exactly the text ECMAScript prints for the nearest double
(as ``json.loads`` returns for such a canonical number), since any other would silently change
value in every other implementation; send such numbers as strings. NaN and infinities have no
JSON form. Both raise ValueError.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

__all__ = ["MAX_SAFE_INTEGER", "canonicalize", "format_number"]

MAX_SAFE_INTEGER = 2**53
"""Every integer up to this magnitude is an exact double, so it prints as itself."""

# Characters RFC 8785 §3.2.2.2 requires to be escaped: the quote, the backslash and C0 controls.
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# Member names whose UTF-16 and code-point orders cannot disagree with any other name's.
_ORDER_SAFE = re.compile("[\u0000-\udfff]*")
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def canonicalize(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON-like ``value``.

    Accepted types: ``dict`` (string keys), ``list``/``tuple``, ``str``, ``int``, ``float``,
    ``bool`` and ``None``. Raises ``ValueError`` for NaN, infinities, integers beyond 2**53 and
    strings with lone surrogates (not valid Unicode), ``TypeError`` for anything else.

    Fast path: a value made only of objects, arrays, strings, safe integers, booleans and nulls,
    whose member names hold no character at or above U+E000, has exactly the bytes
    ``orjson.dumps(value, option=OPT_SORT_KEYS)`` gives: orjson escapes strings as RFC 8785 does,
    and its code-point order of names equals UTF-16 order when no name mixes characters above
    U+FFFF with U+E000..U+FFFF. Audit entries and prompts almost always qualify; anything else (floats,
    unusual names) takes the reference implementation below. A property test holds the two equal.
    """
    if _fast_path_ok(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate: the reference path raises the documented ValueError
    text = _encode(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"JCS input holds a lone surrogate {exc.object[exc.start : exc.end]!r}: JSON strings "
            "must be valid Unicode (RFC 8785 §3.2.2.2)"
        ) from None


def _fast_path_ok(value: object) -> bool:
    """Whether ``orjson`` gives this value's canonical bytes (see :func:`canonicalize`)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:  # type: ignore[operator]
                return False
        elif kind is dict:
            for key, member in item.items():  # type: ignore[attr-defined]
                if type(key) is not str or not (key.isascii() or _ORDER_SAFE.fullmatch(key)):
                    return False
                stack.append(member)
        elif kind is list or kind is tuple:
            stack.extend(item)  # type: ignore[arg-type]
        else:
            return False  # floats (ECMAScript number formatting), and anything unexpected
    return True


def format_number(value: float | int) -> str:
    """Serialize a number as ECMAScript ``Number.prototype.toString`` does (RFC 8785 §3.2.2.3)."""
    if isinstance(value, bool):
        raise TypeError("a bool is not a JSON number")
    if isinstance(value, int):
        if abs(value) <= MAX_SAFE_INTEGER:
            return str(value)
        text = format_number(float(value)) if abs(value) < 2**1024 else "too large"
        if text != str(value):
            raise ValueError(
                f"integer {value} is beyond 2**53 and no IEEE 754 double prints as it (the nearest "
                f"prints as {text}): JSON readers would see another number; send it as a string"
            )
        return text
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{value!r} has no JSON representation (RFC 8785 §3.2.2.3)")
    if value == 0:
        return "0"  # Both zeros print as "0", like ECMAScript.
    if value < 0:
        return "-" + _format_positive(-value)
    return _format_positive(value)


def _format_positive(value: float) -> str:
    # repr() gives the shortest digit string that round-trips, the same digits ECMAScript's
    # algorithm selects; only the layout (where the point goes, when to use an exponent) differs.
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    leading_zeros = len(whole) + len(fraction) - len(digits)
    # value == 0.DIGITS * 10**point, the form ECMAScript's spec reasons in (its k digits, n).
    point = len(whole) - leading_zeros + (int(exponent) if exponent else 0)
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= point <= 21:
        return digits + "0" * (point - k)
    if 0 < point <= 21:
        return digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    exp = point - 1
    sign = "+" if exp >= 0 else "-"
    head = digits[0] if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{sign}{abs(exp)}"


def _escape_match(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _quote(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:  # the common case: nothing to escape
        return '"' + text + '"'
    return '"' + _NEEDS_ESCAPE.sub(_escape_match, text) + '"'


def _sort_key(name: str) -> bytes:
    # Big-endian UTF-16 compares byte-wise exactly as the code-unit arrays RFC 8785 §3.2.3 sorts.
    # "surrogatepass" keeps a lone surrogate sortable; the final UTF-8 encode rejects it.
    return name.encode("utf-16-be", "surrogatepass")


def _encode(value: object) -> str:
    # Exact-type checks first: the hot path for plain dicts, lists, str and numbers. bool is a
    # subclass of int, but type(True) is bool, so True/False never take the int branch.
    if type(value) is str:
        return _quote(value)
    if type(value) is dict:
        return _encode_object(value)
    if type(value) is int:
        return str(value) if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else format_number(value)
    if type(value) is float:
        return format_number(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is list or type(value) is tuple:
        return "[" + ",".join([_encode(item) for item in value]) + "]"
    # Subclasses and other containers: str/int enums, OrderedDict, Mapping proxies, sequences.
    if isinstance(value, str):
        return _quote(str(value))
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, Mapping):
        return _encode_object(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return "[" + ",".join([_encode(item) for item in value]) + "]"
    raise TypeError(f"{type(value).__name__} is not a JSON type (dict, list, str, number, bool, None)")


def _encode_object(value: Mapping[Any, object]) -> str:
    names = list(value)
    for name in names:
        if type(name) is not str and not isinstance(name, str):
            raise TypeError(f"JSON object names must be strings, got {type(name).__name__} {name!r}")
    # Code-point order equals UTF-16 order unless a name holds a character above U+FFFF.
    if _ASTRAL.search("".join(names)):
        names.sort(key=_sort_key)
    else:
        names.sort()
    return "{" + ",".join([_quote(name) + ":" + _encode(value[name]) for name in names]) + "}"
