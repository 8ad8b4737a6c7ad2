"""Flag definitions: the JSON a flag lever stores, parsed and checked (see :mod:`runwell.control.flags`).

Private to :mod:`runwell.control.flags`, which re-exports the public names; split out so that the
evaluation (on the request path) and the validation (when an operator changes a flag) each read
on their own.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar, get_args

from runwell.errors import ConfigError

T = TypeVar("T")

FlagType = Literal["boolean", "string", "integer", "float", "object"]
"""A flag's value type; every variant's value has it."""

TRAFFIC_SUFFIX = ".traffic"
"""``<feature>.traffic``: the boolean flag that cuts a feature's traffic (:func:`traffic_flag`)."""
PIN_SUFFIX = ".variant"
"""``<feature>.variant``: the string flag that pins users to variants (:func:`pin_flag`)."""

_TYPES: tuple[str, ...] = get_args(FlagType)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
_FIELDS = ("type", "variants", "default_variant", "enabled", "targeting", "split", "salt", "description")
_TARGETING_KEY = "targeting_key"
_MAX_KEYS = 100_000  # pinned users across all rules: beyond that, use a split or a segment store
_MAX_DEPTH = 32
_SCALE = float(2**64)


class Reason(StrEnum):
    """Why a resolution has its value (OpenFeature's resolution reasons)."""

    STATIC = "STATIC"
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DEFAULT = "DEFAULT"
    DISABLED = "DISABLED"
    ERROR = "ERROR"


class ErrorCode(StrEnum):
    """What went wrong when the reason is ``ERROR`` (OpenFeature's error codes)."""

    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    PARSE_ERROR = "PARSE_ERROR"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    TARGETING_KEY_MISSING = "TARGETING_KEY_MISSING"
    GENERAL = "GENERAL"


class FlagError(ConfigError, ValueError):
    """A flag definition is invalid; ``field`` is the dotted path of the bad part
    (``split[1].percent``), which the message starts with."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Resolution(Generic[T]):
    """The answer for one flag: ``value`` is the caller's default when ``reason`` is DISABLED
    or ERROR (``variant`` is then None)."""

    value: T
    variant: str | None
    reason: Reason
    error_code: ErrorCode | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class EvaluationContext:
    """Who a flag is evaluated for: ``targeting_key`` (a user id, else a request id) and
    attributes that targeting rules may name."""

    targeting_key: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def merge(self, other: EvaluationContext | None) -> EvaluationContext:
        """This context with ``other``'s targeting key and attributes on top."""
        if other is None:
            return self
        return EvaluationContext(
            other.targeting_key if other.targeting_key is not None else self.targeting_key,
            {**self.attributes, **other.attributes},
        )


@dataclass(frozen=True, slots=True)
class TargetingRule:
    """Serve ``variant`` when the context's ``attribute`` (its targeting key by default) is one of
    ``keys``."""

    variant: str
    keys: tuple[str, ...]
    attribute: str = _TARGETING_KEY


@dataclass(frozen=True, slots=True)
class SplitShare:
    """``percent`` (0..100) of targeting keys get ``variant``."""

    variant: str
    percent: float


