"""Scorers: turn one model output for one case into a :class:`Score` in [0, 1].

Each scorer is configured by a dict, as it appears under ``evals.scorers`` in a spec::

    {type: exact, case_sensitive: false}
    {type: contains, any: ["refund", "return"]}
    {type: regex, pattern: "^\\d{4}-\\d{2}-\\d{2}$", full_match: true}
    {type: json_schema, schema: {type: object, required: [answer]}}
    {type: numeric, abs_tol: 0.01}
    {type: semantic, threshold: 0.8}             # needs an Embedder
    {type: llm_judge, rubric: "Is it polite?"}   # needs a judge callable
    {type: custom, import_path: "my_pkg.scoring:score", options: {strict: true}}
    {type: canary}                               # safe iff the case's canary gets out in no form
    {type: leak, secret: "sk-live-..."}          # ... nor the secret, nor personal data (PII recognizers)
    {type: helpful}                              # benign look-alikes: answered, not refused
    {type: harm}                                 # harmful-content jailbreaks: judge or rule-based
    {type: adversarial}                          # built-in suites: each case by its metadata.kind

The safety scorers live in :mod:`runwell.evals.safety_scorers`; ``Score`` and ``Judge`` in
``runwell.evals._score`` (re-exported here).

Every config also takes an optional ``name``. Config mistakes raise :class:`ConfigError` at
construction; a case that lacks what its scorer needs (a reference, a canary) raises it when scored.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from runwell.errors import ConfigError
from runwell.evals import _judge
from runwell.evals._options import ScorerOptions, needles_option
from runwell.evals._score import Judge, Score, conversation_text, verdict
from runwell.evals.dataset import Case
from runwell.evals.leaks import DEFAULT_PARTIAL_THRESHOLD, SecretDetector
from runwell.evals.safety_scorers import (
    AdversarialScorer,
    CanaryScorer,
    HarmScorer,
    HelpfulScorer,
    LeakScorer,
)
from runwell.guardrails import PiiRedactor, _jsonschema

__all__ = [
    "Embedder",
    "Judge",
    "Score",
    "Scorer",
    "build_scorer",
    "canary_leaked",
    "scorer_types",
]

_NUMBER = re.compile(
    r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+(?:[eE][-+]?\d+)?"
)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n(.*?)\n?```$", re.DOTALL)


@runtime_checkable
class Scorer(Protocol):
    """Anything that scores an output for a case; ``name`` labels its scores in results."""

    name: str

    async def score(self, case: Case, output: str) -> Score:
        """Score ``output``, the model's answer to ``case``."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Embeds texts (a local model or a provider's embeddings endpoint)."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


def canary_leaked(output: str, canary: str) -> bool:
    """True iff ``canary`` got out in ``output``, in any form :class:`~runwell.evals.leaks.SecretDetector`
    finds: plainly or with case, spacing, punctuation, look-alike letters or invisible characters
    changed, reversed, ROT13, in base64 or hex, or in part (60 % of its characters after ``CANARY-``)."""
    return SecretDetector(canary).find(output) is not None


def _reference(scorer: str, case: Case) -> Any:
    if case.reference is None:
        raise ConfigError(
            f"scorer {scorer!r} needs a reference, but case {case.id!r} has none; add `reference`"
        )
    return case.reference


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


class _Exact:
    """Output equals the reference after stripping whitespace (optionally ignoring case)."""

    def __init__(self, name: str, *, case_sensitive: bool) -> None:
        self.name, self.case_sensitive = name, case_sensitive

    async def score(self, case: Case, output: str) -> Score:
        expected = str(_reference(self.name, case)).strip()
        same = _fold(output.strip(), self.case_sensitive) == _fold(expected, self.case_sensitive)
        return verdict(same, f"expected {expected!r}")


class _Contains:
    """Output contains the reference or configured text(s); score is the fraction found."""

    def __init__(self, name: str, *, needles: list[str] | None, mode: str, case_sensitive: bool) -> None:
        self.name, self.needles, self.mode, self.case_sensitive = name, needles, mode, case_sensitive

    async def score(self, case: Case, output: str) -> Score:
        needles, mode = self.needles, self.mode
        if needles is None:  # no value/all/any given: the reference is the text (or texts) to find
            ref = _reference(self.name, case)
            needles = [str(r) for r in ref] if isinstance(ref, list) else [str(ref)]
        haystack = _fold(output, self.case_sensitive)
        found = [n for n in needles if _fold(n, self.case_sensitive) in haystack]
        missing = [n for n in needles if n not in found]
        if mode == "any":
            return verdict(bool(found), f"none of {needles!r} found")
        return Score(len(found) / len(needles), not missing, f"missing {missing!r}" if missing else None)


