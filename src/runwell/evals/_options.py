"""Typed reading of one scorer config dict, refusing options nobody read (typos surface)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runwell.errors import ConfigError

__all__ = ["ScorerOptions", "needles_option"]

_MISSING: Any = object()


class ScorerOptions:
    """Reads one scorer config, type-checking each key and refusing keys nobody read."""

    def __init__(self, config: Mapping[str, Any], kind: str) -> None:
        self.kind, self.left = kind, {k: v for k, v in config.items() if k != "type"}
        self.allowed = ["type"]
        self.name: str = self.get("name", str, kind)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        """The value of ``key`` checked against ``kind``; required when no default is given."""
        self.allowed.append(key)
        if key not in self.left:
            if default is _MISSING:
                raise ConfigError(f"scorer {self.kind!r}: missing required option {key!r}")
            return default
        value = self.left.pop(key)
        # YAML gives 1 for 1.0; but a bool is never a number here, though Python says it is an int.
        numeric = kind is float and isinstance(value, int) and not isinstance(value, bool)
        wrong_bool = isinstance(value, bool) and kind is not bool
        if wrong_bool or not (isinstance(value, kind) or numeric):
            wanted = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise ConfigError(f"scorer {self.kind!r}: option {key!r} must be {wanted}, got {value!r}")
        return float(value) if numeric else value

    def unit(self, key: str, default: float) -> float:
        """A number in [0, 1], such as a threshold."""
        value: float = self.get(key, float, default)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"scorer {self.kind!r}: option {key!r} must be in [0, 1], got {value!r}")
        return value

    def done(self) -> None:
        """Refuse any key no ``get`` asked for: a typo must not silently keep a default."""
        if self.left:
            raise ConfigError(
                f"scorer {self.kind!r}: unknown option(s) {', '.join(map(repr, self.left))}; "
                f"allowed: {', '.join(self.allowed)}"
            )


def needles_option(opts: ScorerOptions) -> tuple[list[str] | None, str]:
    """The ``value``/``all``/``any`` option of ``contains``: (texts or None for the reference, mode)."""
    given = {k: opts.get(k, (str, list), None) for k in ("value", "all", "any")}
    chosen = [(k, v) for k, v in given.items() if v is not None]
    if len(chosen) > 1:
        raise ConfigError(
            f"scorer {opts.name!r}: give one of value/all/any, not {'/'.join(k for k, _ in chosen)}"
        )
    if not chosen:
        return None, "all"
    key, value = chosen[0]
    needles = [value] if isinstance(value, str) else value
    if not needles or not all(isinstance(n, str) and n for n in needles):
        raise ConfigError(f"scorer {opts.name!r}: {key!r} must be a non-empty string or list of strings")
    return needles, "any" if key == "any" else "all"
