"""What got looser between two versions of a spec, read as plain YAML data (old versions may not
validate against today's models, so nothing here needs them to)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["Loosening", "loosenings", "parse"]

_INJECTION_STRENGTH = {"block": 3, "flag": 2, "log": 1}
_OUTPUT_PII_STRENGTH = {"block": 3, "redact": 3, "flag": 2, "off": 0}
_BUDGETS = (
    "daily_usd",
    "monthly_usd",
    "daily_tokens",
    "monthly_tokens",
    "requests_per_minute",
    "tokens_per_minute",
)


@dataclass(frozen=True, slots=True)
class Loosening:
    """One change that relaxed a guardrail: ``kind`` is guardrail, alert_silenced, threshold or budget."""

    kind: str
    what: str


def parse(text: str | None) -> dict[str, Any]:
    """The spec's data (``{}`` when it does not parse)."""
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _d(data: Any, *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _on(value: Any) -> bool:
    return value is not False and value is not None


def _injection(value: Any) -> int:
    if value is True:
        return _INJECTION_STRENGTH["block"]
    if isinstance(value, dict):
        return _INJECTION_STRENGTH.get(str(value.get("mode", "block")), 0)
    return 0


def _guardrails(old: dict[str, Any], new: dict[str, Any]) -> list[Loosening]:
    out = []
    a, b = _d(old, "guardrails") or {}, _d(new, "guardrails") or {}
    if _on(a.get("pii_redaction")) and not _on(b.get("pii_redaction")):
        out.append(Loosening("guardrail", "pii_redaction switched off"))
    if _injection(b.get("injection_check")) < _injection(a.get("injection_check")):
        out.append(Loosening("guardrail", "injection_check weakened"))
    pii_a = _OUTPUT_PII_STRENGTH.get(str(a.get("output_pii", "off")), 0)
    if _OUTPUT_PII_STRENGTH.get(str(b.get("output_pii", "off")), 0) < pii_a:
        out.append(
            Loosening("guardrail", f"output_pii {a.get('output_pii')} -> {b.get('output_pii', 'off')}")
        )
    limit_a, limit_b = a.get("max_input_chars"), b.get("max_input_chars")
    if isinstance(limit_a, int) and (limit_b is None or (isinstance(limit_b, int) and limit_b > limit_a)):
        out.append(Loosening("threshold", f"max_input_chars {limit_a} -> {limit_b}"))
    return out


def _alerts(old: dict[str, Any], new: dict[str, Any]) -> list[Loosening]:
    out = []
    before = {a.get("name"): a for a in _d(old, "alerts") or [] if isinstance(a, dict)}
    after = {a.get("name"): a for a in _d(new, "alerts") or [] if isinstance(a, dict)}
    for name, rule in before.items():
        now = after.get(name)
        if now is None:
            out.append(Loosening("alert_silenced", f"alert {name} removed"))
            continue
        if rule.get("severity") == "page" and now.get("severity", "ticket") != "page":
            out.append(Loosening("alert_silenced", f"alert {name} no longer pages"))
        t0, t1, op = rule.get("threshold"), now.get("threshold"), now.get("op")
        if isinstance(t0, int | float) and isinstance(t1, int | float) and op == rule.get("op"):
            looser = (op in (">", ">=") and t1 > t0) or (op in ("<", "<=") and t1 < t0)
            if looser:
                out.append(Loosening("threshold", f"alert {name} threshold {t0:g} -> {t1:g}"))
        if float(now.get("for_s") or 0) > float(rule.get("for_s") or 0):
            out.append(
                Loosening("threshold", f"alert {name} for_s {rule.get('for_s') or 0} -> {now.get('for_s')}")
            )
    return out


def _gate(old: dict[str, Any], new: dict[str, Any]) -> list[Loosening]:
    out = []
    a, b = _d(old, "evals", "gate") or {}, _d(new, "evals", "gate") or {}
    if isinstance(a.get("floor"), int | float) and float(b.get("floor") or 0) < a["floor"]:
        out.append(Loosening("threshold", f"eval gate floor {a['floor']:g} -> {b.get('floor') or 0:g}"))
    tol_a, tol_b = a.get("tolerance"), b.get("tolerance")
    if isinstance(tol_a, int | float) and isinstance(tol_b, int | float) and tol_b > tol_a:
        out.append(Loosening("threshold", f"eval gate tolerance {tol_a:g} -> {tol_b:g}"))
    return out


def _budgets(old: dict[str, Any], new: dict[str, Any]) -> list[Loosening]:
    out = []
    a, b = _d(old, "budgets") or {}, _d(new, "budgets") or {}
    for name in _BUDGETS:
        x, y = a.get(name), b.get(name)
        if isinstance(x, int | float) and (y is None or (isinstance(y, int | float) and y > x)):
            out.append(Loosening("budget", f"budgets.{name} {x:g} -> {'none' if y is None else f'{y:g}'}"))
    return out


def loosenings(old: dict[str, Any], new: dict[str, Any]) -> list[Loosening]:
    """Everything ``new`` relaxed compared with ``old``."""
    return [*_guardrails(old, new), *_alerts(old, new), *_gate(old, new), *_budgets(old, new)]
