"""Feature flags, evaluated the OpenFeature way: typed, never raising, with a reason for each answer.

A flag is a JSON definition stored under its key (a ``flag`` lever, changed by operators)::

    {"type": "boolean", "variants": {"on": true, "off": false}, "default_variant": "on",
     "targeting": [{"variant": "off", "keys": ["user-7"]}],
     "split": [{"variant": "on", "percent": 25}, {"variant": "off", "percent": 75}]}

Resolving ``(key, default, context)`` gives a :class:`Resolution` (value, variant, reason, error):

==================  ==============================================================================
reason              when
==================  ==============================================================================
``DISABLED``        the flag has ``"enabled": false``: the caller's default
``TARGETING_MATCH`` a targeting rule lists the context's key (first matching rule wins)
``SPLIT``           the percentage split chose the variant from the targeting key's bucket
``STATIC``          the flag has neither rules nor split: its default variant
``DEFAULT``         rules or a split exist but none applied: the flag's default variant
``ERROR``           unknown flag, wrong type, invalid definition, split without a targeting key:
                    the caller's default, with ``error_code`` and ``error_message``
==================  ==============================================================================

The split hashes ``(salt, targeting key)`` as :func:`runwell.rollout.bucket` does (the rollouts'
hash), so a user keeps their variant, and growing the first share only ever adds users to it
(monotone buckets). The salt defaults to ``flag/<key>``: two flags split users independently.

The evaluation context merges global (:class:`Flags`), client (:class:`FlagClient`) and
invocation contexts, later ones winning, as OpenFeature does.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from runwell.control._flag_model import (
    _SCALE,
    _TARGETING_KEY,
    PIN_SUFFIX,
    TRAFFIC_SUFFIX,
    ErrorCode,
    EvaluationContext,
    FlagDefinition,
    FlagError,
    FlagType,
    Reason,
    Resolution,
    SplitShare,
    TargetingRule,
)

__all__ = [
    "PIN_SUFFIX",
    "TRAFFIC_SUFFIX",
    "ErrorCode",
    "EvaluationContext",
    "FlagClient",
    "FlagDefinition",
    "FlagError",
    "FlagType",
    "Flags",
    "Reason",
    "Resolution",
    "SplitShare",
    "TargetingRule",
    "pin_flag",
    "pinned_variant",
    "served",
    "traffic_flag",
]

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------
# Evaluation


class _Entry:
    """A flag compiled for the request path: dict look-ups, one hash, prebuilt answers."""

    __slots__ = (
        "by_key",
        "copies",
        "default",
        "definition",
        "enabled",
        "hasher",
        "kind",
        "matches",
        "rules",
        "shares",
        "static",
    )

    def __init__(self, key: str, definition: FlagDefinition) -> None:
        self.definition = definition
        self.kind = definition.type
        self.enabled = definition.enabled
        self.copies = definition.type == "object"  # answers hand out copies of mutable values
        variants = definition.variants
        fallback = definition.default_variant
        self.static: Resolution[Any] | None = None
        if not definition.targeting and not definition.split:
            self.static = Resolution(variants[fallback], fallback, Reason.STATIC)
        self.default = Resolution(variants[fallback], fallback, Reason.DEFAULT)
        self.matches = {
            name: Resolution(value, name, Reason.TARGETING_MATCH) for name, value in variants.items()
        }
        self.by_key: dict[str, Resolution[Any]] | None = None
        self.rules: tuple[tuple[str, frozenset[str], Resolution[Any]], ...] = ()
        if all(rule.attribute == _TARGETING_KEY for rule in definition.targeting):
            by_key: dict[str, Resolution[Any]] = {}
            for rule in definition.targeting:
                for target in rule.keys:
                    by_key.setdefault(target, self.matches[rule.variant])  # the first rule wins
            self.by_key = by_key
        else:
            self.rules = tuple(
                (r.attribute, frozenset(r.keys), self.matches[r.variant]) for r in definition.targeting
            )
        # runwell.rollout.bucket's hash with the salt's part hashed once: the same points, half
        # the work per call (tests hold the two equal).
        salt = definition.salt or f"flag/{key}"
        self.hasher = hashlib.blake2b(f"{len(salt)}:{salt}:".encode(), digest_size=8)
        upper = 0.0
        shares: list[tuple[float, Resolution[Any]]] = []
        for share in definition.split:
            upper += share.percent
            shares.append((upper, Resolution(variants[share.variant], share.variant, Reason.SPLIT)))
        if shares:  # rounding must not leave a sliver of buckets outside every share
            shares[-1] = (math.inf, shares[-1][1])
        self.shares = tuple(shares)

    def point(self, targeting_key: str) -> float:
        """The key's bucket in [0, 100), equal to ``bucket(targeting_key, salt)``."""
        hasher = self.hasher.copy()
        hasher.update(targeting_key.encode())
        return int.from_bytes(hasher.digest(), "big") / _SCALE * 100.0

    def evaluate(
        self, key: str, default: Any, targeting_key: str | None, layers: tuple[EvaluationContext | None, ...]
    ) -> Resolution[Any]:
        if not self.enabled:
            return Resolution(default, None, Reason.DISABLED)
        answer = self.static
        if answer is None:
            if self.by_key is not None:
                if targeting_key is not None:
                    answer = self.by_key.get(targeting_key)
            else:
                for attribute, keys, match in self.rules:
                    value = targeting_key if attribute == _TARGETING_KEY else _lookup(layers, attribute)
                    if isinstance(value, str) and value in keys:
                        answer = match
                        break
        if answer is None and self.shares:
            if targeting_key is None:
                return _error(
                    default,
                    ErrorCode.TARGETING_KEY_MISSING,
                    f"flag {key!r} splits by targeting key and the context has none; pass the user "
                    "id, or the request id for anonymous traffic",
                )
            point = self.point(targeting_key)
            for upper, share in self.shares:
                if point < upper:
                    answer = share
                    break
        if answer is None:
            answer = self.default
        if self.copies:
            return Resolution(copy.deepcopy(answer.value), answer.variant, answer.reason)
        return answer