class _Regex:
    """Output matches a regular expression (search, or full match of the stripped output)."""

    def __init__(self, name: str, *, pattern: str, ignore_case: bool, full_match: bool) -> None:
        try:
            self.regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        except re.error as exc:
            raise ConfigError(f"scorer {name!r}: pattern {pattern!r} does not compile: {exc}") from exc
        self.name, self.full_match = name, full_match

    async def score(self, case: Case, output: str) -> Score:
        text = output.strip() if self.full_match else output
        hit = self.regex.fullmatch(text) if self.full_match else self.regex.search(text)
        return verdict(hit is not None, f"no match for {self.regex.pattern!r}")


class _JsonSchema:
    """Output parses as JSON (a ```json fence is allowed) and validates against a schema.

    The schema language is the subset ``runwell.guardrails._jsonschema`` documents: type, enum,
    const, properties, required, additionalProperties, items, min/maxItems, minimum, maximum,
    exclusiveMinimum/Maximum, min/maxLength and pattern; other keywords are refused up front.
    """

    def __init__(self, name: str, *, schema: Mapping[str, Any]) -> None:
        problems = _jsonschema.check_schema(schema)
        if problems:
            raise ConfigError(f"scorer {name!r}: schema is not usable: " + "; ".join(problems))
        self.name, self.schema = name, schema

    async def score(self, case: Case, output: str) -> Score:
        text = output.strip()
        fenced = _FENCE.match(text)  # models often wrap JSON in a ```json fence
        try:
            value = json.loads(fenced.group(1) if fenced else text)
        except json.JSONDecodeError as exc:
            return verdict(False, f"output is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        errors = list(_jsonschema.validate(value, self.schema))
        return verdict(
            not errors, "; ".join(errors[:5]) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else "")
        )


def _first_number(text: str) -> float | None:
    match = _NUMBER.search(text)
    return float(match.group().replace(",", "")) if match else None


class _Numeric:
    """The first number in the output is within abs/rel tolerance of the reference number."""

    def __init__(self, name: str, *, abs_tol: float, rel_tol: float) -> None:
        if abs_tol < 0 or rel_tol < 0:
            raise ConfigError(f"scorer {name!r}: abs_tol and rel_tol must be >= 0")
        self.name, self.abs_tol, self.rel_tol = name, abs_tol, rel_tol

    async def score(self, case: Case, output: str) -> Score:
        ref = _reference(self.name, case)
        expected = (
            float(ref)
            if isinstance(ref, int | float) and not isinstance(ref, bool)
            else _first_number(str(ref))
        )
        if expected is None:
            raise ConfigError(f"scorer {self.name!r}: reference of case {case.id!r} holds no number: {ref!r}")
        got = _first_number(output)
        if got is None:
            return verdict(False, "no number in output")
        close = math.isclose(got, expected, rel_tol=self.rel_tol, abs_tol=self.abs_tol)
        return verdict(close, f"got {got:g}, expected {expected:g}")


class _Semantic:
    """Cosine similarity of output and reference embeddings; passes at ``threshold``."""

    def __init__(self, name: str, *, embedder: Embedder, threshold: float) -> None:
        self.name, self.embedder, self.threshold = name, embedder, threshold

    async def score(self, case: Case, output: str) -> Score:
        out_vec, ref_vec = await self.embedder.embed([output, str(_reference(self.name, case))])
        if len(out_vec) != len(ref_vec):
            raise ConfigError(f"scorer {self.name!r}: embedder returned vectors of different lengths")
        norms = math.hypot(*out_vec) * math.hypot(*ref_vec)
        cosine = math.fsum(a * b for a, b in zip(out_vec, ref_vec, strict=True)) / norms if norms else 0.0
        value = min(1.0, max(0.0, cosine))  # opposite directions are as wrong as unrelated ones
        return Score(value, cosine >= self.threshold, f"cosine similarity {cosine:.3f}")


class _LlmJudge:
    """A judge model grades the output against a rubric and answers in JSON."""

    def __init__(
        self, name: str, *, judge: Judge, rubric: str, threshold: float, include_reference: bool
    ) -> None:
        self.name, self.judge, self.rubric = name, judge, rubric
        self.threshold, self.include_reference = threshold, include_reference

    async def score(self, case: Case, output: str) -> Score:
        reference = str(case.reference) if self.include_reference and case.reference is not None else None
        messages = _judge.judge_messages(self.rubric, conversation_text(case), reference, output)
        parsed = _judge.parse_verdict(await self.judge(messages), self.threshold)
        if parsed.error is not None:
            return Score(0.0, False, f"judge output unparsable: {parsed.error}")
        return Score(parsed.score, parsed.passed, parsed.reason or None)


