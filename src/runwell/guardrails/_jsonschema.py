"""A small JSON Schema validator for the subset structured LLM outputs use.

Supported keywords: ``type`` (a name or a list of names: object, array, string, number, integer,
boolean, null), ``enum``, ``const``, ``properties``, ``required``, ``additionalProperties``
(``false`` or a schema), ``items`` (one schema for every item), ``minItems``, ``maxItems``,
``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum`` (numbers, draft 6+),
``minLength``, ``maxLength`` (in code points) and ``pattern`` (``re.search``). Annotations
(``title``, ``description``, ``$schema``, ``$id``, ``default``, ``examples``) are ignored.
Any other keyword is refused when the schema is checked, rather than silently not enforced.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["check_schema", "validate"]

_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")
_ANNOTATIONS = frozenset({"title", "description", "$schema", "$id", "$comment", "default", "examples"})
_KEYWORDS = frozenset(
    {
        "type", "enum", "const", "properties", "required", "additionalProperties", "items",
        "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "minLength", "maxLength", "pattern",
    }
)  # fmt: skip


def check_schema(schema: Any, path: str = "#") -> list[str]:
    """Problems with ``schema`` itself (unsupported keywords, wrong shapes); empty when usable."""
    if not isinstance(schema, Mapping):
        return [f"{path}: a schema must be a mapping"]
    problems = [
        f"{path}: keyword {key!r} is not supported (supported: {', '.join(sorted(_KEYWORDS))})"
        for key in schema
        if key not in _KEYWORDS and key not in _ANNOTATIONS
    ]
    types = schema.get("type", [])
    for name in [types] if isinstance(types, str) else types:
        if name not in _TYPES:
            problems.append(f"{path}/type: unknown type {name!r}")
    for key, sub in dict(schema.get("properties", {})).items():
        problems += check_schema(sub, f"{path}/properties/{key}")
    for key in ("items", "additionalProperties"):
        sub = schema.get(key)
        if sub is not None and not isinstance(sub, bool):
            problems += check_schema(sub, f"{path}/{key}")
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except re.error as exc:
            problems.append(f"{path}/pattern: does not compile: {exc}")
    return problems


def validate(instance: Any, schema: Mapping[str, Any], path: str = "$") -> Iterator[str]:
    """Yield one message per violation, each starting with the JSON path of the offending value."""
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(instance, name) for name in names):
            yield f"{path}: expected {' or '.join(names)}, got {_type_name(instance)}"
            return  # the other keywords would only repeat the same mismatch
    if "enum" in schema and not any(_json_equal(instance, v) for v in schema["enum"]):
        yield f"{path}: {instance!r} is not one of {schema['enum']!r}"
    if "const" in schema and not _json_equal(instance, schema["const"]):
        yield f"{path}: must equal {schema['const']!r}"
    if isinstance(instance, dict):
        yield from _validate_object(instance, schema, path)
    elif isinstance(instance, list):
        yield from _validate_array(instance, schema, path)
    elif isinstance(instance, str):
        yield from _validate_string(instance, schema, path)
    elif _is_type(instance, "number"):
        yield from _validate_number(instance, schema, path)


def _validate_object(instance: dict[str, Any], schema: Mapping[str, Any], path: str) -> Iterator[str]:
    properties = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in instance:
            yield f"{path}: missing required property {key!r}"
    extra = schema.get("additionalProperties", True)
    for key, value in instance.items():
        if key in properties:
            yield from validate(value, properties[key], f"{path}.{key}")
        elif extra is False:
            yield f"{path}: property {key!r} is not allowed"
        elif isinstance(extra, Mapping):
            yield from validate(value, extra, f"{path}.{key}")


def _validate_array(instance: list[Any], schema: Mapping[str, Any], path: str) -> Iterator[str]:
    if "minItems" in schema and len(instance) < schema["minItems"]:
        yield f"{path}: has {len(instance)} items, fewer than minItems {schema['minItems']}"
    if "maxItems" in schema and len(instance) > schema["maxItems"]:
        yield f"{path}: has {len(instance)} items, more than maxItems {schema['maxItems']}"
    if isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(instance):
            yield from validate(item, schema["items"], f"{path}[{i}]")


def _validate_string(instance: str, schema: Mapping[str, Any], path: str) -> Iterator[str]:
    if "minLength" in schema and len(instance) < schema["minLength"]:
        yield f"{path}: length {len(instance)} is below minLength {schema['minLength']}"
    if "maxLength" in schema and len(instance) > schema["maxLength"]:
        yield f"{path}: length {len(instance)} is above maxLength {schema['maxLength']}"
    if "pattern" in schema and re.search(schema["pattern"], instance) is None:
        yield f"{path}: does not match pattern {schema['pattern']!r}"


_BOUNDS = (
    ("minimum", operator.ge, ">="),
    ("maximum", operator.le, "<="),
    ("exclusiveMinimum", operator.gt, ">"),
    ("exclusiveMaximum", operator.lt, "<"),
)


def _validate_number(instance: float, schema: Mapping[str, Any], path: str) -> Iterator[str]:
    for key, holds, op in _BOUNDS:
        if key in schema and not holds(instance, schema[key]):
            yield f"{path}: {instance!r} must be {op} {schema[key]!r}"


def _is_type(value: Any, name: str) -> bool:
    # bool is an int in Python but never a number in JSON; 1.0 counts as an integer (draft 6+).
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "integer":
        return _is_type(value, "number") and math.isfinite(value) and float(value).is_integer()
    kinds: dict[str, type | tuple[type, ...]] = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "null": type(None),
    }
    return isinstance(value, kinds[name])


def _type_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, name):
            return name
    return type(value).__name__


def _json_equal(a: Any, b: Any) -> bool:
    # JSON has no bool/number overlap: True must not equal 1 in enum or const.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)