def _lookup(layers: tuple[EvaluationContext | None, ...], name: str) -> Any:
    for layer in layers:
        if layer is not None and name in layer.attributes:
            return layer.attributes[name]
    return None


def _error(default: T, code: ErrorCode, message: str) -> Resolution[T]:
    return Resolution(default, None, Reason.ERROR, code, message)


class Flags:
    """The flags a process evaluates (OpenFeature's provider plus the global context).

    :meth:`replace` swaps the whole set at once, e.g. when the gateway's lever cache sees a new
    version; a definition that fails validation is kept as broken, so only that flag answers
    ``ERROR``/``PARSE_ERROR`` while the others keep working.
    """

    def __init__(
        self,
        definitions: Mapping[str, FlagDefinition | Mapping[str, Any]] | None = None,
        *,
        context: EvaluationContext | None = None,
    ) -> None:
        self._entries: dict[str, _Entry | str] = {}
        self.context = context or EvaluationContext()
        if definitions:
            self.replace(definitions)

    def replace(self, definitions: Mapping[str, FlagDefinition | Mapping[str, Any]]) -> dict[str, str]:
        """Evaluate ``definitions`` (key -> definition or its JSON form) from now on.

        Returns ``{key: problem}`` for each definition that failed validation.
        """
        entries: dict[str, _Entry | str] = {}
        problems: dict[str, str] = {}
        for key, raw in definitions.items():
            try:
                definition = raw if isinstance(raw, FlagDefinition) else FlagDefinition.from_dict(raw)
                entries[key] = _Entry(key, definition)
            except (ValueError, TypeError) as exc:  # stored data from outside: FlagError, or worse
                entries[key] = problems[key] = f"flag {key!r} has an invalid definition: {exc}"
        self._entries = entries
        return problems

    def definition(self, key: str) -> FlagDefinition | None:
        """The valid definition stored under ``key``, if any."""
        entry = self._entries.get(key)
        return entry.definition if isinstance(entry, _Entry) else None

    def client(self, context: EvaluationContext | None = None) -> FlagClient:
        """A client whose evaluations merge ``context`` over this object's global context."""
        return FlagClient(self, context)

    def _resolve(
        self,
        key: str,
        kind: FlagType,
        default: T,
        targeting_key: str | None,
        layers: tuple[EvaluationContext | None, ...],
    ) -> Resolution[T]:
        entry = self._entries.get(key)
        if entry is None:
            return _error(default, ErrorCode.FLAG_NOT_FOUND, f"no flag {key!r}; the default was used")
        if isinstance(entry, str):
            return _error(default, ErrorCode.PARSE_ERROR, entry)
        if entry.kind != kind:
            return _error(
                default, ErrorCode.TYPE_MISMATCH, f"flag {key!r} is a {entry.kind} flag, asked for {kind}"
            )
        return entry.evaluate(key, default, targeting_key, layers)