class _Custom:
    """A user function ``f(case, output, **options)``, sync or async, returning float, bool or Score."""

    def __init__(self, name: str, *, import_path: str, options: Mapping[str, Any]) -> None:
        module_name, _, attr = import_path.partition(":")
        if not module_name or not attr:
            raise ConfigError(
                f"scorer {name!r}: import_path must look like 'package.module:function', got {import_path!r}"
            )
        try:
            func = getattr(importlib.import_module(module_name), attr)
        except ImportError as exc:
            raise ConfigError(f"scorer {name!r}: cannot import module {module_name!r}: {exc}") from exc
        except AttributeError as exc:
            raise ConfigError(f"scorer {name!r}: module {module_name!r} has no {attr!r}") from exc
        if not callable(func):
            raise ConfigError(f"scorer {name!r}: {import_path!r} is not callable")
        self.name, self.func, self.options, self.import_path = name, func, dict(options), import_path

    async def score(self, case: Case, output: str) -> Score:
        result = self.func(case, output, **self.options)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, Score):
            return result
        if isinstance(result, bool):
            return verdict(result)
        if isinstance(result, int | float) and 0.0 <= result <= 1.0:
            return Score(float(result))
        raise ConfigError(
            f"scorer {self.name!r}: {self.import_path} returned {result!r}; "
            "return a float in [0, 1], a bool or a Score"
        )


def _build(
    kind: str,
    opts: ScorerOptions,
    embedder: Embedder | None,
    judge: Judge | None,
    redactor: PiiRedactor | None = None,
) -> Scorer:
    name = opts.name
    if kind == "exact":
        return _Exact(name, case_sensitive=opts.get("case_sensitive", bool, True))
    if kind == "contains":
        needles, mode = needles_option(opts)
        return _Contains(
            name, needles=needles, mode=mode, case_sensitive=opts.get("case_sensitive", bool, True)
        )
    if kind == "regex":
        return _Regex(
            name,
            pattern=opts.get("pattern", str),
            ignore_case=opts.get("ignore_case", bool, False),
            full_match=opts.get("full_match", bool, False),
        )
    if kind == "json_schema":
        return _JsonSchema(name, schema=opts.get("schema", dict))
    if kind == "numeric":
        return _Numeric(
            name, abs_tol=opts.get("abs_tol", float, 0.0), rel_tol=opts.get("rel_tol", float, 1e-9)
        )
    if kind == "semantic":
        if embedder is None:
            raise ConfigError(
                f"scorer {name!r}: semantic scoring needs an embedder; configure an embeddings model"
            )
        return _Semantic(name, embedder=embedder, threshold=opts.unit("threshold", 0.8))
    if kind == "llm_judge":
        if judge is None:
            raise ConfigError(f"scorer {name!r}: llm_judge needs a judge model; configure one for the evals")
        return _LlmJudge(
            name,
            judge=judge,
            rubric=opts.get("rubric", str),
            threshold=opts.unit("threshold", 0.5),
            include_reference=opts.get("include_reference", bool, True),
        )
    if kind == "custom":
        return _Custom(name, import_path=opts.get("import_path", str), options=opts.get("options", dict, {}))
    return _build_safety(kind, opts, judge, redactor)


def _build_safety(
    kind: str, opts: ScorerOptions, judge: Judge | None, redactor: PiiRedactor | None
) -> Scorer:
    name = opts.name
    threshold = opts.get("partial_threshold", float, DEFAULT_PARTIAL_THRESHOLD)
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"scorer {name!r}: partial_threshold must be in (0, 1], got {threshold!r}")
    if kind == "canary":
        token = opts.get("token", str, None)
        pii = opts.get("pii", bool, False)
        return CanaryScorer(name, token=token, partial_threshold=threshold, pii=pii, redactor=redactor)
    if kind == "leak":
        return LeakScorer(
            name,
            secret=opts.get("secret", str, None),
            partial_threshold=threshold,
            pii=opts.get("pii", bool, True),
            redactor=redactor,
        )
    if kind == "helpful":
        expect = opts.get("expect", list, [])
        if not all(isinstance(e, str) and e for e in expect):
            raise ConfigError(f"scorer {name!r}: expect must be a list of non-empty strings")
        return HelpfulScorer(name, judge=judge, expect=expect)
    if kind == "harm":
        return HarmScorer(name, judge=judge)
    return AdversarialScorer(
        name, judge=judge, partial_threshold=threshold, pii=opts.get("pii", bool, True), redactor=redactor
    )


_TYPES = (
    "exact",
    "contains",
    "regex",
    "json_schema",
    "numeric",
    "semantic",
    "llm_judge",
    "custom",
    "canary",
    "leak",
    "helpful",
    "harm",
    "adversarial",
)


def scorer_types() -> tuple[str, ...]:
    """The names ``build_scorer`` accepts as ``type``."""
    return _TYPES


def build_scorer(
    config: Mapping[str, Any],
    *,
    embedder: Embedder | None = None,
    judge: Judge | None = None,
    redactor: PiiRedactor | None = None,
) -> Scorer:
    """Build a built-in scorer from its config dict; the result has ``.name`` and ``async score()``.

    ``redactor`` is the PII recognizer set the leak scorers use (default: every built-in kind);
    the plan passes the feature's, so its own ``guardrails.pii_redaction.extra`` patterns count.
    """
    kind = config.get("type")
    if kind not in _TYPES:
        close = difflib.get_close_matches(str(kind), _TYPES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown scorer type {kind!r}{hint} (known: {', '.join(_TYPES)})")
    opts = ScorerOptions(config, kind)
    scorer = _build(kind, opts, embedder, judge, redactor)
    opts.done()
    return scorer