@dataclass(frozen=True)
class FlagDefinition:
    """A validated flag definition; :meth:`from_dict` and :meth:`to_dict` are its JSON form.

    Constructing one validates it and raises :class:`FlagError` naming the bad field.
    ``split`` shares must add up to 100, in the listed order of buckets.
    """

    type: FlagType
    variants: Mapping[str, Any]
    default_variant: str
    enabled: bool = True
    targeting: tuple[TargetingRule, ...] = ()
    split: tuple[SplitShare, ...] = ()
    salt: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise FlagError("type", f"must be one of {', '.join(_TYPES)}, got {self.type!r}")
        if not isinstance(self.variants, Mapping) or not self.variants:
            raise FlagError("variants", "must be a non-empty object of variant name -> value")
        variants: dict[str, Any] = {}
        for name, value in self.variants.items():
            _check_name(f"variants.{name}", name)
            variants[name] = _check_value(f"variants.{name}", self.type, value)
        object.__setattr__(self, "variants", variants)
        _check_variant("default_variant", self.default_variant, variants)
        if not isinstance(self.enabled, bool):
            raise FlagError("enabled", f"must be true or false, got {self.enabled!r}")
        keys = 0
        for i, rule in enumerate(self.targeting):
            where = f"targeting[{i}]"
            if not isinstance(rule, TargetingRule):
                raise FlagError(where, "must be a TargetingRule")
            _check_variant(f"{where}.variant", rule.variant, variants)
            if not isinstance(rule.attribute, str) or not rule.attribute:
                raise FlagError(f"{where}.attribute", "must be a non-empty attribute name")
            if not rule.keys:
                raise FlagError(f"{where}.keys", "must list at least one key")
            for j, key in enumerate(rule.keys):
                if not isinstance(key, str) or not key:
                    raise FlagError(f"{where}.keys[{j}]", f"must be a non-empty string, got {key!r}")
            keys += len(rule.keys)
        if keys > _MAX_KEYS:
            raise FlagError("targeting", f"lists {keys} keys, more than {_MAX_KEYS}; use a split")
        _check_split(self.split, variants)
        if self.salt is not None and (not isinstance(self.salt, str) or not self.salt):
            raise FlagError("salt", "must be a non-empty string when given")
        if not isinstance(self.description, str):
            raise FlagError("description", "must be a string")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlagDefinition:
        """Parse and validate the JSON form; :class:`FlagError` names the first bad field."""
        if not isinstance(data, Mapping):
            raise FlagError("(definition)", f"must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise FlagError(str(unknown[0]), f"unknown field; the fields are {', '.join(_FIELDS)}")
        for required in ("type", "variants", "default_variant"):
            if required not in data:
                raise FlagError(required, "is required")
        return cls(
            type=data["type"],
            variants=data["variants"],
            default_variant=data["default_variant"],
            enabled=data.get("enabled", True),
            targeting=tuple(_parse_rule(i, r) for i, r in enumerate(_as_list("targeting", data))),
            split=tuple(_parse_share(i, s) for i, s in enumerate(_as_list("split", data))),
            salt=data.get("salt"),
            description=data.get("description", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``from_dict(d.to_dict()) == d``); optional fields only when set."""
        out: dict[str, Any] = {
            "type": self.type,
            "variants": copy.deepcopy(dict(self.variants)),
            "default_variant": self.default_variant,
            "enabled": self.enabled,
        }
        if self.targeting:
            out["targeting"] = [_rule_dict(rule) for rule in self.targeting]
        if self.split:
            out["split"] = [{"variant": s.variant, "percent": s.percent} for s in self.split]
        if self.salt is not None:
            out["salt"] = self.salt
        if self.description:
            out["description"] = self.description
        return out


def _rule_dict(rule: TargetingRule) -> dict[str, Any]:
    out: dict[str, Any] = {"variant": rule.variant, "keys": list(rule.keys)}
    if rule.attribute != _TARGETING_KEY:
        out["attribute"] = rule.attribute
    return out


def _as_list(name: str, data: Mapping[str, Any]) -> list[Any]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise FlagError(name, f"must be a list, got {type(value).__name__}")
    return value


def _parse_rule(i: int, raw: Any) -> TargetingRule:
    where = f"targeting[{i}]"
    _check_object(where, raw, required=("variant", "keys"), optional=("attribute",))
    keys = raw["keys"]
    if not isinstance(keys, list):
        raise FlagError(f"{where}.keys", f"must be a list of strings, got {type(keys).__name__}")
    return TargetingRule(raw["variant"], tuple(keys), raw.get("attribute", _TARGETING_KEY))


def _parse_share(i: int, raw: Any) -> SplitShare:
    _check_object(f"split[{i}]", raw, required=("variant", "percent"), optional=())
    return SplitShare(raw["variant"], raw["percent"])


def _check_object(where: str, raw: Any, *, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    if not isinstance(raw, Mapping):
        raise FlagError(where, f"must be an object with {', '.join(required)}")
    for name in raw:
        if name not in required and name not in optional:
            raise FlagError(f"{where}.{name}", f"unknown field; use {', '.join(required + optional)}")
    for name in required:
        if name not in raw:
            raise FlagError(f"{where}.{name}", "is required")


def _check_name(where: str, name: Any) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise FlagError(
            where, "a variant name must be 1-128 letters, digits, '.', '_', '@' or '-', starting alphanumeric"
        )


def _check_variant(where: str, name: Any, variants: Mapping[str, Any]) -> None:
    if not isinstance(name, str) or name not in variants:
        raise FlagError(where, f"must name a variant ({', '.join(sorted(variants))}), got {name!r}")


def _check_value(where: str, kind: str, value: Any) -> Any:
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise FlagError(where, f"must be a finite number, got {value!r}")
        return float(value)
    if kind == "object" and isinstance(value, dict | list):
        _check_json(where, value, 0)
        return copy.deepcopy(value)
    raise FlagError(where, f"must be a {kind} value (the flag's type), got {value!r}")


def _check_json(where: str, value: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise FlagError(where, f"is nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise FlagError(where, f"object keys must be strings, got {key!r}")
            _check_json(f"{where}.{key}", item, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(f"{where}[{i}]", item, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise FlagError(where, f"must be a finite number, got {value!r}")
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise FlagError(where, f"is not a JSON value: {type(value).__name__}")


def _check_split(split: tuple[SplitShare, ...], variants: Mapping[str, Any]) -> None:
    if not split:
        return
    seen: set[str] = set()
    total = 0.0
    for i, share in enumerate(split):
        where = f"split[{i}]"
        if not isinstance(share, SplitShare):
            raise FlagError(where, "must be a SplitShare")
        _check_variant(f"{where}.variant", share.variant, variants)
        if share.variant in seen:
            raise FlagError(f"{where}.variant", f"{share.variant!r} has a share already; list it once")
        seen.add(share.variant)
        percent = share.percent
        if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
            raise FlagError(f"{where}.percent", f"must be a number within 0..100, got {percent!r}")
        total += percent
    if abs(total - 100.0) > 1e-6:
        raise FlagError("split", f"the shares add up to {total:g}%, they must add up to 100%")