class FlagClient:
    """Typed flag evaluation (OpenFeature's client); every method returns a
    :class:`Resolution` and never raises."""

    __slots__ = ("_flags", "context")

    def __init__(self, flags: Flags, context: EvaluationContext | None = None) -> None:
        self._flags = flags
        self.context = context or EvaluationContext()

    def boolean(self, key: str, default: bool, context: EvaluationContext | None = None) -> Resolution[bool]:
        """Resolve a boolean flag."""
        return self._evaluate(key, "boolean", default, context, None)

    def string(self, key: str, default: str, context: EvaluationContext | None = None) -> Resolution[str]:
        """Resolve a string flag."""
        return self._evaluate(key, "string", default, context, None)

    def integer(self, key: str, default: int, context: EvaluationContext | None = None) -> Resolution[int]:
        """Resolve an integer flag."""
        return self._evaluate(key, "integer", default, context, None)

    def number(self, key: str, default: float, context: EvaluationContext | None = None) -> Resolution[float]:
        """Resolve a float flag."""
        return self._evaluate(key, "float", default, context, None)

    def object(self, key: str, default: Any, context: EvaluationContext | None = None) -> Resolution[Any]:
        """Resolve an object flag (a JSON object or list; the value returned is a copy)."""
        return self._evaluate(key, "object", default, context, None)

    def resolve(
        self, key: str, kind: FlagType, default: T, context: EvaluationContext | None = None
    ) -> Resolution[T]:
        """Resolve ``key`` as a ``kind`` flag for the merged global, client and ``context``."""
        return self._evaluate(key, kind, default, context, None)

    def _evaluate(
        self,
        key: str,
        kind: FlagType,
        default: T,
        context: EvaluationContext | None,
        targeting_key: str | None,
    ) -> Resolution[T]:
        # ``targeting_key`` is the helpers' shortcut for an invocation context holding only that.
        try:
            if targeting_key is None and context is not None:
                targeting_key = context.targeting_key
            if targeting_key is None:
                targeting_key = self.context.targeting_key
                if targeting_key is None:
                    targeting_key = self._flags.context.targeting_key
            layers = (context, self.context, self._flags.context)
            return self._flags._resolve(key, kind, default, targeting_key, layers)
        except Exception as exc:  # the OpenFeature contract: evaluation never raises
            return _error(default, ErrorCode.GENERAL, f"evaluating flag {key!r} failed: {exc!r}")


# ---------------------------------------------------------------------------------------------
# The two uses the gateway has


def traffic_flag(percent: float) -> FlagDefinition:
    """The ``<feature>.traffic`` flag serving ``percent`` (0..100) of targeting keys: ``true``
    for the share served, ``false`` for the rest (who get the feature's degradation answer).

    Raising the percentage only adds users to the served share (monotone buckets).
    """
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
        raise FlagError("percent", f"the served share must be within 0..100, got {percent!r}")
    return FlagDefinition(
        type="boolean",
        variants={"served": True, "shed": False},
        default_variant="served",
        split=(SplitShare("served", float(percent)), SplitShare("shed", 100.0 - float(percent))),
        description=f"serve {percent:g}% of users; the rest get the degradation answer",
    )


def served(client: FlagClient, feature: str, targeting_key: str | None) -> Resolution[bool]:
    """Whether this user (or request) of ``feature`` is served, per its ``.traffic`` flag.

    Fails open: no flag, or a broken one, serves (an error must not cut all traffic); the
    resolution's reason says which happened.
    """
    return client._evaluate(feature + TRAFFIC_SUFFIX, "boolean", True, None, targeting_key)


def pin_flag(
    current: FlagDefinition | Mapping[str, Any] | None,
    variant: str,
    users: Iterable[str],
    *,
    split: Sequence[tuple[str, float]] | None = None,
) -> FlagDefinition:
    """The ``<feature>.variant`` flag with ``users`` pinned to ``variant``, built on ``current``.

    A string flag whose values are variant names. A user is pinned to one variant only (pinning
    moves them); ``split``, when given, replaces the percentage split of the unpinned users.
    The flag's default variant means "not pinned" (see :func:`pinned_variant`); a disabled flag
    stays disabled.
    """
    base = FlagDefinition.from_dict(current) if isinstance(current, Mapping) else current
    if base is not None and base.type != "string":
        raise FlagError("type", f"a pin flag is a string flag, the current one is {base.type}")
    moved = list(dict.fromkeys(users))
    moving = set(moved)
    variants = dict(base.variants) if base is not None else {}
    variants.setdefault(variant, variant)
    rules: dict[str, list[str]] = {}
    for rule in base.targeting if base is not None else ():
        if rule.attribute != _TARGETING_KEY:
            raise FlagError("targeting", "a pin flag's rules match targeting keys only")
        rules.setdefault(rule.variant, []).extend(k for k in rule.keys if k not in moving)
    rules.setdefault(variant, []).extend(moved)
    shares = base.split if base is not None else ()
    if split is not None:
        for name, _ in split:
            variants.setdefault(name, name)
        shares = tuple(SplitShare(name, float(percent)) for name, percent in split)
    return FlagDefinition(
        type="string",
        variants=variants,
        default_variant=base.default_variant if base is not None else variant,
        enabled=base.enabled if base is not None else True,
        targeting=tuple(TargetingRule(name, tuple(keys)) for name, keys in rules.items() if keys),
        split=shares,
        salt=base.salt if base is not None else None,
        description=base.description if base is not None else "users pinned to variants",
    )


def pinned_variant(client: FlagClient, feature: str, targeting_key: str | None) -> str | None:
    """The variant ``feature``'s ``.variant`` flag pins this user to, or None when the flag has
    no say (no flag, disabled, an error, or its default variant): routing decides then."""
    resolution = client._evaluate(feature + PIN_SUFFIX, "string", "", None, targeting_key)
    if resolution.reason is Reason.TARGETING_MATCH or resolution.reason is Reason.SPLIT:
        return resolution.value or None
    return None
